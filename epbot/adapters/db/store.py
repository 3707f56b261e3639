"""The services' store ports over SQLAlchemy: one session per unit of work.

``SqlStore.write`` is the only place that commits for the services: it runs their work in a
transaction and runs it again after a lost race (the incident changed since it was loaded,
a unique key was taken meanwhile, a PostgreSQL deadlock or serialization failure). On
SQLite, which has one writer at a time, this process's writers queue on a lock instead of
spinning on "database is locked" (other processes are still handled by the retries).
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Awaitable, Callable, Collection, Sequence
from datetime import datetime
from typing import Any, TypeVar

from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlmodel.ext.asyncio.session import AsyncSession

from epbot.adapters.db import alert_store, drill_runs, incident_rows, report_versions
from epbot.adapters.db import repository as repo
from epbot.adapters.db.engine import make_sessionmaker
from epbot.domain.audit import ChainEntry
from epbot.domain.incident import Event, IncidentState, ReportFields
from epbot.domain.matrix import Matrix
from epbot.domain.playbook import Playbook
from epbot.services.ports import (
    AlertRecord,
    DueTimer,
    IncidentRow,
    IncidentVersion,
    Loaded,
    OpenIncident,
    ReportVersion,
    incident_number,
)

log = logging.getLogger(__name__)

T = TypeVar("T")
RETRIES = 12  # lost races in a row before giving up (n writers on one incident need n)
# PostgreSQL's "try again" states: serialization failure and deadlock. asyncpg surfaces them
# as a plain DBAPIError (not OperationalError), e.g. an ack cancelling a page's timer while a
# tick holds that timer's claim and waits for the incident row.
_RETRY_SQLSTATES = {"40001", "40P01"}


def retryable(exc: DBAPIError) -> bool:
    """A lost race (unique key, lock, deadlock, serialization): roll back and try again."""
    if isinstance(exc, IntegrityError):
        return True
    if getattr(exc.orig, "sqlstate", None) in _RETRY_SQLSTATES:
        return True
    text = str(exc.orig).lower()
    return "locked" in text or "deadlock" in text or "serializ" in text or "busy" in text


class SqlStore:
    """Every store port of the services (incidents, alerts, drills, records) on one engine."""

    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine
        self._sessions = make_sessionmaker(engine)
        self._write_lock = asyncio.Lock() if engine.dialect.name == "sqlite" else None

    async def write(self, work: Callable[[SqlTx], Awaitable[T]]) -> T:
        for attempt in range(RETRIES):
            try:
                if self._write_lock is None:
                    return await self._once(work)
                async with self._write_lock:
                    return await self._once(work)
            except (repo.StaleState, DBAPIError) as exc:
                if isinstance(exc, DBAPIError) and not retryable(exc):
                    raise
                log.debug("retrying after a lost race (%s): %s", attempt + 1, exc)
                # Jittered, growing pauses: racers that collided do not collide again in step.
                await asyncio.sleep(random.uniform(0.002, 0.005 * 2 ** min(attempt, 5)))
        raise RuntimeError("gave up after repeated concurrent updates")

    async def _once(self, work: Callable[[SqlTx], Awaitable[T]]) -> T:
        async with self._sessions() as session, session.begin():
            return await work(SqlTx(session))

    async def read(self, work: Callable[[SqlTx], Awaitable[T]]) -> T:
        async with self._sessions() as session:
            return await work(SqlTx(session))


class SqlTx:
    """One transaction, seen through the services' ports (``IncidentTx``, ``AlertTx``...)."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    # --- incidents ---------------------------------------------------------------------

    async def recall_key(self, key: str) -> dict[str, Any] | None:
        return await repo.recall_key(self.session, key)

    async def remember_key(self, key: str, result: dict[str, Any], now: datetime) -> None:
        await repo.remember_key(self.session, key, result, now)

    async def load(self, incident_id: int, matrix: Matrix) -> repo.Loaded:
        return await repo.load(self.session, incident_id, matrix)

    async def record(self, loaded: Loaded, events: Sequence[Event], now: datetime) -> None:
        assert isinstance(loaded, repo.Loaded)
        assert loaded.state.id is not None
        await repo.save(self.session, loaded)
        await self.log(loaded.state.id, events, now)

    async def log(self, incident_id: int, events: Sequence[Event], now: datetime) -> None:
        if events:
            rows = await repo.append_timeline(self.session, incident_id, events)
            chains = [(row.seq, row.hash) for row in rows]
            await repo.enqueue_events(self.session, incident_id, events, now, chains)

    async def playbook_snapshot(self, playbook: Playbook, now: datetime) -> str:
        return await repo.playbook_snapshot(self.session, playbook, now)

    async def next_number(self, *, year: int, drill: bool) -> int:
        return await repo.next_number(self.session, year=year, drill=drill)

    async def insert_incident(
        self,
        state: IncidentState,
        *,
        playbook_hash: str,
        year: int,
        seq: int,
        report: ReportFields,
    ) -> repo.Loaded:
        return await repo.insert_incident(
            self.session, state, playbook_hash=playbook_hash, year=year, seq=seq, report=report
        )

    async def current_report(self, incident_id: int) -> tuple[int, ReportFields]:
        return await report_versions.current(self.session, incident_id)

    async def add_report(
        self, incident_id: int, report: ReportFields, *, version: int, by: str, at: datetime
    ) -> None:
        await report_versions.add_version(
            self.session, incident_id, report, version=version, by=by, at=at
        )

    async def claim_due_timers(
        self, now: datetime, holder: str, *, skip: Collection[int], limit: int
    ) -> list[DueTimer]:
        return await repo.claim_due_timers(self.session, now, holder, skip=skip, limit=limit)

    async def record_timer_failure(
        self, timer_id: int, *, error: str, now: datetime, holder: str, give_up: int
    ) -> bool:
        return await repo.record_timer_failure(
            self.session, timer_id, error=error, now=now, holder=holder, give_up=give_up
        )

    async def next_due(self) -> datetime | None:
        return await repo.next_due(self.session)

    async def timeline(self, incident_id: int) -> list[ChainEntry]:
        return await repo.timeline(self.session, incident_id)

    async def open_incidents(self, matrix: Matrix) -> list[OpenIncident]:
        return [
            OpenIncident(
                number=incident_number(loaded.row.year, loaded.row.seq, loaded.row.drill),
                state=loaded.state,
                channel_id=loaded.row.channel_id,
            )
            for loaded in await repo.load_open(self.session, matrix)
        ]

    # --- records and audit -------------------------------------------------------------

    async def incident_by_number(self, *, drill: bool, year: int, seq: int) -> IncidentRow | None:
        return await incident_rows.by_number(self.session, drill=drill, year=year, seq=seq)

    async def incident_by_id(self, incident_id: int) -> IncidentRow | None:
        return await incident_rows.by_id(self.session, incident_id)

    async def incident_by_channel(self, channel: str) -> IncidentRow | None:
        return await incident_rows.by_channel(self.session, channel)

    async def reports(self, incident_id: int) -> list[ReportVersion]:
        return await report_versions.versions(self.session, incident_id)

    async def drill_of(self, incident_id: int) -> str | None:
        return await incident_rows.drill_of(self.session, incident_id)

    async def previous_drill(self, row: IncidentRow, drill_id: str | None) -> IncidentRow | None:
        return await incident_rows.previous_drill(self.session, row, drill_id)

    async def declared(
        self, *, since: datetime | None, until: datetime | None
    ) -> list[IncidentVersion]:
        return await incident_rows.declared(self.session, since=since, until=until)

    # --- drills ------------------------------------------------------------------------

    async def claim_drill_run(
        self, drill_id: str, at: datetime, *, holder: str, now: datetime, stale_before: datetime
    ) -> bool:
        return await drill_runs.claim(
            self.session, drill_id, at, holder=holder, now=now, stale_before=stale_before
        )

    async def set_drill_incident(self, drill_id: str, at: datetime, incident_id: int) -> None:
        await drill_runs.set_incident(self.session, drill_id, at, incident_id)

    # --- alerts ------------------------------------------------------------------------

    async def find_open_alert(self, live_key: str) -> AlertRecord | None:
        row = await alert_store.find_open(self.session, live_key)
        return None if row is None else alert_store.record_of(row)

    async def get_alert(self, alert_id: int, *, lock: bool = False) -> AlertRecord | None:
        row = await alert_store.get(self.session, alert_id, lock=lock)
        return None if row is None else alert_store.record_of(row)

    async def add_alert(self, alert: AlertRecord) -> None:
        await alert_store.add(self.session, alert)

    async def update_alert(self, alert: AlertRecord) -> None:
        await alert_store.update(self.session, alert)

    async def show_alert(self, alert_id: int, channel: str, now: datetime) -> None:
        await alert_store.enqueue(self.session, alert_id, channel, now)
