"""The notifier: delivers the outbox (engine events) to Slack, in order per incident.

Each pending row is one engine event. It is expanded into Web API calls rendered by
``render.py``; every call that creates something is remembered in ``message_ref`` (or on
the incident row) before the next one, so a retried row never posts twice. A row that
fails transiently (429, 5xx, timeout) stays pending with a backoff and blocks the rows
after it for the same incident, so messages arrive in the order the engine decided them.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import json
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from epbot.adapters.db import models as m
from epbot.adapters.db import repository as repo
from epbot.adapters.db.engine import make_sessionmaker
from epbot.adapters.slack import render
from epbot.adapters.slack.client import CallFailure, SlackClient
from epbot.domain.incident import IncidentState, ReportFields
from epbot.domain.playbook import STAGE_ORDER, StageId
from epbot.logs import log_context
from epbot.services.incidents import incident_number
from epbot.services.ports import Clock, PlaybookSource

log = logging.getLogger(__name__)

LEASE = timedelta(seconds=60)  # how long a claimed row is ours before another worker may try
MAX_BACKOFF = timedelta(minutes=5)
MAX_PERMANENT_ATTEMPTS = 5  # a permanent error (bad request) is given up after this many
_NAME_SUFFIXES = 20
_ALL_STAGE_EVENTS = frozenset({"status_changed", "resolved", "cancelled", "approval_decided"})


@dataclass
class _Room:
    """What one delivery needs: the incident, its current state, report and message refs."""

    row: m.Incident
    state: IncidentState
    report: ReportFields
    refs: dict[str, m.MessageRef]
    number: str

    @property
    def id(self) -> int:
        assert self.row.id is not None
        return self.row.id


class Delivery:
    """Outbox worker: ``drain()`` delivers what is due; ``kick()`` schedules a drain."""

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
        self._lock = asyncio.Lock()
        self._task: asyncio.Task[None] | None = None
        self._again = False
        self._poller: asyncio.Task[None] | None = None

    # --- scheduling --------------------------------------------------------------------

    def kick(self) -> None:
        """Drain soon, in the background (called by handlers after a service call)."""
        if self._task is not None and not self._task.done():
            self._again = True
            return
        # A fresh context: delivery is not part of the request that kicked it (its log
        # fields, such as the Slack request id, must not stick to later deliveries).
        self._task = asyncio.get_running_loop().create_task(
            self._drain_until_quiet(), context=contextvars.Context()
        )

    async def _drain_until_quiet(self) -> None:
        while True:
            self._again = False
            try:
                await self.drain()
            except Exception:  # the periodic poll retries; never kill the loop
                log.exception("outbox drain failed")
            if not self._again:
                return

    async def wait_idle(self) -> None:
        """Wait until a kicked drain has finished (tests, shutdown)."""
        while self._task is not None and not self._task.done():
            await asyncio.shield(self._task)

    def start(self, interval: float = 5.0) -> None:
        """Drain periodically: rows due for a retry go out without anyone clicking."""

        async def poll() -> None:
            while True:
                await asyncio.sleep(interval)
                self.kick()

        self._poller = asyncio.get_running_loop().create_task(poll())

    async def stop(self) -> None:
        for task in (self._poller, self._task):
            if task is not None and not task.done():
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task

    # --- the outbox --------------------------------------------------------------------

    async def drain(self) -> int:
        """Deliver every row that is due now, oldest first per incident; return rows sent."""
        sent = 0
        async with self._lock:
            while True:
                heads = await self._due_heads()
                if not heads:
                    return sent
                progressed = False
                for head in heads:
                    if await self._deliver(head):
                        sent += 1
                        progressed = True
                if not progressed:
                    return sent

    async def _due_heads(self) -> list[m.OutboxMessage]:
        """The oldest pending row of each ordering key, if it is due."""
        now = self.clock.now()
        async with self._sessions() as session:
            rows = await session.exec(
                select(m.OutboxMessage)
                .where(col(m.OutboxMessage.status) == "pending")
                .order_by(col(m.OutboxMessage.id))
                .limit(1000)
            )
            heads: dict[str, m.OutboxMessage] = {}
            for row in rows:
                heads.setdefault(row.ordering_key, row)
        return [r for r in heads.values() if r.next_attempt_at <= now]

    async def _claim(self, row: m.OutboxMessage) -> datetime | None:
        """Take a lease on the row, so another worker leaves it alone while we send.

        The lease is the row's ``next_attempt_at`` moved ahead; its value is our token.
        """
        now = self.clock.now()
        until = now + LEASE
        async with self._sessions() as session, session.begin():
            result = await session.exec(
                sa.update(m.OutboxMessage)
                .where(
                    col(m.OutboxMessage.id) == row.id,
                    col(m.OutboxMessage.status) == "pending",
                    col(m.OutboxMessage.next_attempt_at) <= now,
                )
                .values(next_attempt_at=until)
            )
            return until if result.rowcount == 1 else None

    async def _keep_lease(self, row_id: int, until: datetime) -> None:
        """Renew the lease while a slow delivery runs (many calls, each up to its timeout).

        A worker that dies stops renewing, so its row is free again within one ``LEASE``;
        one that finds another token (it lost the lease) stops renewing.
        """
        while True:
            await asyncio.sleep(LEASE.total_seconds() / 4)
            renewed = self.clock.now() + LEASE
            async with self._sessions() as session, session.begin():
                result = await session.exec(
                    sa.update(m.OutboxMessage)
                    .where(
                        col(m.OutboxMessage.id) == row_id,
                        col(m.OutboxMessage.status) == "pending",
                        col(m.OutboxMessage.next_attempt_at) == until,
                    )
                    .values(next_attempt_at=renewed)
                )
            if result.rowcount != 1:
                log.warning("outbox row %s: lease lost while delivering", row_id)
                return
            until = renewed

    async def _deliver(self, row: m.OutboxMessage) -> bool:
        with log_context(incident_id=row.incident_id):
            return await self._deliver_row(row)

    async def _deliver_row(self, row: m.OutboxMessage) -> bool:
        until = await self._claim(row)
        if until is None:
            return False
        assert row.id is not None
        event: dict[str, Any] = json.loads(row.payload)
        lease = asyncio.create_task(self._keep_lease(row.id, until))
        try:
            if row.incident_id is not None:
                await self._expand(row.incident_id, row.id, event)
        except CallFailure as exc:
            await self._failed(row, str(exc), exc.transient, exc.retry_after)
            return False
        except Exception as exc:  # a bug must not lose the row: keep it and say why
            log.exception("delivering outbox row %s (%s) failed", row.id, event.get("kind"))
            await self._failed(row, repr(exc), False, None)
            return False
        finally:
            lease.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await lease
        await self._finish(row.id, status="sent", attempts=row.attempts + 1, error=None)
        return True

    async def _failed(
        self, row: m.OutboxMessage, error: str, transient: bool, retry_after: float | None
    ) -> None:
        assert row.id is not None
        attempts = row.attempts + 1
        if not transient and attempts >= MAX_PERMANENT_ATTEMPTS:
            log.error("giving up outbox row %s after %s attempts: %s", row.id, attempts, error)
            await self._finish(row.id, status="failed", attempts=attempts, error=error)
            return
        delay = min(timedelta(seconds=2**attempts), MAX_BACKOFF)
        if retry_after is not None:
            delay = max(delay, timedelta(seconds=retry_after))
        log.warning("outbox row %s: %s; retry in %s", row.id, error, delay)
        await self._finish(
            row.id,
            status="pending",
            attempts=attempts,
            error=error,
            next_attempt_at=self.clock.now() + delay,
        )

    async def _finish(
        self,
        row_id: int,
        *,
        status: str,
        attempts: int,
        error: str | None,
        next_attempt_at: datetime | None = None,
    ) -> None:
        values: dict[str, Any] = {"status": status, "attempts": attempts, "last_error": error}
        if status == "sent":
            values["sent_at"] = self.clock.now()
        if next_attempt_at is not None:
            values["next_attempt_at"] = next_attempt_at
        async with self._sessions() as session, session.begin():
            await session.exec(
                sa.update(m.OutboxMessage).where(col(m.OutboxMessage.id) == row_id).values(**values)
            )

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

    async def _expand(self, incident_id: int, row_id: int, event: dict[str, Any]) -> None:
        room = await self._room(incident_id)
        await self._ensure_room(room)
        kind = str(event.get("kind"))
        handler = self._KIND_HANDLERS.get(kind)
        if handler is not None:
            await handler(self, room, event)
        await self._thread_reply(room, row_id, event)
        await self._refresh(room, event)
        ending = _ending(event)
        if ending is not None:
            await self._closing_report(room, ending)

    async def _ensure_room(self, room: _Room) -> None:
        """Channel, topic, pinned card, one checklist per started stage, announcement."""
        ctx = await self._ctx(room)
        if room.row.channel_id is None:
            await self._create_channel(room)
        channel = room.row.channel_id
        assert channel is not None
        ctx = await self._ctx(room)
        # The topic names the stage, so it is set again (once) whenever the status moves.
        topic_key = f"topic:{room.id}:{room.state.status.value}"
        if topic_key not in room.refs:
            await _best_effort(
                self.client.set_topic(channel, render.channel_topic(room.state, ctx))
            )
            await self._remember(room, topic_key, channel, "")
        if f"invite:{room.id}:reporter" not in room.refs:
            reporter = await self.client.user_id(room.state.reporter)
            if reporter is not None:
                await _best_effort(self.client.invite(channel, [reporter]))
            await self._remember(room, f"invite:{room.id}:reporter", channel, "")
        if room.row.card_ts is None:
            text, blocks = render.incident_card(room.state, room.report, ctx)
            posted = await self.client.post_message(channel, text, blocks)
            ts = str(posted["ts"])
            await self._set_incident(room, card_ts=ts)
            await self._remember(room, f"card:{room.id}", channel, ts)
        assert room.row.card_ts is not None
        if f"pin:{room.id}" not in room.refs:
            await _best_effort(self.client.pin(channel, room.row.card_ts))
            await self._remember(room, f"pin:{room.id}", channel, room.row.card_ts)
        for stage_id in _started_stages(room.state):
            key = f"checklist:{room.id}:{stage_id.value}"
            if key not in room.refs:
                text, blocks = render.stage_checklist(room.state, stage_id, ctx)
                posted = await self.client.post_message(channel, text, blocks)
                await self._remember(room, key, channel, str(posted["ts"]))
        if self.incidents_channel and f"announce:{room.id}" not in room.refs:
            text, _ = render.incident_card(room.state, room.report, ctx)
            link = f"<#{channel}>"
            posted = await _best_effort(
                self.client.post_message(self.incidents_channel, f"{text} → {link}")
            )
            ts = str(posted["ts"]) if posted else ""
            await self._remember(room, f"announce:{room.id}", self.incidents_channel, ts)

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

    async def _on_paged(self, room: _Room, event: dict[str, Any]) -> None:
        data = event.get("data", {})
        page_key = str(data.get("page"))
        page = next((p for p in room.state.pages if p.key == page_key), None)
        user = await self.client.user_id(str(data.get("person")))
        if page is None or user is None:
            log.warning("incident %s: cannot reach %s for page %s", room.id, data, page_key)
            return
        channel = room.row.channel_id
        assert channel is not None
        invite_key = f"invite:{room.id}:{user}"
        if invite_key not in room.refs:
            await _best_effort(self.client.invite(channel, [user]))
            await self._remember(room, invite_key, channel, "")
        key = f"page:{room.id}:{page_key}"
        if key not in room.refs:
            ctx = await self._ctx(room, await self.client.locale(user))
            text, blocks = render.page_message(room.state, page, ctx, channel_link=f"<#{channel}>")
            posted = await _best_effort(self.client.post_message(user, text, blocks))
            if posted:
                await self._remember(room, key, str(posted["channel"]), str(posted["ts"]))

    async def _on_page_changed(self, room: _Room, event: dict[str, Any]) -> None:
        page_key = str(event.get("data", {}).get("page"))
        ref = room.refs.get(f"page:{room.id}:{page_key}")
        page = next((p for p in room.state.pages if p.key == page_key), None)
        if ref is None or page is None:
            return
        user = page.person if "@" not in page.person else await self.client.user_id(page.person)
        ctx = await self._ctx(room, await self.client.locale(user) if user else None)
        channel_link = f"<#{room.row.channel_id}>"
        text, blocks = render.page_message(room.state, page, ctx, channel_link=channel_link)
        await _best_effort(self.client.update_message(ref.channel, ref.ts, text, blocks))

    async def _on_approval_requested(self, room: _Room, event: dict[str, Any]) -> None:
        data = event.get("data", {})
        key = str(data.get("approval"))
        approval = room.state.approvals.get(key)
        if approval is None:
            return
        for person in data.get("approvers") or ():
            user = await self.client.user_id(str(person))
            ref_key = f"approval:{room.id}:{key}:{user}"
            if user is None or ref_key in room.refs:
                continue
            ctx = await self._ctx(room, await self.client.locale(user))
            text, blocks = render.approval_message(room.state, approval, ctx)
            posted = await _best_effort(self.client.post_message(user, text, blocks))
            if posted:
                await self._remember(room, ref_key, str(posted["channel"]), str(posted["ts"]))
        thread_key = f"approval:{room.id}:{key}:thread"
        if thread_key not in room.refs:
            channel = room.row.channel_id
            assert channel is not None
            text, blocks = render.approval_message(room.state, approval, await self._ctx(room))
            posted = await self.client.post_message(
                channel, text, blocks, thread_ts=room.row.card_ts
            )
            await self._remember(room, thread_key, channel, str(posted["ts"]))

    async def _on_approval_changed(self, room: _Room, event: dict[str, Any]) -> None:
        key = str(event.get("data", {}).get("approval"))
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

    async def _on_broadcast(self, room: _Room, event: dict[str, Any]) -> None:
        data = event.get("data", {})
        step = str(data.get("step"))
        text = render.broadcast_text(room.state, event, await self._ctx(room))
        for channel in data.get("channels") or ():
            key = f"broadcast:{room.id}:{step}:{channel}"
            if key in room.refs:
                continue
            posted = await _best_effort(self.client.post_message(str(channel), text))
            if posted:
                await self._remember(room, key, str(posted["channel"]), str(posted["ts"]))

    async def _on_reassigned(self, room: _Room, event: dict[str, Any]) -> None:
        """The new assignee joins the incident channel, so the thread line reaches them."""
        person = (event.get("data") or {}).get("to")
        user = await self.client.user_id(str(person)) if person else None
        channel = room.row.channel_id
        if user is None or channel is None:
            return
        key = f"invite:{room.id}:{user}"
        if key not in room.refs:
            await _best_effort(self.client.invite(channel, [user]))
            await self._remember(room, key, channel, "")

    _KIND_HANDLERS: dict[str, Callable[[Delivery, _Room, dict[str, Any]], Awaitable[None]]] = {
        "paged": _on_paged,
        "page_acknowledged": _on_page_changed,
        "page_timed_out": _on_page_changed,
        "approval_requested": _on_approval_requested,
        "approval_decided": _on_approval_changed,
        "approval_expired": _on_approval_changed,
        "broadcast": _on_broadcast,
        "step_reassigned": _on_reassigned,
    }

    async def _thread_reply(self, room: _Room, row_id: int, event: dict[str, Any]) -> None:
        key = f"event:{room.id}:{row_id}"
        if key in room.refs:
            return
        text = render.event_text(room.state, event, await self._ctx(room))
        if text:
            channel = room.row.channel_id
            assert channel is not None
            thread = self._thread_of(room, event)
            posted = await self.client.post_message(channel, text, thread_ts=thread)
            await self._remember(room, key, channel, str(posted["ts"]))

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

    async def _refresh(self, room: _Room, event: dict[str, Any]) -> None:
        """Bring the pinned card and the affected checklists up to date."""
        channel = room.row.channel_id
        assert channel is not None
        assert room.row.card_ts is not None
        ctx = await self._ctx(room)
        text, blocks = render.incident_card(room.state, room.report, ctx)
        await self.client.update_message(channel, room.row.card_ts, text, blocks)
        step = event.get("data", {}).get("step")
        if str(event.get("kind")) in _ALL_STAGE_EVENTS or event.get("kind") == "declared":
            stages = _started_stages(room.state)
        elif isinstance(step, str) and step in room.state.steps:
            stages = [room.state.steps[step].stage_id]
        else:
            stages = []
        for stage_id in stages:
            ref = room.refs.get(f"checklist:{room.id}:{stage_id.value}")
            if ref is not None:
                text, blocks = render.stage_checklist(room.state, stage_id, ctx)
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
