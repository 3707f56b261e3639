"""Who hears of an engine event: dispatched on EventKind, the room always first."""

from __future__ import annotations

from typing import Any

import pytest

from epbot.domain.audience import Audience, AudienceKind, Urgency, audiences
from epbot.domain.incident import EventKind

ROOM = Audience(AudienceKind.ROOM, "7")
ANNOUNCE = Audience(AudienceKind.ANNOUNCE, "7")  # the announcement channel's stream


def person(ref: str, urgency: Urgency = Urgency.ROUTINE) -> Audience:
    return Audience(AudienceKind.PERSON, ref, urgency)


def channel(ref: str) -> Audience:
    return Audience(AudienceKind.CHANNEL, ref)


CASES: list[tuple[EventKind, dict[str, Any], list[Audience]]] = [
    (EventKind.PAGED, {"person": "U1"}, [ROOM, person("U1", Urgency.ACT)]),
    (EventKind.PAGED, {"person": None}, [ROOM]),
    (
        EventKind.APPROVAL_REQUESTED,
        {"approvers": ["U1", "U2", "U1"]},
        [ROOM, person("U1", Urgency.ACT), person("U2", Urgency.ACT)],
    ),
    (EventKind.BROADCAST, {"channels": ["C1", "C2"]}, [ROOM, channel("C1"), channel("C2")]),
    (
        EventKind.REPORT_SENT,
        {"people": ["U1"], "channels": ["C1"]},
        [ROOM, person("U1"), channel("C1")],
    ),
    (EventKind.FINAL_REPORT, {"people": ["U2"], "channels": []}, [ROOM, person("U2")]),
    (EventKind.RECEIPT_OVERDUE, {"channel": "C9"}, [ROOM, channel("C9")]),
    (EventKind.RECEIPT_OVERDUE, {}, [ROOM]),
    (EventKind.PROGRESS_REPORT_DUE, {"commander": "U3"}, [ROOM, person("U3", Urgency.ACT)]),
    (EventKind.PROGRESS_REPORT_DUE, {"commander": None}, [ROOM]),
    (EventKind.STEP_REMINDER, {"step": "s", "assignee": "U4"}, [ROOM, person("U4")]),
    (EventKind.STEP_REMINDER, {"step": "s", "assignee": None}, [ROOM]),
    (EventKind.STEP_OVERDUE, {"step": "s", "assignee": "U4"}, [ROOM]),  # the room's digest
    (EventKind.STEP_NUDGE, {"step": "s", "assignee": "U4"}, [ROOM]),
    (EventKind.STEP_DONE, {"person": "U1", "channels": ["C1"]}, [ROOM]),
    (EventKind.REFUSED, {}, [ROOM]),
    # What moves the stage or ends the incident changes its announcement.
    (EventKind.STATUS_CHANGED, {"from": "reported", "to": "initial_handling"}, [ROOM, ANNOUNCE]),
    (EventKind.RESOLVED, {}, [ROOM, ANNOUNCE]),
    (EventKind.CANCELLED, {"reason": "误报"}, [ROOM, ANNOUNCE]),
    (EventKind.DECLARED, {}, [ROOM]),  # its announcement comes with the channel
]


@pytest.mark.parametrize(("kind", "data", "expected"), CASES)
def test_audiences_of_each_kind(
    kind: EventKind, data: dict[str, Any], expected: list[Audience]
) -> None:
    assert audiences(7, kind, data) == expected


@pytest.mark.parametrize(("kind", "data", "expected"), CASES)
def test_a_kind_read_back_as_a_plain_string_routes_the_same(
    kind: EventKind, data: dict[str, Any], expected: list[Audience]
) -> None:
    """Rows written before the enum, or read back from JSON, carry the kind as a string."""
    assert audiences(7, str(kind.value), data) == expected


def test_lanes_round_trip_and_old_rows_fall_back_to_all() -> None:
    page = person("U1", Urgency.ACT)
    assert page.lane == "person:U1"
    assert Audience.of_lane(page.lane) == person("U1")
    assert Audience.of_lane("7") == Audience(AudienceKind.ALL, "7")
