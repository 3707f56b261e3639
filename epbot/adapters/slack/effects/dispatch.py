"""SlackEffects: one lane's rows, handed to the effects of its audience."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence

from epbot.adapters.slack.effects import channel, digest, people, reports, room
from epbot.adapters.slack.effects.common import EffectsBase, Event, HandOvers, Room, gather_all
from epbot.domain.audience import Audience, AudienceKind
from epbot.domain.incident import EventKind
from epbot.domain.playbook import StageId

RoomHandler = Callable[[EffectsBase, Room, Event], Awaitable[None]]
PersonHandler = Callable[[EffectsBase, Room, Event, str | None], Awaitable[None]]

# Room-side effects by event kind that post in the incident channel (beyond the thread
# line, which every event gets).
ROOM_HANDLERS: dict[EventKind, RoomHandler] = {
    EventKind.APPROVAL_REQUESTED: room.approval_requested,
}
# What the room's stream hands to the incident's edits lane: edits of messages already
# posted (a page DM acknowledged, an approval decided, a unit's notice confirmed, every
# page ended) and invitations. They order nothing, so no post of the room waits for them.
EDIT_HANDLERS: dict[EventKind, RoomHandler] = {
    EventKind.PAGED: room.page_room,
    EventKind.STEP_REASSIGNED: room.reassigned,
    EventKind.PAGE_ACKNOWLEDGED: people.on_page_changed,
    EventKind.PAGE_TIMED_OUT: people.on_page_changed,
    EventKind.APPROVAL_DECIDED: people.on_approval_changed,
    EventKind.APPROVAL_EXPIRED: people.on_approval_changed,
    EventKind.RECEIPT_CONFIRMED: reports.receipt_changed,
    EventKind.CANCELLED: reports.pages_end,
    EventKind.RESOLVED: reports.pages_end,
}
# Collect the people to invite before the invitations go out (one call a batch).
_INVITES = frozenset({EventKind.PAGED, EventKind.STEP_REASSIGNED})
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
    ) -> HandOvers:
        """Deliver consecutive rows of one lane (oldest first) for one incident; return what
        the room's rows hand to the incident's edits lane (nothing for any other lane).

        The room's card and checklists are refreshed once a batch, not once per row:
        several pending edits of one message go out as one.
        """
        loaded = await self.load(incident_id)
        kind = audience.kind
        if kind is AudienceKind.ROOM:
            return await self._to_room(loaded, rows, everyone=False)
        events = [event for _, event in rows]
        if kind is AudienceKind.ALL:  # a row from before lanes: all its effects at once
            handed = await self._to_room(loaded, rows, everyone=True)
            fresh = await self.load(incident_id)
            await self._edit(fresh, [handed[AudienceKind.EDITS]])
            await self._announce(fresh, events)
        elif kind is AudienceKind.EDITS:
            await self._edit(loaded, events)
        elif kind is AudienceKind.ANNOUNCE:
            await self._announce(loaded, events)
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
        return {}

    async def _to_room(
        self, loaded: Room, rows: Sequence[tuple[int, Event]], *, everyone: bool
    ) -> HandOvers:
        """The room's posts in order (channel, card, checklists, thread lines, digest,
        closing report); return the edits they leave to the edits lane."""
        await room.ensure_room(self, loaded)
        stages: set[StageId] = set()
        lines: list[room.Line] = []
        for row_id, event in rows:
            kind = _kind(event)
            handler = ROOM_HANDLERS.get(kind) if kind is not None else None
            if handler is not None:
                await room.post_lines(self, loaded, lines)  # what came before stays before
                await handler(self, loaded, event)
            if everyone:
                await self._to_people(loaded, event, None)
                await self._to_channel(loaded, event, None)
            line = await room.thread_line(self, loaded, row_id, event)
            if line is not None:
                lines.append(line)
            stages |= room.affected_stages(loaded, event)
        await room.post_lines(self, loaded, lines)
        events = [event for _, event in rows]
        await digest.post_digest(self, loaded, events)  # after the lines
        for end in [end for end in map(room.ending, events) if end is not None]:
            await room.closing_report(self, loaded, end)
        return {
            AudienceKind.EDITS: {
                "kind": "room_edits",
                "events": events,
                "stages": sorted(s.value for s in stages),
                "posted": sorted(loaded.posted),
                "version": loaded.row.version,
            }
        }

    async def _edit(self, loaded: Room, batch: Sequence[Event]) -> None:
        """The edits lane: every message the room's batches changed, brought up to date
        side by side (each message once), and the invitations in one call."""
        events = [e for edits in batch for e in edits.get("events") or ()]
        stages = {StageId(s) for edits in batch for s in edits.get("stages") or ()}
        # A message the room posted from the state that is still current needs no edit.
        current = {
            str(key)
            for edits in batch
            if edits.get("version") == loaded.row.version
            for key in edits.get("posted") or ()
        }
        edits_now: list[Awaitable[None]] = []
        for event in events:
            kind = _kind(event)
            handler = EDIT_HANDLERS.get(kind) if kind is not None else None
            if handler is None:
                continue
            if kind in _INVITES:
                await handler(self, loaded, event)  # collects; flush_invites sends
            else:
                edits_now.append(handler(self, loaded, event))
        await gather_all(
            [
                room.keep_channel(self, loaded),
                room.refresh(self, loaded, stages, current),
                room.flush_invites(self, loaded),
                digest.edit_digest(self, loaded, current),
                digest.refresh_reminders(self, loaded, events),
                *edits_now,
            ]
        )

    async def _announce(self, loaded: Room, events: Sequence[Event]) -> None:
        """The announcement lane: the announcement brought up to date, and the closing
        summary of every end among the events."""
        ends = [end for end in map(room.ending, events) if end is not None]
        await room.keep_announcement(self, loaded, ends)

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
