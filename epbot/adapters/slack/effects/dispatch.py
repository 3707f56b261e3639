"""SlackEffects: one lane's rows, handed to the effects of its audience."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence

from epbot.adapters.slack.effects import channel, digest, people, reports, room
from epbot.adapters.slack.effects.common import EffectsBase, Event, Room
from epbot.domain.audience import Audience, AudienceKind
from epbot.domain.incident import EventKind
from epbot.domain.playbook import StageId

RoomHandler = Callable[[EffectsBase, Room, Event], Awaitable[None]]
PersonHandler = Callable[[EffectsBase, Room, Event, str | None], Awaitable[None]]

# Room-side effects by event kind (beyond the thread line and the card, which every
# event gets); person-side effects post the DMs a person must act on.
ROOM_HANDLERS: dict[EventKind, RoomHandler] = {
    EventKind.PAGED: room.page_room,
    EventKind.PAGE_ACKNOWLEDGED: people.on_page_changed,
    EventKind.PAGE_TIMED_OUT: people.on_page_changed,
    EventKind.APPROVAL_REQUESTED: room.approval_requested,
    EventKind.APPROVAL_DECIDED: people.on_approval_changed,
    EventKind.APPROVAL_EXPIRED: people.on_approval_changed,
    EventKind.STEP_REASSIGNED: room.reassigned,
    EventKind.RECEIPT_CONFIRMED: reports.receipt_changed,
    EventKind.CANCELLED: reports.pages_end,
    EventKind.RESOLVED: reports.pages_end,
}
PERSON_HANDLERS: dict[EventKind, PersonHandler] = {
    EventKind.PAGED: people.page_dm,
    EventKind.APPROVAL_REQUESTED: people.approval_dm,
    EventKind.REPORT_SENT: reports.report_dm,
    EventKind.FINAL_REPORT: reports.report_dm,
    EventKind.PROGRESS_REPORT_DUE: reports.progress_prompt_dm,
    EventKind.STEP_REMINDER: people.reminder_dm,
    EventKind.STEP_SNOOZED: people.confirmation_dm,
    EventKind.STEP_ON_IT: people.confirmation_dm,
}
# Room-side effects that post in the incident channel themselves: the thread lines decided
# before them go out first, so the channel reads in the engine's order.
_POSTS_IN_CHANNEL = frozenset({EventKind.APPROVAL_REQUESTED})
# What a unit's channel is told (the plan's notices, reports to units, late 回执).
CHANNEL_KINDS = frozenset(
    {EventKind.BROADCAST, EventKind.RECEIPT_OVERDUE, *(EventKind(k) for k in reports.REPORT_KINDS)}
)
# Kinds that are on the timeline (and the reports) but deliberately say nothing in Slack.
NO_SLACK_EFFECT: frozenset[EventKind] = frozenset()


def _kind(event: Event) -> EventKind | None:
    """The row's event kind; None for one this version does not know (an older row)."""
    try:
        return EventKind(str(event.get("kind")))
    except ValueError:
        return None


class SlackEffects(EffectsBase):
    """Renders and sends what engine events mean in Slack (see the package docstring)."""

    async def deliver(
        self, incident_id: int, audience: Audience, rows: Sequence[tuple[int, Event]]
    ) -> None:
        """Deliver consecutive rows of one lane (oldest first) for one incident.

        The room's card and checklists are refreshed once at the end, not once per row:
        several pending edits of one message go out as one.
        """
        loaded = await self.load(incident_id)
        kind = audience.kind
        if kind in (AudienceKind.ROOM, AudienceKind.ALL):
            await self._to_room(loaded, rows, everyone=kind is AudienceKind.ALL)
        elif kind is AudienceKind.PERSON:
            reminders = False
            for _, event in rows:
                if event.get("kind") == "step_reminder":
                    reminders = True  # a batch's reminders reach the person as one DM
                else:
                    await self._to_people(loaded, event, audience.target)
            if reminders:
                await digest.reminder_dm(self, loaded, audience.target)
        elif kind is AudienceKind.CHANNEL:
            for _, event in rows:
                await self._to_channel(loaded, event, audience.target)

    async def _to_room(
        self, loaded: Room, rows: Sequence[tuple[int, Event]], *, everyone: bool
    ) -> None:
        await room.ensure_room(self, loaded)
        stages: set[StageId] = set()
        lines: list[room.Line] = []
        for row_id, event in rows:
            kind = _kind(event)
            handler = ROOM_HANDLERS.get(kind) if kind is not None else None
            if handler is not None:
                if event.get("kind") in _POSTS_IN_CHANNEL:
                    await room.post_lines(self, loaded, lines)  # what came before stays before
                await handler(self, loaded, event)
            if everyone:  # a row from before lanes: every audience's effects in the room's
                await self._to_people(loaded, event, None)
                await self._to_channel(loaded, event, None)
            line = await room.thread_line(self, loaded, row_id, event)
            if line is not None:
                lines.append(line)
            stages |= room.affected_stages(loaded, event)
        await room.post_lines(self, loaded, lines)
        events = [event for _, event in rows]
        await digest.refresh_digest(self, loaded, events)  # may post: after the lines
        # Edits and invites touch no message order: send them side by side.
        done = await asyncio.gather(
            room.refresh(self, loaded, stages),
            room.flush_invites(self, loaded),
            digest.refresh_reminders(self, loaded, events),
            return_exceptions=True,
        )
        for outcome in done:
            if isinstance(outcome, BaseException):
                raise outcome
        for _, event in rows:
            end = room.ending(event)
            if end is not None:
                await room.closing_report(self, loaded, end)

    async def _to_people(self, loaded: Room, event: Event, person: str | None) -> None:
        kind = _kind(event)
        handler = PERSON_HANDLERS.get(kind) if kind is not None else None
        if handler is not None:
            await handler(self, loaded, event, person)

    async def _to_channel(self, loaded: Room, event: Event, only: str | None) -> None:
        kind = event.get("kind")
        if kind == "broadcast":
            await channel.broadcast(self, loaded, event, only)
        elif kind in reports.REPORT_KINDS:
            await reports.report_post(self, loaded, event, only)
        elif kind == "receipt_overdue":
            await reports.receipt_nudge(self, loaded, event, only)
