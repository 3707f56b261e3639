"""An in-memory store for the incident service: the ports' contract without a database.

``write`` runs the work on a copy of everything and keeps the copy only if the work
returns, so a raised error leaves nothing behind, as a rolled-back transaction does. Loads
hand out copies (saving is explicit, as with the tables), with only live timers, as the
repository does. Child rows get ids when first saved; the timeline is hash-chained with
the domain's own functions, so the audit check runs on it too.
"""

from __future__ import annotations

import copy
from collections.abc import Awaitable, Callable, Collection, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, TypeVar

from epbot.domain.audit import GENESIS, ChainEntry, canonical, entry_hash
from epbot.domain.incident import Event, IncidentState, ReportFields, TimerState
from epbot.domain.matrix import Matrix
from epbot.domain.playbook import Playbook
from epbot.services.ports import DueTimer, NotFound, OpenIncident, incident_number

T = TypeVar("T")


@dataclass
class Loaded:
    state: IncidentState


@dataclass
class Tables:
    """Everything the fake stores; copied whole for each transaction."""

    incidents: dict[int, IncidentState] = field(default_factory=dict)
    numbers: dict[int, tuple[int, int, bool]] = field(default_factory=dict)  # year, seq, drill
    counters: dict[tuple[int, bool], int] = field(default_factory=dict)
    reports: dict[int, list[tuple[int, ReportFields]]] = field(default_factory=dict)
    timeline: dict[int, list[ChainEntry]] = field(default_factory=dict)
    outbox: list[tuple[int, str]] = field(default_factory=list)  # (incident, event kind)
    keys: dict[str, dict[str, Any]] = field(default_factory=dict)
    snapshots: dict[str, Playbook] = field(default_factory=dict)
    failures: dict[int, int] = field(default_factory=dict)  # timer id -> failed firings
    last_id: int = 0  # one sequence for every kind of row


def _copy(state: IncidentState) -> IncidentState:
    # The playbook and the matrix are immutable models: shared, not copied.
    shared = {id(state.playbook): state.playbook, id(state.matrix): state.matrix}
    return copy.deepcopy(state, shared)


