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
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

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
from epbot.services.ports import AlertRecord, AlertStore, AlertTx, Notifier

log = logging.getLogger(__name__)

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
    """Alert intake and the Declare / Dismiss decisions, over one store.

    Every change is committed with its outbox row (when there is an alerts channel); the
    ``notifier`` is kicked after the commit.
    """

    def __init__(
        self,
        *,
        store: AlertStore,
        incidents: IncidentService,
        rules: Callable[[], AlertRules],
        channel: str | None,
        notifier: Notifier | None = None,
        observer: AlertObserver | None = None,
        resolved_note: Callable[[AlertRecord], str] | None = None,
    ) -> None:
        self.store = store
        self.incidents = incidents
        self.clock = incidents.clock
        self.notifier: Notifier = notifier or incidents.notifier
        self._rules = rules
        self.channel = channel
        self.observer: AlertObserver = observer or NoObserver()
        self._resolved_note = resolved_note or (lambda a: f"{a.source}: {a.summary}")

    async def _show(self, tx: AlertTx, alert: AlertRecord) -> None:
        if self.channel:
            await tx.show_alert(_id(alert), self.channel, self.clock.now())

    # --- intake ----------------------------------------------------------------------

    async def receive(
        self, *, source: str, kind: PayloadKind, signals: Sequence[Signal]
    ) -> Receipt:
        """Take one notification's alerts in, all in one transaction."""
        rules = self._rules()

        async def work(tx: AlertTx) -> tuple[Receipt, list[AlertRecord]]:
            receipt = Receipt()
            touched: list[AlertRecord] = []
            for signal in signals:
                alert, change = await self._apply(tx, source, kind, signal, rules)
                receipt.changes.append((alert.id if alert else None, change))
                if alert is not None:
                    touched.append(alert)
            return receipt, touched

        receipt, touched = await self.store.write(work)
        if touched:
            self.notifier.kick()
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
        return receipt

    async def _apply(
        self,
        tx: AlertTx,
        source: str,
        kind: PayloadKind,
        signal: Signal,
        rules: AlertRules,
    ) -> tuple[AlertRecord | None, Change]:
        now = self.clock.now()
        key = live_key(source, signal.fingerprint)
        alert = await tx.find_open_alert(key)
        change = change_for(alert is not None, signal.status)
        if change is Change.IGNORED:
            return None, change
        if alert is None:
            where = route(rules, signal.labels)
            alert = AlertRecord(
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
            await tx.add_alert(alert)  # a concurrent twin fails here on the live key: retried
        else:
            if change is Change.REPEAT:
                alert.count += 1
                alert.last_seen_at = now
                alert.summary = signal.summary or alert.summary
                alert.details = signal.details or alert.details
                alert.url = signal.url or alert.url
            else:  # resolved
                alert.status = AlertStatus.RESOLVED.value
                alert.resolved_at = now
                alert.ends_at = signal.ends_at or now
                alert.last_seen_at = now
                alert.live_key = None
            alert.version += 1
            await tx.update_alert(alert)
        await self._show(tx, alert)
        return alert, change

    # --- declaring -------------------------------------------------------------------

    def report_from(self, alert: AlertRecord, route_: Route | None = None) -> ReportFields:
        """The Article 5.1 report an alert suggests (time, nature, scope from the alert)."""
        labels = alert.label_map()
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

    async def _declare_by_rule(self, alert: AlertRecord, rules: AlertRules) -> int | None:
        where = route(rules, alert.label_map())
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

        async def link(tx: AlertTx) -> None:
            alert = await tx.get_alert(alert_id, lock=True)
            if alert is None or alert.incident_id == outcome.incident_id:
                return
            alert.incident_id = outcome.incident_id
            alert.declared_by = reporter
            alert.version += 1
            await tx.update_alert(alert)
            await self._show(tx, alert)

        await self.store.write(link)
        self.notifier.kick()
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
        if outcome.duplicate:  # someone (or the rule) declared it first: say so
            raise AlertProblem("declared", incident=outcome.incident_id)
        self.observer.declared(alert.source, "person")
        return outcome

    async def _note_resolved(self, alert: AlertRecord) -> None:
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

    async def dismiss(self, *, alert_id: int, actor: str, reason: str) -> AlertRecord:
        """Dismiss a warning as a false alarm (误报) or not needing an incident, with why."""
        if not reason.strip():
            raise AlertProblem("reason_required")

        async def work(tx: AlertTx) -> tuple[AlertRecord, bool]:
            alert = await tx.get_alert(alert_id, lock=True)
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
            await tx.update_alert(alert)
            await self._show(tx, alert)
            return alert, True

        alert, changed = await self.store.write(work)
        if changed:
            self.notifier.kick()
            self.observer.dismissed(alert.source)
        return alert

    async def get(self, alert_id: int) -> AlertRecord:
        alert = await self.store.read(lambda tx: tx.get_alert(alert_id))
        if alert is None:
            raise AlertProblem("unknown")
        return alert


def live_key(source: str, fingerprint: str) -> str:
    """What identifies an open alert: the source and the sender's fingerprint."""
    return f"{source}:{fingerprint}"


def _id(alert: AlertRecord) -> int:
    assert alert.id is not None
    return alert.id


def _should_declare(alert: AlertRecord) -> bool:
    return (
        alert.action == AlertAction.DECLARE.value
        and alert.incident_id is None
        and alert.dismissed_at is None
    )
