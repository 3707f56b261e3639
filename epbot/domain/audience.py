"""Who hears of an engine event: the incident's room, a person, a unit's channel.

Each audience is one ordered stream (a *lane*) on the way out: what one conversation sees
stays in order, while different conversations are served in parallel, so a page to a
person never waits behind an incident channel's backlog. Audiences that a person must act
on (a page, an approval request) are urgent and go first.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum, StrEnum
from typing import Any

from epbot.domain.incident.events import EventKind


class AudienceKind(StrEnum):
    ROOM = "room"  # the incident channel (its card, checklists, thread) and announcements
    PERSON = "person"  # a direct message to one person (a matrix person ref)
    CHANNEL = "channel"  # a unit's (or another) channel outside the incident
    ALL = "all"  # rows written before lanes existed: every effect, in one pass
    # The incident's messages kept current in place (card, checklists, the DMs and notices
    # already posted, topic, announcement) and its invitations: work that orders nothing,
    # handed over by the room's stream once its posts are out, so no post waits for it.
    EDITS = "edits"
    # The incident in the announcement channel (its announcement, kept current, and its
    # closing summary): another conversation, so a stream of its own that waits for none
    # of the room's posts; its first row is handed over with the incident's channel.
    ANNOUNCE = "announce"


class Urgency(IntEnum):
    ROUTINE = 0
    ACT = 10  # somebody must act on it: a page, an approval request


@dataclass(frozen=True)
class Audience:
    kind: AudienceKind
    target: str
    urgency: Urgency = Urgency.ROUTINE

    @property
    def lane(self) -> str:
        """The ordering key of this audience's stream: ``room:7``, ``person:U1``..."""
        return f"{self.kind.value}:{self.target}"

    @classmethod
    def of_lane(cls, lane: str) -> Audience:
        """Parse an ordering key back; anything else is a pre-lane row (:attr:`ALL`)."""
        kind, _, target = lane.partition(":")
        try:
            parsed = AudienceKind(kind)
        except ValueError:
            return cls(AudienceKind.ALL, lane)
        return cls(parsed, target)


# What the announcement channel follows: the stage, and the end (with its summary).
_ANNOUNCED = frozenset({EventKind.STATUS_CHANGED, EventKind.RESOLVED, EventKind.CANCELLED})


def audiences(
    incident_id: int, kind: EventKind, data: dict[str, Any], *, actor: str | None = None
) -> list[Audience]:
    """The audiences of one event, the incident's room first.

    The room hears of everything (thread line or deadlines digest, card); people hear of
    what asks them to act, by direct message (a page, an approval request, the reminders of
    their steps) and the confirmation of what they asked for themselves (a snooze, "I'm on
    it": ``actor``); unit channels hear of broadcasts. Later changes to a DM (a page
    acknowledged, an approval decided) are edits that the room's stream hands to the
    incident's edits lane (:attr:`AudienceKind.EDITS`) once its own posts are out. What
    moves the incident's status or ends it is news for the announcement channel too
    (:attr:`AudienceKind.ANNOUNCE`).
    """
    room = Audience(AudienceKind.ROOM, str(incident_id))
    found = [room]
    if kind in _ANNOUNCED:
        found.append(Audience(AudienceKind.ANNOUNCE, str(incident_id)))
    match kind:
        case EventKind.PAGED if data.get("person"):
            found.append(Audience(AudienceKind.PERSON, str(data["person"]), Urgency.ACT))
        case EventKind.APPROVAL_REQUESTED:
            for person in data.get("approvers") or ():
                found.append(Audience(AudienceKind.PERSON, str(person), Urgency.ACT))
        case EventKind.BROADCAST:
            for channel in data.get("channels") or ():
                found.append(Audience(AudienceKind.CHANNEL, str(channel)))
        case EventKind.REPORT_SENT | EventKind.FINAL_REPORT:  # 信息报告 / 续报 / 终报
            for person in data.get("people") or ():
                found.append(Audience(AudienceKind.PERSON, str(person)))
            for channel in data.get("channels") or ():
                found.append(Audience(AudienceKind.CHANNEL, str(channel)))
        case EventKind.RECEIPT_OVERDUE if data.get("channel"):  # a late 回执: nudge the unit
            found.append(Audience(AudienceKind.CHANNEL, str(data["channel"])))
        case EventKind.STEP_REMINDER if data.get("assignee"):  # one DM of their deadlines
            found.append(Audience(AudienceKind.PERSON, str(data["assignee"])))
        case EventKind.STEP_SNOOZED | EventKind.STEP_ON_IT if actor:  # the clicker's receipt
            found.append(Audience(AudienceKind.PERSON, str(actor)))
        case EventKind.PROGRESS_REPORT_DUE if data.get("commander"):
            found.append(Audience(AudienceKind.PERSON, str(data["commander"]), Urgency.ACT))
    return list(dict.fromkeys(found))
