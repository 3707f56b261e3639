"""Deadlines: pure functions of the playbook and the moments given to them."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from epbot.domain.deadlines import (
    Anchors,
    due_time,
    next_nudge,
    reminder_times,
)
from epbot.domain.playbook import Step

T0 = datetime(2026, 11, 24, 1, 0, tzinfo=UTC)
M = timedelta(minutes=1)


def step(**fields) -> Step:
    return Step.model_validate(
        {"id": "s", "title": {"zh-CN": "步", "en": "step"}, "role": "r", **fields}
    )


ANCHORS = Anchors(declared_at=T0, stage_started_at=T0 + 10 * M, step_done_at={"a": T0 + 20 * M})


@pytest.mark.parametrize(
    ("due", "anchors", "expected"),
    [
        (None, ANCHORS, None),
        ({"after": "15m", "from": "declared"}, ANCHORS, T0 + 15 * M),
        ({"after": "15m"}, ANCHORS, T0 + 25 * M),  # stage_start is the default
        ({"after": "1h", "from": "stage_start"}, ANCHORS, T0 + 70 * M),
        ({"after": "PT30M", "from": "step", "step": "a"}, ANCHORS, T0 + 50 * M),
        ({"after": "30m", "from": "step", "step": "b"}, ANCHORS, None),  # not done yet
        ({"after": "30m", "from": "stage_start"}, Anchors(T0, None, {}), None),
    ],
)
def test_due_time(due, anchors, expected) -> None:
    assert due_time(step(due=due), anchors) == expected


@pytest.mark.parametrize(
    ("before", "now", "expected"),
    [
        ([], T0, []),
        (["10m", "5m", "1m"], T0, [(10 * M, T0 + 5 * M), (5 * M, T0 + 10 * M), (M, T0 + 14 * M)]),
        (
            ["1m", "10m", "5m", "5m"],
            T0,
            [(10 * M, T0 + 5 * M), (5 * M, T0 + 10 * M), (M, T0 + 14 * M)],
        ),  # sorted, deduplicated
        (["10m", "5m", "1m"], T0 + 7 * M, [(5 * M, T0 + 10 * M), (M, T0 + 14 * M)]),
        (["10m", "5m"], T0 + 10 * M, []),  # a reminder at exactly now is already past
        (["20m"], T0, []),  # before the step even started
    ],
)
def test_reminder_times(before, now, expected) -> None:
    s = step(reminders={"before": before})
    assert reminder_times(s, T0 + 15 * M, now) == expected


@pytest.mark.parametrize(
    ("repeat", "expected"),
    [(None, None), ("2m", T0 + 2 * M), ("1h", T0 + 60 * M)],
)
def test_next_nudge(repeat, expected) -> None:
    assert next_nudge(step(reminders={"repeat": repeat}), T0) == expected
