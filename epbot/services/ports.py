"""What the services need from the outside world, as protocols.

A service never opens a session, reads the system clock or calls Slack: it gets a store (a
unit of work over the database: ``write`` runs one transaction, retried on a lost race), a
clock, the playbooks, an alarm clock for the next due timer, and a notifier it kicks once
what it put in the outbox is committed. The database adapter (``epbot.adapters.db.store``)
implements the stores; ``tests/services/fakes.py`` is an in-memory one.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, Collection, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol, TypeAlias, TypeVar

from epbot.domain.audit import ChainEntry
from epbot.domain.incident import Event, IncidentState, ReportFields, TimerKind
from epbot.domain.matrix import Matrix
from epbot.domain.playbook import Playbook

T = TypeVar("T")
Tx_co = TypeVar("Tx_co", covariant=True)


class Clock(Protocol):
    def now(self) -> datetime:
        """The current time, timezone-aware UTC."""
        ...


class PlaybookSet(Protocol):
    @property
    def matrix(self) -> Matrix: ...

    def get(self, name: str) -> Playbook | None: ...


class PlaybookSource(Protocol):
    """The latest valid playbooks and matrix (kept up to date apart from the readers)."""

    @property
    def current(self) -> PlaybookSet: ...


class Timers(Protocol):
    """The alarm clock: wake the service at ``when`` (None: nothing is due)."""

    def wake_at(self, when: datetime | None) -> None: ...


class NoTimers:
    """Timers for callers that tick by hand (tests, CLI)."""

    def wake_at(self, when: datetime | None) -> None:
        self.last = when


class Notifier(Protocol):
    """Delivery: rows were committed to the outbox, send them soon (returns at once).

    Enqueueing is part of the store's transaction; this is only the nudge after the commit,
    so a lost nudge delays a message until delivery's own poll and never loses it.
    """

    def kick(self) -> None: ...


class NoNotifier:
    """A notifier for callers without delivery (tests, CLI): counts the nudges."""

    def __init__(self) -> None:
        self.kicks = 0

    def kick(self) -> None:
        self.kicks += 1


def incident_number(year: int, seq: int, drill: bool) -> str:
    """``2026-0007``, or ``DRILL-2026-0003`` for a drill (演练)."""
    return f"{'DRILL-' if drill else ''}{year}-{seq:04d}"


# --- the store: one unit of work per use case -------------------------------------------


class NotFound(LookupError):
    """No such incident (or playbook snapshot)."""


class Store(Protocol[Tx_co]):
    """Transactions over the database, each seen through ``Tx_co`` (what one service needs)."""

    async def write(self, work: Callable[[Tx_co], Awaitable[T]]) -> T:
        """Run ``work`` in one transaction, committed when it returns.

        An exception rolls everything back and propagates. A lost race (a concurrent change
        to the same incident, a unique key taken meanwhile, a deadlock) rolls back and runs
        ``work`` again on fresh data, so ``work`` must not keep state between attempts.
        """
        ...

    async def read(self, work: Callable[[Tx_co], Awaitable[T]]) -> T:
        """Run ``work`` on one read-only snapshot (nothing is committed)."""
        ...


class Loaded(Protocol):
    """An incident's state as loaded for update; saved back through the same transaction."""

    @property
    def state(self) -> IncidentState: ...


@dataclass(frozen=True)
class DueTimer:
    """A timer claimed by a tick: it is fired by whoever commits the claim."""

    id: int
    incident_id: int
    kind: TimerKind
    target: str
    due_at: datetime


@dataclass(frozen=True)
class OpenIncident:
    number: str
    state: IncidentState
    channel_id: str | None


class IncidentTx(Protocol):
    """What the incident use cases do inside one transaction."""

    async def recall_key(self, key: str) -> dict[str, Any] | None:
        """The result remembered under an idempotency key, or None."""
        ...

    async def remember_key(self, key: str, result: dict[str, Any], now: datetime) -> None: ...

    async def load(self, incident_id: int, matrix: Matrix) -> Loaded:
        """The incident for update (NotFound if there is none)."""
        ...

    async def record(self, loaded: Loaded, events: Sequence[Event], now: datetime) -> None:
        """Save what changed in the state (a concurrent change since the load is a lost
        race), append ``events`` to the hash-chained timeline and put them in the outbox."""
        ...

    async def log(self, incident_id: int, events: Sequence[Event], now: datetime) -> None:
        """Timeline and outbox only (the state is saved already, or unchanged)."""
        ...

    async def playbook_snapshot(self, playbook: Playbook, now: datetime) -> str:
        """Store the playbook once under its content hash; return the hash."""
        ...

    async def next_number(self, *, year: int, drill: bool) -> int: ...

    async def insert_incident(
        self,
        state: IncidentState,
        *,
        playbook_hash: str,
        year: int,
        seq: int,
        report: ReportFields,
    ) -> Loaded:
        """A new incident row and report version 1; sets ``state.id``."""
        ...

    async def current_report(self, incident_id: int) -> tuple[int, ReportFields]: ...

    async def add_report(
        self, incident_id: int, report: ReportFields, *, version: int, by: str, at: datetime
    ) -> None: ...

    async def claim_due_timers(
        self, now: datetime, holder: str, *, skip: Collection[int], limit: int
    ) -> list[DueTimer]:
        """Up to ``limit`` of the earliest due timers, claimed with this transaction."""
        ...

    async def record_timer_failure(
        self, timer_id: int, *, error: str, now: datetime, holder: str, give_up: int
    ) -> bool:
        """Count a failed firing; True when the timer is set aside (``give_up`` reached)."""
        ...

    async def next_due(self) -> datetime | None: ...

    async def timeline(self, incident_id: int) -> list[ChainEntry]: ...

    async def open_incidents(self, matrix: Matrix) -> list[OpenIncident]:
        """Every open incident, oldest first, in a fixed number of queries."""
        ...


