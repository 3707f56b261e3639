"""Incident use cases: load -> decide -> save (state, timeline, outbox) -> notify -> reschedule.

Each use case runs in one transaction of the store and is idempotent under the caller's
``key``: the same key a second time returns the first outcome and changes nothing. A
concurrent change to the same incident makes the loser reload and decide again (the store
retries lost races; optimistic locking on the incident's version), so two simultaneous
approvals end with one winner and the other told who decided. Once the transaction is
committed the service kicks delivery (the ``Notifier``) and moves the alarm clock to the
next due timer.
"""

from __future__ import annotations

import functools
import logging
import os
import socket
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from epbot.domain import incident as dom
from epbot.domain.errors import DomainError, ErrorCode
from epbot.domain.playbook import Severity
from epbot.logs import bind, log_context
from epbot.services.ports import (
    Clock,
    DueTimer,
    IncidentStore,
    IncidentTx,
    Loaded,
    NoNotifier,
    Notifier,
    NoTimers,
    OpenIncident,
    PlaybookSource,
    Timers,
    incident_number,
)

__all__ = ["IncidentService", "Outcome", "UnknownPlaybook", "incident_number"]

log = logging.getLogger(__name__)

TIMER_ATTEMPTS = 3  # failed firings (one per tick) before a timer is set aside
TIMER_BATCH = 50  # due timers claimed and fired in one transaction
_REFUSALS = {
    ErrorCode.NOT_SEVERITY_JUDGE,
    ErrorCode.NOT_UNIT_RESPONSIBLE,
    ErrorCode.NOT_COMMANDER,
    ErrorCode.NOT_RESPONSIBLE,
    ErrorCode.NOT_APPROVER,
    ErrorCode.NOT_PAGED,
    ErrorCode.NOT_STEP_ASSIGNEE,
}


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
    """The engine's use cases over one store."""

    def __init__(
        self,
        *,
        store: IncidentStore,
        clock: Clock,
        playbooks: PlaybookSource,
        timers: Timers | None = None,
        notifier: Notifier | None = None,
        timezone: str = "Asia/Shanghai",
        holder: str | None = None,
    ) -> None:
        self.store = store
        self.clock = clock
        self.playbooks = playbooks
        self.timers: Timers = timers or NoTimers()
        self.notifier: Notifier = notifier or NoNotifier()
        self._tz = ZoneInfo(timezone)
        self.holder = holder or f"{socket.gethostname()}:{os.getpid()}:{id(self):x}"

    # --- plumbing ----------------------------------------------------------------------

    async def _committed(self, outcome: Outcome) -> Outcome:
        """After the commit: deliver what it put in the outbox, wake at the next due time."""
        if outcome.events:
            self.notifier.kick()
        await self._reschedule()
        return outcome

    async def _reschedule(self) -> None:
        self.timers.wake_at(await self.store.read(lambda tx: tx.next_due()))

    async def _record(
        self, tx: IncidentTx, loaded: Loaded, events: list[dom.Event], key: str | None
    ) -> Outcome:
        incident_id = loaded.state.id
        assert incident_id is not None
        now = self.clock.now()
        await tx.record(loaded, events, now)
        if key is not None:
            await tx.remember_key(
                key, {"incident_id": incident_id, "kinds": [e.kind for e in events]}, now
            )
        return Outcome(incident_id=incident_id, events=events)

    async def _apply(self, *, key: str | None, incident_id: int, command: dom.Command) -> Outcome:
        async def work(tx: IncidentTx) -> Outcome:
            if key is not None and (done := await tx.recall_key(key)) is not None:
                return Outcome(incident_id=int(done["incident_id"]), duplicate=True)
            loaded = await tx.load(incident_id, self.playbooks.current.matrix)
            events = dom.decide(loaded.state, command, self.clock.now())
            return await self._record(tx, loaded, events, key)

        with log_context(incident_id=incident_id):
            try:
                outcome = await self.store.write(work)
            except DomainError as exc:
                if exc.code in _REFUSALS:
                    await self._log_refusal(incident_id, command, exc)
                raise
        return await self._committed(outcome)

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

        async def work(tx: IncidentTx) -> None:
            await tx.log(incident_id, [event], event.at)

        await self.store.write(work)
        self.notifier.kick()

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

        async def work(tx: IncidentTx) -> Outcome:
            if (done := await tx.recall_key(key)) is not None:
                return Outcome(incident_id=int(done["incident_id"]), duplicate=True)
            now = self.clock.now()
            digest = await tx.playbook_snapshot(spec, now)
            year = now.astimezone(self._tz).year
            seq = await tx.next_number(year=year, drill=drill)
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
            await tx.insert_incident(state, playbook_hash=digest, year=year, seq=seq, report=report)
            assert state.id is not None
            await tx.log(state.id, events, now)
            await tx.remember_key(key, {"incident_id": state.id}, now)
            return Outcome(incident_id=state.id, events=events)

        outcome = await self.store.write(work)
        bind(incident_id=outcome.incident_id)  # what this request logs next is about it
        return await self._committed(outcome)

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

    async def snooze_step(
        self, *, key: str, incident_id: int, step: str, actor: str, minutes: int
    ) -> Outcome:
        """Quiet the step's reminders; never past its deadline, whose escalation stands."""
        command = dom.SnoozeStep(actor=actor, step_id=step, minutes=minutes)
        return await self._apply(key=key, incident_id=incident_id, command=command)

    async def on_it(self, *, key: str, incident_id: int, step: str, actor: str) -> Outcome:
        """"I'm on it" from a reminder: no more reminders before the deadline."""
        command = dom.OnIt(actor=actor, step_id=step)
        return await self._apply(key=key, incident_id=incident_id, command=command)

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

        async def work(tx: IncidentTx) -> Outcome:
            if (done := await tx.recall_key(key)) is not None:
                return Outcome(incident_id=int(done["incident_id"]), duplicate=True)
            loaded = await tx.load(incident_id, self.playbooks.current.matrix)
            version, fields = await tx.current_report(incident_id)
            if report is not None and report != fields:
                version, fields = version + 1, report
            now = self.clock.now()
            command = dom.SendReport(
                actor=actor, step_id=step, version=version, report=fields, progress=progress
            )
            attempted.append(command)
            events = dom.decide(loaded.state, command, now)
            if fields is report:
                await tx.add_report(incident_id, fields, version=version, by=actor, at=now)
            return await self._record(tx, loaded, events, key)

        with log_context(incident_id=incident_id):
            try:
                outcome = await self.store.write(work)
            except DomainError as exc:
                if exc.code in _REFUSALS and attempted:
                    await self._log_refusal(incident_id, attempted[-1], exc)
                raise
        return await self._committed(outcome)

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
        events = 0
        failed: set[int] = set()
        size = TIMER_BATCH
        while fired < limit:
            firing: list[int] = []  # what the attempt claimed (rolled back if it raised)
            try:
                count, caused = await self.store.write(
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
            events += caused
        if events:
            self.notifier.kick()  # what the timers caused goes out at once
        await self._reschedule()
        return fired

    async def _timer_failed(self, timer_id: int, exc: Exception, now: datetime) -> None:
        error = f"{type(exc).__name__}: {exc}"

        async def work(tx: IncidentTx) -> bool:
            return await tx.record_timer_failure(
                timer_id, error=error, now=now, holder=self.holder, give_up=TIMER_ATTEMPTS
            )

        if await self.store.write(work):
            log.error("timer %s set aside after %s failures: %s", timer_id, TIMER_ATTEMPTS, error)
        else:
            log.warning("timer %s failed to fire; retried next tick: %s", timer_id, error)

    async def _fire_batch(
        self,
        tx: IncidentTx,
        *,
        now: datetime,
        skip: set[int],
        firing: list[int],
        size: int,
    ) -> tuple[int, int]:
        """(timers claimed, events they caused) in one transaction."""
        firing.clear()  # a retried transaction claims afresh
        claimed = await tx.claim_due_timers(now, self.holder, skip=skip, limit=size)
        firing.extend(c.id for c in claimed)
        by_incident: dict[int, list[DueTimer]] = {}
        for timer in claimed:
            by_incident.setdefault(timer.incident_id, []).append(timer)
        matrix = self.playbooks.current.matrix
        caused = 0
        for incident_id, timers in by_incident.items():
            loaded = await tx.load(incident_id, matrix)
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
                    await self._record(tx, loaded, events, None)
            caused += len(events)
        return len(claimed), caused

    # --- queries -----------------------------------------------------------------------

    async def state(self, incident_id: int) -> dom.IncidentState:
        matrix = self.playbooks.current.matrix

        async def work(tx: IncidentTx) -> dom.IncidentState:
            return (await tx.load(incident_id, matrix)).state

        return await self.store.read(work)

    async def timeline(self, incident_id: int) -> list[dict[str, Any]]:
        entries = await self.store.read(lambda tx: tx.timeline(incident_id))
        return [
            {"seq": e.seq, "at": e.at, "actor": e.actor, "kind": e.kind, "payload": e.payload}
            for e in entries
        ]

    async def open_incidents(self) -> list[OpenIncident]:
        """Every open incident (number, state, channel), oldest first."""
        matrix = self.playbooks.current.matrix
        return await self.store.read(lambda tx: tx.open_incidents(matrix))
