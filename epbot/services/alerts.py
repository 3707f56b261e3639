"""Early warning use cases: take alerts in, dedup them, warn, declare, dismiss.

Every change to an alert and the outbox row that shows it in Slack are written in one
transaction; the HTTP handler never talks to Slack. An alert is identified by its source
and fingerprint while it is open: a repeat updates it, ``resolved`` closes it, and only a
new firing after that opens a new one. A ``declare`` rule, or a person pressing Declare,
opens at most one incident per alert (the declaration is keyed by the alert's id).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol, TypeVar

from sqlmodel.ext.asyncio.session import AsyncSession

from epbot.adapters.db import alert_store as store
from epbot.adapters.db import models as m
from epbot.domain.alerts import (
    AlertAction,
    AlertRules,
    AlertStatus,
    Change,
    PayloadKind,
    Route,
    Signal,
    change_for,
    occurred_at,
    place_of,
    route,
    scope_of,
)
from epbot.domain.errors import DomainError
from epbot.domain.incident import ReportFields
from epbot.domain.playbook import Severity
from epbot.services.incidents import IncidentService, Outcome, UnknownPlaybook

log = logging.getLogger(__name__)

T = TypeVar("T")
NO_VALUE = "—"  # a report field the alert cannot fill


class AlertObserver(Protocol):
    """Counts what happens to alerts (metrics)."""

    def received(self, source: str, status: str) -> None: ...
    def deduplicated(self, source: str) -> None: ...
    def declared(self, source: str, how: str) -> None: ...
    def dismissed(self, source: str) -> None: ...


class NoObserver:
    def received(self, source: str, status: str) -> None:
        pass

    def deduplicated(self, source: str) -> None:
        pass

    def declared(self, source: str, how: str) -> None:
        pass

    def dismissed(self, source: str) -> None:
        pass


class AlertProblem(Exception):
    """A person's alert action that cannot be done; ``code`` picks the message shown."""

    def __init__(self, code: str, **details: Any) -> None:
        super().__init__(code)
        self.code = code
        self.details = details


@dataclass
class Receipt:
    """What one notification did, alert by alert."""

    changes: list[tuple[int | None, Change]] = field(default_factory=list)
    declared: list[int] = field(default_factory=list)  # incident ids opened by rules

    def count(self, change: Change) -> int:
        return sum(1 for _, c in self.changes if c is change)

    def as_json(self) -> dict[str, Any]:
        return {
            "alerts": len(self.changes),
            **{c.value: self.count(c) for c in Change},
            "declared": self.declared,
        }


