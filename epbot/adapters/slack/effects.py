"""What each engine event means in Slack, for each of its audiences.

The worker (``delivery.py``) hands over rows of one lane: the incident's room (channel,
topic, pinned card, checklists, thread, announcement and the closing report), a person
(the page or approval request in their DM), or a unit's channel (a broadcast). Messages are
rendered from the incident's *current* state, so a late or retried delivery shows what is
true now. Every call that creates something is remembered in ``message_ref`` (or on the
incident row) before the next one, so a retried row never posts twice.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from epbot.adapters.db import models as m
from epbot.adapters.db import repository as repo
from epbot.adapters.db.engine import make_sessionmaker
from epbot.adapters.slack import receipt_render, render, report_effects
from epbot.adapters.slack.client import CallFailure, SlackClient
from epbot.domain.audience import Audience, AudienceKind
from epbot.domain.incident import IncidentState, ReportFields
from epbot.domain.playbook import STAGE_ORDER, StageId
from epbot.services.incidents import incident_number
from epbot.services.ports import Clock, PlaybookSource

log = logging.getLogger(__name__)

_NAME_SUFFIXES = 20
_ALL_STAGE_EVENTS = frozenset({"status_changed", "resolved", "cancelled", "approval_decided"})

Event = dict[str, Any]
LINES_PER_POST = 20  # thread lines of one batch that go out as one message
# Room-side effects that post in the incident channel themselves: the thread lines decided
# before them go out first, so the channel reads in the engine's order.
_POSTS_IN_CHANNEL = frozenset({"approval_requested"})


@dataclass(frozen=True)
class _Line:
    key: str  # the event's message ref
    thread: str | None
    text: str


@dataclass
class _Room:
    """What one delivery needs: the incident, its current state, report and message refs."""

    row: m.Incident
    state: IncidentState
    report: ReportFields
    refs: dict[str, m.MessageRef]
    number: str
    posted: set[str] = field(default_factory=set)  # refs posted by this batch, as rendered
    invites: set[str] = field(default_factory=set)  # users to invite at the end of the batch
    @property
    def id(self) -> int:
        assert self.row.id is not None
        return self.row.id


class SlackEffects:
    """Renders and sends what engine events mean in Slack (see the module docstring)."""

    def __init__(
        self,
        *,
        engine: AsyncEngine,
        client: SlackClient,
        playbooks: PlaybookSource,
        clock: Clock,
        locale: str,
        tz: ZoneInfo,
        incidents_channel: str | None = None,
    ) -> None:
        self._sessions = make_sessionmaker(engine)
        self.client = client
        self.playbooks = playbooks
        self.clock = clock
        self.locale = locale
        self.tz = tz
        self.incidents_channel = incidents_channel

    # --- one lane's rows ---------------------------------------------------------------

    async def deliver(
        self, incident_id: int, audience: Audience, rows: Sequence[tuple[int, Event]]
    ) -> None:
        """Deliver consecutive rows of one lane (oldest first) for one incident.

        The room's card and checklists are refreshed once at the end, not once per row:
        several pending edits of one message go out as one.
        """
        room = await self._room(incident_id)
        kind = audience.kind
        if kind in (AudienceKind.ROOM, AudienceKind.ALL):
            await self._ensure_room(room)
            stages: set[StageId] = set()
            lines: list[_Line] = []
            for row_id, event in rows:
                handler = self._ROOM_HANDLERS.get(str(event.get("kind")))
                if handler is not None:
                    if event.get("kind") in _POSTS_IN_CHANNEL:
                        await self._post_lines(room, lines)  # what came before stays before
                    await handler(self, room, event)
                if kind is AudienceKind.ALL:
                    await self._to_people(room, event, None)
                    await self._to_channel(room, event, None)
                line = await self._thread_line(room, row_id, event)
                if line is not None:
                    lines.append(line)
                stages |= self._affected_stages(room, event)
            await self._post_lines(room, lines)
            # Edits and invites touch no message order: send them side by side.
            done = await asyncio.gather(
                self._refresh(room, stages), self._flush_invites(room), return_exceptions=True
            )
            for outcome in done:
                if isinstance(outcome, BaseException):
                    raise outcome
            for _, event in rows:
                ending = _ending(event)
                if ending is not None:
                    await self._closing_report(room, ending)
        elif kind is AudienceKind.PERSON:
            for _, event in rows:
                await self._to_people(room, event, audience.target)
        elif kind is AudienceKind.CHANNEL:
            for _, event in rows:
                await self._to_channel(room, event, audience.target)

    async def _to_people(self, room: _Room, event: Event, person: str | None) -> None:
        handler = self._PERSON_HANDLERS.get(str(event.get("kind")))
        if handler is not None:
            await handler(self, room, event, person)

    async def _to_channel(self, room: _Room, event: Event, channel: str | None) -> None:
        if event.get("kind") == "broadcast":
            await self._broadcast(room, event, channel)
        elif event.get("kind") in report_effects.REPORT_KINDS:
            await report_effects.report_post(self, room, event, channel)
        elif event.get("kind") == "receipt_overdue":
            await report_effects.receipt_nudge(self, room, event, channel)

    # --- loading and remembering ---------------------------------------------------------

    async def _room(self, incident_id: int) -> _Room:
        async with self._sessions() as session:
            loaded = await repo.load(session, incident_id, self.playbooks.current.matrix)
            report_row = await repo.latest_report(session, incident_id)
            refs = await session.exec(
                select(m.MessageRef).where(col(m.MessageRef.incident_id) == incident_id)
            )
            row = loaded.row
            return _Room(
                row=row,
                state=loaded.state,
                report=_report_fields(report_row),
                refs={r.key: r for r in refs},
                number=incident_number(row.year, row.seq, row.drill),
            )

    async def _remember(self, room: _Room, key: str, channel: str, ts: str) -> None:
        ref = m.MessageRef(key=key, incident_id=room.id, channel=channel, ts=ts)
        async with self._sessions() as session, session.begin():
            await session.merge(ref)
        room.refs[key] = ref
        room.posted.add(key)

    async def _set_incident(self, room: _Room, **values: Any) -> None:
        async with self._sessions() as session, session.begin():
            await session.exec(
                sa.update(m.Incident).where(col(m.Incident.id) == room.id).values(**values)
            )
        for name, value in values.items():
            setattr(room.row, name, value)

    # --- rendering context -------------------------------------------------------------

    async def _ctx(self, room: _Room, locale: str | None = None) -> render.RenderContext:
        ids = await self._resolve_people(room.state)

        def mention(ref: str) -> str:
            return render.default_mention(ids.get(ref) or ref)

        return render.RenderContext(
            locale=locale or self.locale,
            tz=self.tz,
            now=self.clock.now(),
            number=room.number,
            channel_id=room.row.channel_id,
            mention=mention,
        )

    async def _resolve_people(self, state: IncidentState) -> dict[str, str]:
        refs = {p for role in state.matrix.roles for p in role.people if "@" in p}
        found: dict[str, str] = {}
        for ref in sorted(refs):
            user = await self.client.user_id(ref)
            if user is not None:
                found[ref] = user
        return found

    # --- expanding one event -----------------------------------------------------------

    async def _ensure_room(self, room: _Room) -> None:
        """Channel, pinned card, one checklist per started stage, topic, announcement.

        What people read and act on (card, checklists) comes first; the pin and the topic,
        whose methods have the tightest rate tier, come after.
        """
        if room.row.channel_id is None:
            await self._create_channel(room)
        channel = room.row.channel_id
        assert channel is not None
        ctx = await self._ctx(room)
        if room.row.card_ts is None:
            text, blocks = render.incident_card(room.state, room.report, ctx)
            posted = await self.client.post_message(channel, text, blocks)
            ts = str(posted["ts"])
            await self._set_incident(room, card_ts=ts)
            await self._remember(room, f"card:{room.id}", channel, ts)
        assert room.row.card_ts is not None
        for stage_id in _started_stages(room.state):
            key = f"checklist:{room.id}:{stage_id.value}"
            if key not in room.refs:
                text, blocks = render.stage_checklist(room.state, stage_id, ctx)
                posted = await self.client.post_message(channel, text, blocks)
                await self._remember(room, key, channel, str(posted["ts"]))
        if f"invite:{room.id}:reporter" not in room.refs:
            reporter = await self.client.user_id(room.state.reporter)
            if reporter is not None:
                room.invites.add(reporter)
        if f"pin:{room.id}" not in room.refs:
            await _best_effort(self.client.pin(channel, room.row.card_ts))
            await self._remember(room, f"pin:{room.id}", channel, room.row.card_ts)
        # The topic names the stage, so it is set again (once) whenever the status moves.
        topic_key = f"topic:{room.id}:{room.state.status.value}"
        if topic_key not in room.refs:
            await _best_effort(
                self.client.set_topic(channel, render.channel_topic(room.state, ctx))
            )
            await self._remember(room, topic_key, channel, "")
        announced = f"announce:{room.id}:{room.state.status.value}"
        if self.incidents_channel and f"announce:{room.id}" not in room.refs:
            text, _ = render.incident_card(room.state, room.report, ctx)
            link = f"<#{channel}>"
            posted = await _best_effort(
                self.client.post_message(self.incidents_channel, f"{text} → {link}")
            )
            ts = str(posted["ts"]) if posted else ""
            # chat.update needs the channel's id, which the post answers with.
            where = str(posted.get("channel") or self.incidents_channel) if posted else ""
            await self._remember(room, f"announce:{room.id}", where or self.incidents_channel, ts)
            await self._remember(room, announced, self.incidents_channel, "")
        # The announcement names the status: kept current in place (stage, resolved,
        # cancelled), once per status, like the topic.
        first = room.refs.get(f"announce:{room.id}")
        if first is not None and first.ts and announced not in room.refs:
            text, _ = render.incident_card(room.state, room.report, ctx)
            await _best_effort(
                self.client.update_message(first.channel, first.ts, f"{text} → <#{channel}>")
            )
            await self._remember(room, announced, first.channel, "")

    async def _create_channel(self, room: _Room) -> None:
        row = room.row
        base = render.channel_name(
            room.number,
            row.playbook_id,
            row.declared_at.astimezone(self.tz).date(),
            row.seq,
            row.drill,
        )
        for attempt in range(_NAME_SUFFIXES):
            name = base if attempt == 0 else f"{base[: 80 - 4]}-{attempt + 1}"
            try:
                channel = await self.client.create_channel(name)
            except CallFailure as exc:
                if exc.error == "name_taken":
                    continue
                raise
            await self._set_incident(room, channel_id=channel["id"], channel_name=name)
            return
        raise CallFailure("conversations.create", "name_taken", transient=False)

    async def _page_room(self, room: _Room, event: Event) -> None:
        """The paged person joins the incident channel (their DM is the person lane's)."""
        user = await self.client.user_id(str(event.get("data", {}).get("person")))
        if user is not None:
            await self._invite(room, user)

    async def _page_dm(self, room: _Room, event: Event, person: str | None) -> None:
        data = event.get("data", {})
        if person is not None and str(data.get("person")) != person:
            return
        page_key = str(data.get("page"))
        key = f"page:{room.id}:{page_key}"
        page = next((p for p in room.state.pages if p.key == page_key), None)
        user = await self.client.user_id(str(data.get("person")))
        if page is None or user is None:
            log.warning("incident %s: cannot reach %s for page %s", room.id, data, page_key)
            return
        if key in room.refs:
            return
        ctx = await self._ctx(room, await self.client.locale(user))
        link = f"<#{room.row.channel_id}>" if room.row.channel_id else None
        text, blocks = render.page_message(room.state, page, ctx, channel_link=link)
        posted = await _best_effort(self.client.post_message(user, text, blocks))
        if posted:
            await self._remember(room, key, str(posted["channel"]), str(posted["ts"]))
            await self._catch_up(room, lambda fresh: self._page_changed(fresh, page_key))

    async def _on_page_changed(self, room: _Room, event: Event) -> None:
        await self._page_changed(room, str(event.get("data", {}).get("page")))

    async def _page_changed(self, room: _Room, page_key: str) -> None:
        ref = room.refs.get(f"page:{room.id}:{page_key}")
        page = next((p for p in room.state.pages if p.key == page_key), None)
        if ref is None or page is None:
            return  # not posted yet: the person lane posts the current state
        user = page.person if "@" not in page.person else await self.client.user_id(page.person)
        ctx = await self._ctx(room, await self.client.locale(user) if user else None)
        link = f"<#{room.row.channel_id}>" if room.row.channel_id else None
        text, blocks = render.page_message(room.state, page, ctx, channel_link=link)
        await _best_effort(self.client.update_message(ref.channel, ref.ts, text, blocks))

    async def _catch_up(self, room: _Room, update: Callable[[_Room], Awaitable[None]]) -> None:
        """A DM was rendered from the state loaded before it was posted; if the incident
        moved on meanwhile (the room's stream could not edit a message not yet posted),
        edit it to what is true now, so no stale button stays live."""
        fresh = await self._room(room.id)
        if fresh.row.version != room.row.version:
            await update(fresh)

    async def _approval_dm(self, room: _Room, event: Event, person: str | None) -> None:
        data = event.get("data", {})
        key = str(data.get("approval"))
        approval = room.state.approvals.get(key)
        if approval is None:
            return
        people = [person] if person is not None else [str(p) for p in data.get("approvers") or ()]
        for each in people:
            user = await self.client.user_id(each)
            ref_key = f"approval:{room.id}:{key}:{user}"
            if user is None or ref_key in room.refs:
                continue
            ctx = await self._ctx(room, await self.client.locale(user))
            text, blocks = render.approval_message(room.state, approval, ctx)
            posted = await _best_effort(self.client.post_message(user, text, blocks))
            if posted:
                await self._remember(room, ref_key, str(posted["channel"]), str(posted["ts"]))
                await self._catch_up(room, lambda fresh: self._approval_changed(fresh, key))

    async def _on_approval_requested(self, room: _Room, event: Event) -> None:
        """The request's copy in the incident thread (the DMs are the person lanes')."""
        key = str(event.get("data", {}).get("approval"))
        approval = room.state.approvals.get(key)
        thread_key = f"approval:{room.id}:{key}:thread"
        if approval is None or thread_key in room.refs:
            return
        channel = room.row.channel_id
        assert channel is not None
        text, blocks = render.approval_message(room.state, approval, await self._ctx(room))
        posted = await self.client.post_message(channel, text, blocks, thread_ts=room.row.card_ts)
        await self._remember(room, thread_key, channel, str(posted["ts"]))

    async def _on_approval_changed(self, room: _Room, event: Event) -> None:
        await self._approval_changed(room, str(event.get("data", {}).get("approval")))

    async def _approval_changed(self, room: _Room, key: str) -> None:
        approval = room.state.approvals.get(key)
        if approval is None:
            return
        prefix = f"approval:{room.id}:{key}:"
        for ref_key, ref in sorted(room.refs.items()):
            if ref_key.startswith(prefix):
                user = ref_key.removeprefix(prefix)
                locale = None if user == "thread" else await self.client.locale(user)
                ctx = await self._ctx(room, locale)
                text, blocks = render.approval_message(room.state, approval, ctx)
                await _best_effort(self.client.update_message(ref.channel, ref.ts, text, blocks))

    async def _broadcast(self, room: _Room, event: Event, only: str | None) -> None:
        data = event.get("data", {})
        step = str(data.get("step"))
        ctx = await self._ctx(room)
        for channel in data.get("channels") or ():
            key = f"broadcast:{room.id}:{step}:{channel}"
            if key in room.refs or (only is not None and str(channel) != only):
                continue
            # The unit's responsible person and the receipt (回执) button, when asked for.
            text, blocks = receipt_render.broadcast_message(room.state, event, ctx, str(channel))
            posted = await _best_effort(self.client.post_message(str(channel), text, blocks))
            if posted:
                await self._remember(room, key, str(posted["channel"]), str(posted["ts"]))

    async def _on_reassigned(self, room: _Room, event: Event) -> None:
        """The new assignee joins the incident channel, so the thread line reaches them."""
        person = (event.get("data") or {}).get("to")
        user = await self.client.user_id(str(person)) if person else None
        if user is not None:
            await self._invite(room, user)

    async def _invite(self, room: _Room, user: str) -> None:
        """Invite ``user`` with the rest of this batch's invitees (one call a batch:
        ``conversations.invite`` takes many users, and its tier is tight)."""
        if f"invite:{room.id}:{user}" not in room.refs:
            room.invites.add(user)

    async def _flush_invites(self, room: _Room) -> None:
        channel = room.row.channel_id
        reporter = await self.client.user_id(room.state.reporter)
        users = sorted(u for u in room.invites if f"invite:{room.id}:{u}" not in room.refs)
        if channel is None or not users:
            return
        await _best_effort(self.client.invite(channel, users))
        for user in users:
            key = "reporter" if user == reporter else user
            await self._remember(room, f"invite:{room.id}:{key}", channel, "")
            if key == "reporter":
                await self._remember(room, f"invite:{room.id}:{user}", channel, "")
        room.invites.clear()

    # Room-side effects by event kind (beyond the thread line and the card, which every
    # event gets); person-side effects post the DMs a person must act on.
    _ROOM_HANDLERS: dict[str, Callable[[SlackEffects, _Room, Event], Awaitable[None]]] = {
        "paged": _page_room,
        "page_acknowledged": _on_page_changed,
        "page_timed_out": _on_page_changed,
        "approval_requested": _on_approval_requested,
        "approval_decided": _on_approval_changed,
        "approval_expired": _on_approval_changed,
        "step_reassigned": _on_reassigned,
        "receipt_confirmed": report_effects.receipt_changed,
        "cancelled": report_effects.pages_end,
        "resolved": report_effects.pages_end,
    }
    _PERSON_HANDLERS: dict[
        str, Callable[[SlackEffects, _Room, Event, str | None], Awaitable[None]]
    ] = {
        "paged": _page_dm,
        "approval_requested": _approval_dm,
        "report_sent": report_effects.report_dm,
        "final_report": report_effects.report_dm,
        "progress_report_due": report_effects.progress_prompt_dm,
    }

    async def _thread_line(self, room: _Room, row_id: int, event: Event) -> _Line | None:
        """The line an event adds to its thread, unless it has none or is already posted."""
        key = f"event:{room.id}:{row_id}"
        if key in room.refs:
            return None
        text = render.event_text(room.state, event, await self._ctx(room))
        if not text:
            return None
        return _Line(key, self._thread_of(room, event), text)

    async def _post_lines(self, room: _Room, lines: list[_Line]) -> None:
        """Post the batch's thread lines, one message per thread (in the order the threads
        first appear, each thread's lines in order), up to ``LINES_PER_POST`` a message.

        Slack allows about one message a second in a channel: a line per event made a
        busy incident's channel both slow and a wall to read. Every line's key is
        remembered with the message it went out in, so a retry posts none of them again.
        """
        channel = room.row.channel_id
        assert channel is not None
        threads: dict[str | None, list[_Line]] = {}
        for line in lines:
            threads.setdefault(line.thread, []).append(line)
        lines.clear()
        for thread, group in threads.items():
            for start in range(0, len(group), LINES_PER_POST):
                chunk = group[start : start + LINES_PER_POST]
                text = "\n".join(line.text for line in chunk)
                posted = await self.client.post_message(channel, text, thread_ts=thread)
                for line in chunk:
                    await self._remember(room, line.key, channel, str(posted["ts"]))

    async def _closing_report(self, room: _Room, ending: str) -> None:
        """The closing report in the incident channel; a one-line summary in the announcement
        channel. Each is remembered, so a retried row posts neither twice."""
        channel = room.row.channel_id
        assert channel is not None
        ctx = await self._ctx(room)
        key = f"closing:{room.id}:{ending}"
        if key not in room.refs:
            async with self._sessions() as session:
                entries = await repo.timeline(session, room.id)
            timeline = [
                {"kind": e.kind, "actor": e.actor, "at": e.at, "data": json.loads(e.payload)}
                for e in entries
            ]
            text, blocks = render.closing_report_message(room.state, room.report, timeline, ctx)
            posted = await self.client.post_message(channel, text, blocks)
            await self._remember(room, key, channel, str(posted["ts"]))
        announce = f"{key}:announce"
        if self.incidents_channel and announce not in room.refs:
            text = render.closing_summary(room.state, room.report, ctx)
            posted = await _best_effort(self.client.post_message(self.incidents_channel, text))
            where = str(posted["channel"]) if posted else self.incidents_channel
            await self._remember(room, announce, where, str(posted["ts"]) if posted else "")

    def _thread_of(self, room: _Room, event: dict[str, Any]) -> str | None:
        step = event.get("data", {}).get("step")
        if isinstance(step, str) and step in room.state.steps:
            stage = room.state.steps[step].stage_id
            ref = room.refs.get(f"checklist:{room.id}:{stage.value}")
            if ref is not None:
                return ref.ts
        return room.row.card_ts

    def _affected_stages(self, room: _Room, event: Event) -> set[StageId]:
        if str(event.get("kind")) in _ALL_STAGE_EVENTS or event.get("kind") == "declared":
            return set(_started_stages(room.state))
        step = event.get("data", {}).get("step")
        if isinstance(step, str) and step in room.state.steps:
            return {room.state.steps[step].stage_id}
        return set()

    async def _refresh(self, room: _Room, stages: set[StageId]) -> None:
        """Bring the pinned card and the affected checklists up to date (once a batch)."""
        channel = room.row.channel_id
        assert channel is not None
        assert room.row.card_ts is not None
        fresh = await self._room(room.id)  # what is true now, after this batch's posts
        # A message this batch posted from the same version is already current.
        current = room.posted if fresh.row.version == room.row.version else set()
        ctx = await self._ctx(fresh)
        if f"card:{room.id}" not in current:
            text, blocks = render.incident_card(fresh.state, fresh.report, ctx)
            await self.client.update_message(channel, room.row.card_ts, text, blocks)
        for stage_id in [s for s in STAGE_ORDER if s in stages]:
            key = f"checklist:{room.id}:{stage_id.value}"
            ref = fresh.refs.get(key)
            if ref is not None and key not in current:
                text, blocks = render.stage_checklist(fresh.state, stage_id, ctx)
                await self.client.update_message(ref.channel, ref.ts, text, blocks)


def _ending(event: dict[str, Any]) -> str | None:
    """``resolved`` / ``cancelled`` / ``closed`` when the event ends the incident, else None."""
    kind = event.get("kind")
    if kind in ("resolved", "cancelled"):
        return str(kind)
    if kind == "status_changed" and (event.get("data") or {}).get("to") == "closed":
        return "closed"
    return None


def _started_stages(state: IncidentState) -> list[StageId]:
    return [s for s in STAGE_ORDER if s in state.stages and state.playbook.stage(s) is not None]


def _report_fields(row: m.Report) -> ReportFields:
    return ReportFields(
        occurred_at=row.occurred_at,
        place=row.place,
        nature=row.nature,
        scope=row.scope,
        trend=row.trend,
        measures=row.measures,
        unit_id=row.unit_id,
        contact_phone=row.contact_phone,
        title=row.title,
    )


async def _best_effort(call: Awaitable[Any]) -> Any:
    """Run a call whose permanent failure (unknown user, missing channel) must not block
    the incident's other messages; transient failures still propagate and are retried."""
    try:
        return await call
    except CallFailure as exc:
        if exc.transient:
            raise
        log.warning("Slack refused a best-effort call: %s", exc)
        return None


async def session_refs(session: AsyncSession, incident_id: int) -> dict[str, m.MessageRef]:
    """Every message ref of an incident (for tests and the home tab)."""
    rows = await session.exec(
        select(m.MessageRef).where(col(m.MessageRef.incident_id) == incident_id)
    )
    return {r.key: r for r in rows}