class FakeTx:
    def __init__(self, tables: Tables) -> None:
        self.t = tables

    def _new_id(self) -> int:
        self.t.last_id += 1
        return self.t.last_id

    async def recall_key(self, key: str) -> dict[str, Any] | None:
        return self.t.keys.get(key)

    async def remember_key(self, key: str, result: dict[str, Any], now: datetime) -> None:
        self.t.keys[key] = dict(result)

    async def load(self, incident_id: int, matrix: Matrix) -> Loaded:
        if incident_id not in self.t.incidents:
            raise NotFound(f"incident {incident_id}")
        state = _copy(self.t.incidents[incident_id])
        state.matrix = matrix
        state.timers = [t for t in state.timers if t.live]
        return Loaded(state)

    def _save(self, state: IncidentState) -> None:
        assert state.id is not None
        children: list[Any] = [
            *state.steps.values(),
            *state.approvals.values(),
            *state.pages,
            *state.timers,
            *state.receipts,
        ]
        for child in children:
            if child.id is None:
                child.id = self._new_id()
        kept = self.t.incidents.get(state.id)
        saved = _copy(state)
        if kept is not None:  # fired and cancelled timers stay stored, as rows do
            live = {t.id for t in saved.timers}
            saved.timers = [t for t in kept.timers if t.id not in live] + saved.timers
        self.t.incidents[state.id] = saved

    async def record(self, loaded: Any, events: Sequence[Event], now: datetime) -> None:
        self._save(loaded.state)
        await self.log(loaded.state.id, events, now)

    async def log(self, incident_id: int, events: Sequence[Event], now: datetime) -> None:
        chain = self.t.timeline.setdefault(incident_id, [])
        for event in events:
            prev = chain[-1].hash if chain else GENESIS
            payload = canonical(event.data)
            seq = len(chain) + 1
            fields = {"incident_id": incident_id, "seq": seq, "at": event.at}
            fields |= {"actor": event.actor, "kind": event.kind, "payload": payload}
            chain.append(
                ChainEntry(**fields, prev_hash=prev, hash=entry_hash(prev_hash=prev, **fields))
            )
            self.t.outbox.append((incident_id, event.kind))

    async def playbook_snapshot(self, playbook: Playbook, now: datetime) -> str:
        digest = playbook.content_hash()
        self.t.snapshots.setdefault(digest, playbook)
        return digest

    async def next_number(self, *, year: int, drill: bool) -> int:
        self.t.counters[(year, drill)] = self.t.counters.get((year, drill), 0) + 1
        return self.t.counters[(year, drill)]

    async def insert_incident(
        self,
        state: IncidentState,
        *,
        playbook_hash: str,
        year: int,
        seq: int,
        report: ReportFields,
    ) -> Loaded:
        assert playbook_hash in self.t.snapshots
        state.id = self._new_id()
        self.t.numbers[state.id] = (year, seq, state.drill)
        self.t.reports[state.id] = [(1, report)]
        self._save(state)
        return Loaded(state)

    async def current_report(self, incident_id: int) -> tuple[int, ReportFields]:
        return self.t.reports[incident_id][-1]

    async def add_report(
        self, incident_id: int, report: ReportFields, *, version: int, by: str, at: datetime
    ) -> None:
        self.t.reports[incident_id].append((version, report))

    def _live_timers(self) -> list[tuple[int, TimerState]]:
        return [
            (incident_id, timer)
            for incident_id, state in self.t.incidents.items()
            for timer in state.timers
            if timer.live
        ]

    async def claim_due_timers(
        self, now: datetime, holder: str, *, skip: Collection[int], limit: int
    ) -> list[DueTimer]:
        due = sorted(
            (
                (timer.due_at, timer.id or 0, incident_id, timer)
                for incident_id, timer in self._live_timers()
                if timer.due_at <= now and timer.id not in skip
            ),
            key=lambda found: (found[0], found[1]),
        )[:limit]
        claimed = []
        for _, timer_id, incident_id, timer in due:
            timer.fired_at = now
            claimed.append(DueTimer(timer_id, incident_id, timer.kind, timer.target, timer.due_at))
        return claimed

    async def record_timer_failure(
        self, timer_id: int, *, error: str, now: datetime, holder: str, give_up: int
    ) -> bool:
        for _, timer in self._live_timers():
            if timer.id == timer_id:
                self.t.failures[timer_id] = self.t.failures.get(timer_id, 0) + 1
                if self.t.failures[timer_id] >= give_up:
                    timer.fired_at = now
                    return True
        return False

    async def next_due(self) -> datetime | None:
        return min((timer.due_at for _, timer in self._live_timers()), default=None)

    async def timeline(self, incident_id: int) -> list[ChainEntry]:
        return list(self.t.timeline.get(incident_id, []))

    async def open_incidents(self, matrix: Matrix) -> list[OpenIncident]:
        found = []
        for incident_id, state in sorted(self.t.incidents.items()):
            if state.is_open:
                loaded = await self.load(incident_id, matrix)
                found.append(
                    OpenIncident(incident_number(*self.t.numbers[incident_id]), loaded.state, None)
                )
        return found


class FakeStore:
    """``Store[IncidentTx]`` in memory: each write commits a whole copy or nothing."""

    def __init__(self) -> None:
        self.tables = Tables()
        self.commits = 0

    async def write(self, work: Callable[[FakeTx], Awaitable[T]]) -> T:
        draft = copy.deepcopy(self.tables, _shared_models(self.tables))
        result = await work(FakeTx(draft))
        self.tables = draft
        self.commits += 1
        return result

    async def read(self, work: Callable[[FakeTx], Awaitable[T]]) -> T:
        return await work(FakeTx(copy.deepcopy(self.tables, _shared_models(self.tables))))


def _shared_models(tables: Tables) -> dict[int, Any]:
    memo: dict[int, Any] = {}
    for state in tables.incidents.values():
        memo[id(state.playbook)] = state.playbook
        memo[id(state.matrix)] = state.matrix
    for playbook in tables.snapshots.values():
        memo[id(playbook)] = playbook
    return memo


class RecordingNotifier:
    """Counts kicks and notes how many outbox rows were committed at each one."""

    def __init__(self, store: FakeStore) -> None:
        self.store = store
        self.seen: list[int] = []

    def kick(self) -> None:
        self.seen.append(len(self.store.tables.outbox))


class RecordingTimers:
    def __init__(self) -> None:
        self.asked: list[datetime | None] = []

    def wake_at(self, when: datetime | None) -> None:
        self.asked.append(when)