class AlertService:
    """Alert intake and the Declare / Dismiss decisions, over one database."""

    def __init__(
        self,
        *,
        incidents: IncidentService,
        rules: Callable[[], AlertRules],
        channel: str | None,
        observer: AlertObserver | None = None,
        resolved_note: Callable[[m.Alert], str] | None = None,
        after_change: Callable[[], None] | None = None,
    ) -> None:
        self.incidents = incidents
        self.clock = incidents.clock
        self._rules = rules
        self.channel = channel
        self.observer: AlertObserver = observer or NoObserver()
        self._resolved_note = resolved_note or (lambda a: f"{a.source}: {a.summary}")
        self.after_change = after_change or (lambda: None)

    async def _transaction(self, work: Callable[[AsyncSession], Awaitable[T]]) -> T:
        # The engine's own transaction runner: retries lost races (the unique live key,
        # PostgreSQL serialisation) and serialises writers on SQLite.
        return await self.incidents._transaction(work)

    async def _show(self, session: AsyncSession, alert: m.Alert) -> None:
        if self.channel:
            await store.enqueue(session, alert, self.channel, self.clock.now())

    # --- intake ----------------------------------------------------------------------

    async def receive(
        self, *, source: str, kind: PayloadKind, signals: Sequence[Signal]
    ) -> Receipt:
        """Take one notification's alerts in, all in one transaction."""
        rules = self._rules()

        async def work(session: AsyncSession) -> tuple[Receipt, list[m.Alert]]:
            receipt = Receipt()
            touched: list[m.Alert] = []
            for signal in signals:
                alert, change = await self._apply(session, source, kind, signal, rules)
                receipt.changes.append((alert.id if alert else None, change))
                if alert is not None:
                    touched.append(alert)
            return receipt, touched

        receipt, touched = await self._transaction(work)
        for (_, change), signal in zip(receipt.changes, signals, strict=True):
            self.observer.received(source, signal.status.value)
            if change is Change.REPEAT:
                self.observer.deduplicated(source)
        for alert in touched:
            if alert.status == AlertStatus.FIRING and _should_declare(alert):
                incident = await self._declare_by_rule(alert, rules)
                if incident is not None:
                    receipt.declared.append(incident)
            elif alert.status == AlertStatus.RESOLVED and alert.incident_id is not None:
                await self._note_resolved(alert)
        self.after_change()
        return receipt

    async def _apply(
        self,
        session: AsyncSession,
        source: str,
        kind: PayloadKind,
        signal: Signal,
        rules: AlertRules,
    ) -> tuple[m.Alert | None, Change]:
        now = self.clock.now()
        key = store.live_key(source, signal.fingerprint)
        alert = await store.find_open(session, key)
        change = change_for(alert is not None, signal.status)
        if change is Change.IGNORED:
            return None, change
        if alert is None:
            where = route(rules, signal.labels)
            alert = m.Alert(
                source=source,
                kind=kind.value,
                fingerprint=signal.fingerprint,
                live_key=key,
                status=AlertStatus.FIRING.value,
                summary=signal.summary,
                details=signal.details,
                labels=json.dumps(signal.labels, ensure_ascii=False, sort_keys=True),
                url=signal.url,
                starts_at=signal.starts_at or now,
                first_seen_at=now,
                last_seen_at=now,
                count=1,
                playbook_id=where.playbook,
                severity=where.severity.value if where.severity else None,
                action=where.action.value,
                rule=where.rule,
                channel=self.channel,
            )
            session.add(alert)
            await session.flush()  # a concurrent twin fails here on the live key: retried
        elif change is Change.REPEAT:
            alert.count += 1
            alert.last_seen_at = now
            alert.summary = signal.summary or alert.summary
            alert.details = signal.details or alert.details
            alert.url = signal.url or alert.url
            alert.version += 1
        else:  # resolved
            alert.status = AlertStatus.RESOLVED.value
            alert.resolved_at = now
            alert.ends_at = signal.ends_at or now
            alert.last_seen_at = now
            alert.live_key = None
            alert.version += 1
        session.add(alert)
        await session.flush()
        await self._show(session, alert)
        return alert, change

    # --- declaring -------------------------------------------------------------------

    def report_from(self, alert: m.Alert, route_: Route | None = None) -> ReportFields:
        """The Article 5.1 report an alert suggests (time, nature, scope from the alert)."""
        labels = store.labels_of(alert)
        return ReportFields(
            occurred_at=occurred_at(alert.starts_at, self.clock.now()),
            place=place_of(labels) or alert.source,
            nature=alert.summary or NO_VALUE,
            scope=scope_of(labels) or NO_VALUE,
            trend=NO_VALUE,
            measures=NO_VALUE,
            unit_id=(route_.unit if route_ and route_.unit else NO_VALUE),
            contact_phone=(route_.contact_phone if route_ and route_.contact_phone else NO_VALUE),
            title=(alert.summary or alert.fingerprint)[:200],
        )

    async def _declare_by_rule(self, alert: m.Alert, rules: AlertRules) -> int | None:
        where = route(rules, store.labels_of(alert))
        playbook = alert.playbook_id or where.playbook
        if playbook is None:
            return None
        severity = Severity(alert.severity) if alert.severity else where.severity
        try:
            outcome = await self._declare(
                alert_id=_id(alert),
                playbook=playbook,
                severity=severity,
                report=self.report_from(alert, where),
                reporter=alert.source,
                drill=False,
            )
        except (DomainError, UnknownPlaybook):
            # The warning stays up with its buttons: a person can still declare it.
            log.exception("alert %s: the declare rule could not open an incident", alert.id)
            return None
        if not outcome.duplicate:
            self.observer.declared(alert.source, "rule")
        return outcome.incident_id

    async def _declare(
        self,
        *,
        alert_id: int,
        playbook: str,
        severity: Severity | None,
        report: ReportFields,
        reporter: str,
        drill: bool,
    ) -> Outcome:
        # Keyed by the alert: two people pressing Declare, or the rule and a person, open
        # one incident between them; a retry returns the first.
        outcome = await self.incidents.declare(
            key=f"alert:{alert_id}",
            playbook=playbook,
            severity=severity,
            report=report,
            reporter=reporter,
            drill=drill,
        )

        async def link(session: AsyncSession) -> None:
            alert = await store.get(session, alert_id, lock=True)
            if alert is None or alert.incident_id == outcome.incident_id:
                return
            alert.incident_id = outcome.incident_id
            alert.declared_by = reporter
            alert.version += 1
            session.add(alert)
            await session.flush()
            await self._show(session, alert)

        await self._transaction(link)
        return outcome

    async def declare_from_report(
        self,
        *,
        alert_id: int,
        playbook: str,
        severity: Severity | None,
        report: ReportFields,
        reporter: str,
        drill: bool = False,
    ) -> Outcome:
        """A person submitted the pre-filled report of a warning: open its incident."""
        alert = await self.get(alert_id)
        if alert.dismissed_at is not None:
            raise AlertProblem("dismissed", by=alert.dismissed_by or "")
        outcome = await self._declare(
            alert_id=alert_id,
            playbook=playbook,
            severity=severity,
            report=report,
            reporter=reporter,
            drill=drill,
        )
        self.after_change()
        if outcome.duplicate:  # someone (or the rule) declared it first: say so
            raise AlertProblem("declared", incident=outcome.incident_id)
        self.observer.declared(alert.source, "person")
        return outcome

    async def _note_resolved(self, alert: m.Alert) -> None:
        """The monitoring source reports an alert with an incident resolved: say so there.

        Only a note: a person still decides when the incident is resolved.
        """
        assert alert.incident_id is not None
        try:
            await self.incidents.post_update(
                key=f"alert-resolved:{alert.id}:{alert.version}",
                incident_id=alert.incident_id,
                actor=alert.source,
                text=self._resolved_note(alert),
            )
        except DomainError as exc:  # the incident already ended: nothing to tell
            log.info("alert %s resolved; incident %s: %s", alert.id, alert.incident_id, exc)

    # --- a person's decisions --------------------------------------------------------

    async def dismiss(self, *, alert_id: int, actor: str, reason: str) -> m.Alert:
        """Dismiss a warning as a false alarm (误报) or not needing an incident, with why."""
        if not reason.strip():
            raise AlertProblem("reason_required")

        async def work(session: AsyncSession) -> tuple[m.Alert, bool]:
            alert = await store.get(session, alert_id, lock=True)
            if alert is None:
                raise AlertProblem("unknown")
            if alert.incident_id is not None:
                raise AlertProblem("declared", incident=alert.incident_id)
            if alert.dismissed_at is not None:
                return alert, False
            alert.dismissed_at = self.clock.now()
            alert.dismissed_by = actor
            alert.dismiss_reason = reason.strip()
            alert.version += 1
            session.add(alert)
            await session.flush()
            await self._show(session, alert)
            return alert, True

        alert, changed = await self._transaction(work)
        if changed:
            self.observer.dismissed(alert.source)
        self.after_change()
        return alert

    async def get(self, alert_id: int) -> m.Alert:
        async def work(session: AsyncSession) -> m.Alert:
            alert = await store.get(session, alert_id)
            if alert is None:
                raise AlertProblem("unknown")
            return alert

        return await self._transaction(work)


def _id(alert: m.Alert) -> int:
    assert alert.id is not None
    return alert.id


def _should_declare(alert: m.Alert) -> bool:
    return (
        alert.action == AlertAction.DECLARE.value
        and alert.incident_id is None
        and alert.dismissed_at is None
    )
