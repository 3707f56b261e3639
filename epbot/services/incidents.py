"""Incident use cases: load -> decide -> save (state, timeline, outbox) -> reschedule.

Each use case runs in one transaction and is idempotent under the caller's ``key``: the
same key a second time returns the first outcome and changes nothing. A concurrent
change to the same incident makes the loser reload and decide again (optimistic
locking on ``incident.version``), so two simultaneous approvals end with one winner and
the other told who decided.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import os
import socket
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, TypeVar
from zoneinfo import ZoneInfo

from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlmodel.ext.asyncio.session import AsyncSession

from epbot.adapters.db import report_versions
from epbot.adapters.db import repository as repo
from epbot.adapters.db.engine import make_sessionmaker
from epbot.domain import incident as dom
from epbot.domain.audit import ChainProblem, verify_chain
from epbot.domain.errors import DomainError, ErrorCode
from epbot.domain.playbook import Severity
from epbot.logs import bind, log_context
from epbot.services.ports import Clock, NoTimers, PlaybookSource, Timers

log = logging.getLogger(__name__)

TIMER_ATTEMPTS = 3  # failed firings (one per tick) before a timer is set aside
TIMER_BATCH = 50  # due timers claimed and fired in one transaction
T = TypeVar("T")
_RETRIES = 8
_REFUSALS = {
    ErrorCode.NOT_SEVERITY_JUDGE,
    ErrorCode.NOT_UNIT_RESPONSIBLE,
    ErrorCode.NOT_COMMANDER,
    ErrorCode.NOT_RESPONSIBLE,
    ErrorCode.NOT_APPROVER,
    ErrorCode.NOT_PAGED,
}


def incident_number(year: int, seq: int, drill: bool) -> str:
    """``2026-0007``, or ``DRILL-2026-0003`` for a drill (演练)."""
    return f"{'DRILL-' if drill else ''}{year}-{seq:04d}"


@dataclass(frozen=True)
class Outcome:
    incident_id: int
    events: list[dom.Event] = field(default_factory=list)
    duplicate: bool = False

    @property
    def kinds(self) -> list[str]:
        return [e.kind for e in self.events]


class UnknownPlaybook(Exception):
    def __init__(self, name: str) -> None:
        super().__init__(f"unknown playbook {name!r}")
        self.name = name


class IncidentService:
    """The engine's use cases over one database."""

    def __init__(
        self,
        *,
        engine: AsyncEngine,
        clock: Clock,
        playbooks: PlaybookSource,
        timers: Timers | None = None,
        timezone: str = "Asia/Shanghai",
        holder: str | None = None,
    ) -> None:
        self._engine = engine
        self._sessions = make_sessionmaker(engine)
        self.clock = clock
        self.playbooks = playbooks
        self.timers: Timers = timers or NoTimers()
        self._tz = ZoneInfo(timezone)
        self.holder = holder or f"{socket.gethostname()}:{os.getpid()}:{id(self):x}"
        # SQLite has one writer at a time: serialise our own writers instead of spinning on
        # "database is locked" (other processes are still handled by the retry loop).
        self._write_lock = asyncio.Lock() if engine.dialect.name == "sqlite" else None

    # --- plumbing ----------------------------------------------------------------------

    async def _transaction(self, work: Callable[[AsyncSession], Awaitable[T]]) -> T:
        """Run ``work`` in a transaction, retrying on lost races; DomainError passes through."""
        for attempt in range(_RETRIES):
            try:
                if self._write_lock is None:
                    return await self._once(work)
                async with self._write_lock:
                    return await self._once(work)
            except (repo.StaleState, DBAPIError) as exc:
                if isinstance(exc, DBAPIError) and not _retryable(exc):
                    raise
                log.debug("retrying after a lost race (%s): %s", attempt + 1, exc)
                await asyncio.sleep(0.005 * (attempt + 1))
        raise RuntimeError("gave up after repeated concurrent updates")

    async def _once(self, work: Callable[[AsyncSession], Awaitable[T]]) -> T:
        async with self._sessions() as session, session.begin():
            return await work(session)

    async def _reschedule(self) -> None:
        async with self._sessions() as session:
            self.timers.wake_at(await repo.next_due(session))

    async def _record(
        self,
        session: AsyncSession,
        loaded: repo.Loaded,
        events: list[dom.Event],
        key: str | None,
    ) -> Outcome:
        assert loaded.state.id is not None
        now = self.clock.now()
        await repo.save(session, loaded)
        await repo.append_timeline(session, loaded.state.id, events)
        await repo.enqueue_events(session, loaded.state.id, events, now)
        if key is not None:
            await repo.remember_key(
                session,
                key,
                {"incident_id": loaded.state.id, "kinds": [e.kind for e in events]},
                now,
            )
        return Outcome(incident_id=loaded.state.id, events=events)

    async def _apply(self, *, key: str | None, incident_id: int, command: dom.Command) -> Outcome:
        async def work(session: AsyncSession) -> Outcome:
            if key is not None and (done := await repo.recall_key(session, key)) is not None:
                return Outcome(incident_id=int(done["incident_id"]), duplicate=True)
            loaded = await repo.load(session, incident_id, self.playbooks.current.matrix)
            events = dom.decide(loaded.state, command, self.clock.now())
            return await self._record(session, loaded, events, key)

        with log_context(incident_id=incident_id):
            try:
                outcome = await self._transaction(work)
            except DomainError as exc:
                if exc.code in _REFUSALS:
                    await self._log_refusal(incident_id, command, exc)
                raise
        await self._reschedule()
        return outcome

    async def _log_refusal(self, incident_id: int, command: dom.Command, exc: DomainError) -> None:
        """A refused attempt (wrong person) is itself on the timeline."""
        actor = getattr(command, "actor", dom.SYSTEM)
        event = dom.Event(
            dom.EventKind.REFUSED,
            actor,
            self.clock.now(),
            {
                "command": type(command).__name__,
                "code": exc.code.value,
                "message": str(exc),
                # Read in each reader's language from the templates (``message``: logs).
                "params": exc.plain_params(),
            },
        )

        async def work(session: AsyncSession) -> None:
            await repo.append_timeline(session, incident_id, [event])
            await repo.enqueue_events(session, incident_id, [event], event.at)

        await self._transaction(work)

    # --- use cases ---------------------------------------------------------------------

    async def declare(
        self,
        *,
        key: str,
        playbook: str,
        severity: Severity | None,
        report: dom.ReportFields,
        reporter: str,
        drill: bool = False,
    ) -> Outcome:
        """Open an incident from the Article 5.1 report."""
        current = self.playbooks.current
        spec = current.get(playbook)
        if spec is None:
            raise UnknownPlaybook(playbook)
        level = severity or spec.default_severity

        async def work(session: AsyncSession) -> Outcome:
            if (done := await repo.recall_key(session, key)) is not None:
                return Outcome(incident_id=int(done["incident_id"]), duplicate=True)
            now = self.clock.now()
            digest = await repo.playbook_snapshot(session, spec, now)
            year = now.astimezone(self._tz).year
            seq = await repo.next_number(session, year=year, drill=drill)
            state, events = dom.declare(
                playbook=spec,
                matrix=current.matrix,
                severity=level,
                report=report,
                reporter=reporter,
                drill=drill,
                now=now,
            )
            events[0].data["number"] = incident_number(year, seq, drill)
            await repo.insert_incident(
                session, state, playbook_hash=digest, year=year, seq=seq, report=report
            )
            assert state.id is not None
            await repo.append_timeline(session, state.id, events)
            await repo.enqueue_events(session, state.id, events, now)
            await repo.remember_key(session, key, {"incident_id": state.id}, now)
            return Outcome(incident_id=state.id, events=events)

        outcome = await self._transaction(work)
        bind(incident_id=outcome.incident_id)  # what this request logs next is about it
        await self._reschedule()
        return outcome

    async def acknowledge_page(
        self, *, key: str, incident_id: int, page: str, actor: str
    ) -> Outcome:
        return await self._apply(
            key=key,
            incident_id=incident_id,
            command=dom.AcknowledgePage(actor=actor, page_key=page),
        )

    async def complete_step(
        self, *, key: str, incident_id: int, step: str, actor: str, note: str | None = None
    ) -> Outcome:
        return await self._apply(
            key=key,
            incident_id=incident_id,
            command=dom.CompleteStep(actor=actor, step_id=step, note=note),
        )

    async def skip_step(
        self, *, key: str, incident_id: int, step: str, actor: str, reason: str
    ) -> Outcome:
        return await self._apply(
            key=key,
            incident_id=incident_id,
            command=dom.SkipStep(actor=actor, step_id=step, reason=reason),
        )

    async def reassign_step(
        self, *, key: str, incident_id: int, step: str, actor: str, assignee: str
    ) -> Outcome:
        return await self._apply(
            key=key,
            incident_id=incident_id,
            command=dom.ReassignStep(actor=actor, step_id=step, assignee=assignee),
        )

    async def check_in(self, *, key: str, incident_id: int, step: str, actor: str) -> Outcome:
        return await self._apply(
            key=key, incident_id=incident_id, command=dom.CheckIn(actor=actor, step_id=step)
        )

    async def post_update(self, *, key: str, incident_id: int, actor: str, text: str) -> Outcome:
        return await self._apply(
            key=key, incident_id=incident_id, command=dom.PostUpdate(actor=actor, text=text)
        )

    async def request_escalation(
        self, *, key: str, incident_id: int, actor: str, reason: str
    ) -> Outcome:
        return await self._apply(
            key=key,
            incident_id=incident_id,
            command=dom.RequestEscalation(actor=actor, reason=reason),
        )

    async def ask_again(
        self, *, key: str, incident_id: int, step: str, actor: str, reason: str
    ) -> Outcome:
        """Ask the approvers again for a refused step (the refusal stays on the record)."""
        return await self._apply(
            key=key,
            incident_id=incident_id,
            command=dom.AskAgain(actor=actor, step_id=step, reason=reason),
        )

    async def decide_approval(
        self,
        *,
        key: str,
        incident_id: int,
        approval: str,
        actor: str,
        approve: bool,
        reason: str | None = None,
    ) -> Outcome:
        return await self._apply(
            key=key,
            incident_id=incident_id,
            command=dom.DecideApproval(
                actor=actor, approval_key=approval, approve=approve, reason=reason
            ),
        )

    async def confirm_receipt(
        self, *, key: str, incident_id: int, target: str, actor: str
    ) -> Outcome:
        """A unit's responsible person confirms a notice (回执); ``target`` is step@unit."""
        return await self._apply(
            key=key, incident_id=incident_id, command=dom.ConfirmReceipt(actor=actor, target=target)
        )

    async def change_severity(
        self, *, key: str, incident_id: int, actor: str, severity: Severity, reason: str
    ) -> Outcome:
        """Raise or lower the severity; the steps that apply follow (on the timeline)."""
        return await self._apply(
            key=key,
            incident_id=incident_id,
            command=dom.ChangeSeverity(actor=actor, severity=severity, reason=reason),
        )

    async def send_report(
        self,
        *,
        key: str,
        incident_id: int,
        actor: str,
        step: str | None,
        report: dom.ReportFields | None = None,
        progress: dict[str, str] | None = None,
    ) -> Outcome:
        """Deliver the report for a report step (or a progress report when ``step`` is None).

        An edited ``report`` becomes the incident's next report version; without one the
        current version is sent as it is. The step is done when the report is handed to
        delivery (the outbox), in the same transaction.
        """

        attempted: list[dom.SendReport] = []

        async def work(session: AsyncSession) -> Outcome:
            if (done := await repo.recall_key(session, key)) is not None:
                return Outcome(incident_id=int(done["incident_id"]), duplicate=True)
            loaded = await repo.load(session, incident_id, self.playbooks.current.matrix)
            version, fields = await report_versions.current(session, incident_id)
            if report is not None and report != fields:
                version, fields = version + 1, report
            now = self.clock.now()
            command = dom.SendReport(
                actor=actor, step_id=step, version=version, report=fields, progress=progress
            )
            attempted.append(command)
            events = dom.decide(loaded.state, command, now)
            if fields is report:
                await report_versions.add_version(
                    session, incident_id, fields, version=version, by=actor, at=now
                )
            return await self._record(session, loaded, events, key)

        with log_context(incident_id=incident_id):
            try:
                outcome = await self._transaction(work)
            except DomainError as exc:
                if exc.code in _REFUSALS and attempted:
                    await self._log_refusal(incident_id, attempted[-1], exc)
                raise
        await self._reschedule()
        return outcome

    async def resolve(
        self, *, key: str, incident_id: int, actor: str, summary: str | None = None
    ) -> Outcome:
        return await self._apply(
            key=key, incident_id=incident_id, command=dom.Resolve(actor=actor, summary=summary)
        )

    async def close(self, *, key: str, incident_id: int, actor: str) -> Outcome:
        return await self._apply(key=key, incident_id=incident_id, command=dom.Close(actor=actor))

    async def cancel(self, *, key: str, incident_id: int, actor: str, reason: str) -> Outcome:
        return await self._apply(
            key=key, incident_id=incident_id, command=dom.Cancel(actor=actor, reason=reason)
        )

    async def tick(self, *, now: datetime | None = None, limit: int = 10_000) -> int:
        """Fire every timer due by ``now`` (default: the clock), each exactly once.

        Due timers are claimed a batch at a time (``TIMER_BATCH``) in one transaction, and
        each incident is loaded and saved once for all of its timers in the batch: under a
        backlog, firing costs a few queries per incident rather than per timer. A batch
        that raises is rolled back and fired again one timer at a time, so the timer that
        raises is found: it stays due, is skipped for the rest of this tick so the others
        still fire, and is set aside after ``TIMER_ATTEMPTS`` ticks.
        """
        at = now or self.clock.now()
        fired = 0
        failed: set[int] = set()
        size = TIMER_BATCH
        while fired < limit:
            firing: list[int] = []  # what the attempt claimed (rolled back if it raised)
            try:
                count = await self._transaction(
                    functools.partial(
                        self._fire_batch,
                        now=at,
                        skip=failed,
                        firing=firing,
                        size=min(size, limit - fired),
                    )
                )
            except Exception as exc:
                if not firing:  # the claim itself failed (database down): the caller retries
                    raise
                if len(firing) > 1:
                    size = 1  # find the one that raises: the rest of this tick one by one
                    continue
                await self._timer_failed(firing[0], exc, at)
                failed.add(firing[0])
                continue
            if count == 0:
                break
            fired += count
        await self._reschedule()
        return fired

    async def _timer_failed(self, timer_id: int, exc: Exception, now: datetime) -> None:
        error = f"{type(exc).__name__}: {exc}"

        async def work(session: AsyncSession) -> bool:
            return await repo.record_timer_failure(
                session, timer_id, error=error, now=now, holder=self.holder, give_up=TIMER_ATTEMPTS
            )

        set_aside = await self._transaction(work)
        if set_aside:
            log.error("timer %s set aside after %s failures: %s", timer_id, TIMER_ATTEMPTS, error)
        else:
            log.warning("timer %s failed to fire; retried next tick: %s", timer_id, error)

    async def _fire_batch(
        self,
        session: AsyncSession,
        *,
        now: datetime,
        skip: set[int],
        firing: list[int],
        size: int,
    ) -> int:
        firing.clear()  # a retried transaction claims afresh
        claimed = await repo.claim_due_timers(session, now, self.holder, skip=skip, limit=size)
        firing.extend(c.id for c in claimed)
        by_incident: dict[int, list[repo.ClaimedTimer]] = {}
        for timer in claimed:
            by_incident.setdefault(timer.incident_id, []).append(timer)
        matrix = self.playbooks.current.matrix
        for incident_id, timers in by_incident.items():
            loaded = await repo.load(session, incident_id, matrix)
            events: list[dom.Event] = []
            # A claimed row is no longer "live", so it is not in the loaded state; fire each
            # as claimed, in due order, on the same state.
            with log_context(incident_id=incident_id):
                for timer in timers:
                    command = dom.FireTimer(
                        timer_id=timer.id, kind=timer.kind, target=timer.target, due_at=timer.due_at
                    )
                    events += dom.decide(loaded.state, command, now)
                if events:  # timers that find nothing to do change nothing but their rows
                    await self._record(session, loaded, events, None)
        return len(claimed)

    # --- queries -----------------------------------------------------------------------

    async def state(self, incident_id: int) -> dom.IncidentState:
        async with self._sessions() as session:
            loaded = await repo.load(session, incident_id, self.playbooks.current.matrix)
            return loaded.state

    async def verify_audit(self, incident_id: int) -> tuple[int, ChainProblem | None]:
        """(entries checked, the first tampered entry or None)."""
        async with self._sessions() as session:
            entries = await repo.timeline(session, incident_id)
        return len(entries), verify_chain(entries)

    async def timeline(self, incident_id: int) -> list[dict[str, Any]]:
        async with self._sessions() as session:
            entries = await repo.timeline(session, incident_id)
        return [
            {"seq": e.seq, "at": e.at, "actor": e.actor, "kind": e.kind, "payload": e.payload}
            for e in entries
        ]


# PostgreSQL's "try again" states: serialization failure and deadlock. asyncpg surfaces them
# as a plain DBAPIError (not OperationalError), e.g. an ack cancelling a page's timer while a
# tick holds that timer's claim and waits for the incident row.
_RETRY_SQLSTATES = {"40001", "40P01"}


def _retryable(exc: DBAPIError) -> bool:
    """A lost race (unique key, lock, deadlock, serialization): roll back and try again."""
    if isinstance(exc, IntegrityError):
        return True
    if getattr(exc.orig, "sqlstate", None) in _RETRY_SQLSTATES:
        return True
    text = str(exc.orig).lower()
    return "locked" in text or "deadlock" in text or "serializ" in text or "busy" in text