IncidentStore: TypeAlias = Store[IncidentTx]


# --- what the after-action records and the audit read -----------------------------------


@dataclass(frozen=True)
class IncidentRow:
    """How an incident is known outside its state: number, channel, title."""

    id: int
    year: int
    seq: int
    drill: bool
    playbook_id: str
    title: str
    declared_at: datetime
    channel_id: str | None = None
    channel_name: str | None = None

    @property
    def number(self) -> str:
        return incident_number(self.year, self.seq, self.drill)


@dataclass(frozen=True)
class ReportVersion:
    """One stored version of the Article 5.1 report (field order as exported)."""

    version: int
    occurred_at: datetime
    place: str
    nature: str
    scope: str
    trend: str
    measures: str
    unit_id: str
    contact_phone: str
    title: str
    submitted_by: str
    submitted_at: datetime


@dataclass(frozen=True)
class IncidentVersion:
    """An incident's id, optimistic version and status: enough to tell whether it moved."""

    id: int
    version: int
    status: str


class RecordTx(Protocol):
    """Reads for the after-action records and the audit check."""

    async def incident_by_number(
        self, *, drill: bool, year: int, seq: int
    ) -> IncidentRow | None: ...

    async def incident_by_id(self, incident_id: int) -> IncidentRow | None: ...

    async def incident_by_channel(self, channel: str) -> IncidentRow | None:
        """By the channel's id or name."""
        ...

    async def load(self, incident_id: int, matrix: Matrix) -> Loaded: ...

    async def timeline(self, incident_id: int) -> list[ChainEntry]: ...

    async def reports(self, incident_id: int) -> list[ReportVersion]:
        """Every version of the report, oldest first."""
        ...

    async def drill_of(self, incident_id: int) -> str | None:
        """The scheduled drill this incident is a run of, if any."""
        ...

    async def previous_drill(self, row: IncidentRow, drill_id: str | None) -> IncidentRow | None:
        """The run before ``row`` of the same scheduled drill (unscheduled: same playbook)."""
        ...

    async def declared(
        self, *, since: datetime | None, until: datetime | None
    ) -> list[IncidentVersion]:
        """Incidents declared in [since, until), cancelled ones left out, by id."""
        ...


RecordStore: TypeAlias = Store[RecordTx]


# --- drills ------------------------------------------------------------------------------


class DrillTx(Protocol):
    async def claim_drill_run(
        self, drill_id: str, at: datetime, *, holder: str, now: datetime, stale_before: datetime
    ) -> bool:
        """True if ``holder`` now owns the run: it is new, or an abandoned claim (made
        before ``stale_before`` and with no incident) was taken over."""
        ...

    async def set_drill_incident(self, drill_id: str, at: datetime, incident_id: int) -> None: ...


DrillStore: TypeAlias = Store[DrillTx]


# --- early warnings ----------------------------------------------------------------------


@dataclass
class AlertRecord:
    """A monitoring alert as stored (``labels`` is the JSON object the sender gave)."""

    source: str
    kind: str
    fingerprint: str
    status: str
    summary: str
    details: str
    labels: str
    first_seen_at: datetime
    last_seen_at: datetime
    action: str
    id: int | None = None
    live_key: str | None = None
    url: str | None = None
    starts_at: datetime | None = None
    ends_at: datetime | None = None
    count: int = 1
    playbook_id: str | None = None
    severity: str | None = None
    rule: str | None = None
    incident_id: int | None = None
    declared_by: str | None = None
    resolved_at: datetime | None = None
    dismissed_at: datetime | None = None
    dismissed_by: str | None = None
    dismiss_reason: str | None = None
    channel: str | None = None
    ts: str | None = None
    version: int = 1

    def label_map(self) -> dict[str, str]:
        data: Any = json.loads(self.labels or "{}")
        return {str(k): str(v) for k, v in data.items()} if isinstance(data, dict) else {}


class AlertTx(Protocol):
    async def find_open_alert(self, live_key: str) -> AlertRecord | None:
        """The open alert with ``live_key``, locked for update."""
        ...

    async def get_alert(self, alert_id: int, *, lock: bool = False) -> AlertRecord | None: ...

    async def add_alert(self, alert: AlertRecord) -> None:
        """Insert; sets ``alert.id`` (a twin taken meanwhile is a lost race)."""
        ...

    async def update_alert(self, alert: AlertRecord) -> None: ...

    async def show_alert(self, alert_id: int, channel: str, now: datetime) -> None:
        """Ask delivery (the outbox) to show the alert as it is now."""
        ...


AlertStore: TypeAlias = Store[AlertTx]
