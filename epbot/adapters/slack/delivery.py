"""The outbox worker: drains lanes (one per Slack conversation) in parallel, in order.

Storage and claims are ``adapters/db/outbox.py``; what each event means in Slack is the
``effects`` package; pacing and the retries of a single call are the client's. This module is
the loop: a bounded pool of workers, each holding one lane's lease at a time, the most
urgent lanes (a page, an approval request) first. A lane whose call keeps failing keeps
its rows, in order, for a later attempt; every other lane goes on.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import itertools
import json
import logging
import os
import socket
from collections.abc import Awaitable, Callable, Mapping
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncEngine
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from epbot.adapters.db import models as m
from epbot.adapters.db import outbox as store
from epbot.adapters.db.engine import make_sessionmaker
from epbot.adapters.slack.client import CallFailure
from epbot.adapters.slack.effects import SlackEffects
from epbot.adapters.slack.effects.common import HandOvers
from epbot.domain.audience import Audience
from epbot.logs import log_context
from epbot.services.ports import Clock

log = logging.getLogger(__name__)

LEASE = timedelta(seconds=30)  # how long a claimed lane is ours before another worker may try
MAX_BACKOFF = timedelta(minutes=5)
BATCH = 50  # rows of one lane taken at a time

# Rows without an incident (a monitoring alert's warning...): kind -> what delivers one.
Standalone = Callable[[dict[str, Any]], Awaitable[None]]


class Delivery:
    """Outbox worker pool: ``drain()`` delivers what is due; ``kick()`` schedules a drain.

    ``effects`` sends a lane's rows of one incident; ``standalone`` the rows of no incident.
    """

    def __init__(
        self,
        *,
        engine: AsyncEngine,
        clock: Clock,
        effects: SlackEffects,
        workers: int = 32,
        standalone: Mapping[str, Standalone] | None = None,
        holder: str | None = None,
    ) -> None:
        self._sessions = make_sessionmaker(engine)
        self.clock = clock
        self.effects = effects
        self.workers = max(1, workers)
        self.standalone: dict[str, Standalone] = dict(standalone or {})
        self.holder = holder or f"{socket.gethostname()}:{os.getpid()}:{id(self):x}"
        self._lock = asyncio.Lock()
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._again = False
        self._poller: asyncio.Task[None] | None = None
        self._timer: asyncio.TimerHandle | None = None
        effects.on_hand_over = self._wake.set  # a lane made due mid-batch is claimed at once

    # --- scheduling --------------------------------------------------------------------

    def kick(self) -> None:
        """Drain soon, in the background (the service's callers, after a commit)."""
        self._wake.set()
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
                sent = await self.drain()
                await self._wake_for_deferred(progressed=sent > 0)
            except Exception:  # the periodic poll retries; never kill the loop
                log.exception("outbox drain failed")
            if not self._again:
                return

    async def _wake_for_deferred(self, *, progressed: bool) -> None:
        """Kick again when the earliest lane put off (a backoff, a rate window) falls due.

        A lane that is due but held elsewhere (another worker or process) is looked at
        again a second later, not at once: its holder is sending it.
        """
        async with self._sessions() as session:
            due = await store.next_attempt(session)
        if due is None:
            return
        delay = (due - self.clock.now()).total_seconds()
        if delay <= 0 and progressed:
            self._again = True
            return
        if self._timer is not None:
            self._timer.cancel()
        self._timer = asyncio.get_running_loop().call_later(
            min(max(delay, 1.0 if delay <= 0 else 0.01), 300.0), self.kick
        )

    async def wait_idle(self) -> None:
        """Wait until a kicked drain has finished (tests, shutdown)."""
        while self._task is not None and not self._task.done():
            await asyncio.shield(self._task)

    def start(self, interval: float = 5.0) -> None:
        """Drain periodically too: a safety net (rows added by another process...)."""

        async def poll() -> None:
            while True:
                await asyncio.sleep(interval)
                self.kick()

        self._poller = asyncio.get_running_loop().create_task(poll())
        # Rows an earlier run left pending go out now rather than at the first poll (the
        # services kick after each commit; this is the one kick that is not theirs).
        self.kick()

    async def stop(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
        for task in (self._poller, self._task):
            if task is not None and not task.done():
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task

    # --- the pool ----------------------------------------------------------------------

    async def drain(self) -> int:
        """Deliver every row that is due now, lanes in parallel; return rows sent."""
        sent = 0
        async with self._lock:
            active: dict[str, asyncio.Task[int]] = {}
            try:
                while True:
                    self._wake.clear()
                    free = self.workers - len(active)
                    if free > 0:
                        for key in await self._claim_lanes(exclude=set(active), limit=free):
                            active[key] = asyncio.create_task(self._run_lane(key))
                    if not active:
                        return sent
                    woken = asyncio.create_task(self._wake.wait())
                    done, _ = await asyncio.wait(
                        [*active.values(), woken], return_when=asyncio.FIRST_COMPLETED
                    )
                    woken.cancel()
                    for key, task in list(active.items()):
                        if task in done:
                            del active[key]
                            sent += task.result()
            finally:
                for task in active.values():
                    task.cancel()
                if active:
                    await asyncio.gather(*active.values(), return_exceptions=True)

    async def _claim_lanes(self, *, exclude: set[str], limit: int) -> list[str]:
        now = self.clock.now()
        async with self._sessions() as session:
            lanes = await store.due_lanes(
                session, now, holder=self.holder, exclude=exclude, limit=limit
            )
        claimed: list[str] = []
        for lane in lanes:
            async with self._sessions() as session, session.begin():
                ok = await store.claim_lane(
                    session, lane.key, holder=self.holder, now=now, until=now + LEASE
                )
            if ok:
                claimed.append(lane.key)
        return claimed

    async def _run_lane(self, key: str) -> int:
        """Send the lane's due rows in order; stop at the first that fails (it keeps its
        place, so nothing behind it overtakes it). Return the rows sent."""
        renewing = asyncio.create_task(self._keep_lease(key))
        sent = 0
        try:
            while True:
                async with self._sessions() as session:
                    rows = await store.lane_rows(session, key, limit=BATCH)
                due = _due(rows, self.clock.now())
                if not due or renewing.done():
                    return sent
                for _, group in itertools.groupby(due, key=lambda r: r.incident_id):
                    batch = list(group)
                    if not await self._deliver(key, batch):
                        return sent
                    sent += len(batch)
        finally:
            renewing.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await renewing
            async with self._sessions() as session, session.begin():
                await store.release_lane(session, key, holder=self.holder)

    async def _keep_lease(self, key: str) -> None:
        """Renew the lane's lease while it is worked on (a worker that dies stops renewing,
        so its lane is free again within one ``LEASE``)."""
        while True:
            await asyncio.sleep(LEASE.total_seconds() / 4)
            async with self._sessions() as session, session.begin():
                ok = await store.renew_lane(
                    session, key, holder=self.holder, until=self.clock.now() + LEASE
                )
            if not ok:
                log.warning("outbox lane %s: lease lost while delivering", key)
                return

    async def _deliver(self, key: str, rows: list[m.OutboxMessage]) -> bool:
        """Deliver consecutive rows of one incident in one lane; False if they must wait."""
        first = rows[0]
        with log_context(incident_id=first.incident_id):
            try:
                handed = await self._send(key, rows)
            except CallFailure as exc:
                await self._failed(first, exc)
                return False
            except Exception as exc:  # a bug must not lose the row: keep it and say why
                log.exception("delivering outbox row %s failed", first.id)
                await self._failed(first, exc)
                return False
        async with self._sessions() as session, session.begin():
            ids = [r.id for r in rows if r.id is not None]
            now = self.clock.now()
            await store.mark_sent(session, ids, now)
            if first.incident_id is not None:
                for kind, payload in handed.items():
                    await store.hand_over(session, first.incident_id, kind, payload, now)
        if handed:
            self._wake.set()  # the lanes handed to are due now: claim them in this drain
        return True

    async def _send(self, key: str, rows: list[m.OutboxMessage]) -> HandOvers:
        """Send the rows; return what the room's rows hand to the incident's other lanes."""
        events = [(r.id, json.loads(r.payload)) for r in rows if r.id is not None]
        incident_id = rows[0].incident_id
        if incident_id is not None:
            return await self.effects.deliver(incident_id, Audience.of_lane(key), events)
        for _, payload in events:
            handler = self.standalone.get(str(payload.get("kind")))
            if handler is None:
                log.warning("outbox lane %s: nothing delivers %r", key, payload.get("kind"))
                continue
            await handler(payload)
        return {}

    async def _failed(self, row: m.OutboxMessage, exc: Exception) -> None:
        """Keep the row for later: a wait for a rate window counts no attempt; a permanent
        error is given up after a few attempts; anything else backs off."""
        paced = isinstance(exc, CallFailure) and exc.error == "paced"
        transient = isinstance(exc, CallFailure) and exc.transient
        now = self.clock.now()
        attempts = row.attempts + (0 if paced else 1)
        delay = min(timedelta(seconds=2**attempts), MAX_BACKOFF)
        if isinstance(exc, CallFailure) and exc.retry_after is not None:
            wait = timedelta(seconds=exc.retry_after)
            delay = wait if paced else max(delay, wait)
        error = str(exc) if isinstance(exc, CallFailure) else repr(exc)
        async with self._sessions() as session, session.begin():
            status = await store.mark_failed(
                session,
                row,
                error=error,
                attempt=not paced,
                permanent=not transient,
                retry_at=now + delay,
            )
        if status == "failed":
            log.error("giving up outbox row %s after %s attempts: %s", row.id, attempts, error)
        elif not paced:
            log.warning("outbox row %s: %s; retry in %s", row.id, error, delay)


def _due(rows: list[m.OutboxMessage], now: datetime) -> list[m.OutboxMessage]:
    """The leading rows that are due: a row put off holds back the rows behind it."""
    return list(itertools.takewhile(lambda r: r.next_attempt_at <= now, rows))


async def session_refs(session: AsyncSession, incident_id: int) -> dict[str, m.MessageRef]:
    """Every message ref of an incident (for tests and the home tab)."""
    rows = await session.exec(
        select(m.MessageRef).where(col(m.MessageRef.incident_id) == incident_id)
    )
    return {r.key: r for r in rows}
