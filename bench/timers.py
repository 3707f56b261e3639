"""timers: lateness of timer firings with 10,000 pending timers, on the real alarm clock.

Declares incidents until about ``--pending`` timers wait in the table, spreads their due
times evenly over ``--spread`` seconds from now, runs the real alarm clock (APScheduler
rings, the service ticks) for ``--measure`` seconds, and prints the lateness of every
firing (wall time the timer's firing ran minus its due time): p50/p99/max.

    .venv/bin/python -m bench.timers [--db sqlite|postgres] [--pending 10000]
"""

from __future__ import annotations

import argparse
import asyncio
import time
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from bench.common import ROOT, emit, note, sqlite_url, summary
from epbot.adapters.clock import SystemClock
from epbot.adapters.db import models as m
from epbot.adapters.db.engine import make_engine, make_sessionmaker
from epbot.adapters.db.migrate import upgrade_async
from epbot.adapters.db.store import SqlStore
from epbot.adapters.playbook_files import PlaybookLibrary
from epbot.adapters.timers import SchedulerTimers
from epbot.domain.incident import ReportFields
from epbot.services.incidents import IncidentService

BENCH = "timers"
PG_ADMIN = "postgresql+asyncpg://postgres@127.0.0.1:5432/postgres"


async def database(kind: str) -> str:
    if kind == "sqlite":
        return sqlite_url()
    name = f"epbot_bench_{uuid.uuid4().hex[:8]}"
    admin = create_async_engine(PG_ADMIN, isolation_level="AUTOCOMMIT")
    async with admin.connect() as conn:
        await conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    await admin.dispose()
    return f"postgresql+asyncpg://postgres@127.0.0.1:5432/{name}"


def report(n: int) -> ReportFields:
    return ReportFields(
        occurred_at=datetime.now(UTC) - timedelta(minutes=1),
        place="server room",
        nature="database crash",
        scope="all units",
        trend="stable",
        measures="none yet",
        unit_id="user-it",
        contact_phone="+86 22-2630-0101",
        title=f"bench {n}",
    )


async def pending_timers(engine: AsyncEngine) -> int:
    async with make_sessionmaker(engine)() as session:
        result = await session.exec(  # type: ignore[call-overload]
            sa.select(sa.func.count()).select_from(m.Timer).where(m.Timer.fired_at.is_(None))  # type: ignore[union-attr]
        )
        return int(result.scalar_one())


async def setup(
    kind: str, *, pending: int = 0, incidents_at_least: int = 0
) -> tuple[IncidentService, AsyncEngine, int]:
    url = await database(kind)
    await upgrade_async(url)
    engine = make_engine(url)
    library = PlaybookLibrary(ROOT / "playbooks")
    library.load()
    service = IncidentService(store=SqlStore(engine), clock=SystemClock(), playbooks=library)
    incidents = 0
    while incidents < incidents_at_least or await pending_timers(engine) < pending:
        for _ in range(50):
            await service.declare(
                key=f"bench-{incidents}",
                playbook="db-crash",
                severity=None,
                report=report(incidents),
                reporter="U09REPORTER",
            )
            incidents += 1
    return service, engine, incidents


async def spread(engine: AsyncEngine, seconds: float) -> set[int]:
    """Due times evenly from 5 s to ``5 + seconds`` s from now, in table order."""
    async with make_sessionmaker(engine)() as session, session.begin():
        ids = [
            i
            for (i,) in await session.exec(  # type: ignore[call-overload]
                sa.select(m.Timer.id).where(m.Timer.fired_at.is_(None)).order_by(m.Timer.id)  # type: ignore[union-attr,arg-type]
            )
        ]
        start = datetime.now(UTC) + timedelta(seconds=5)
        step = seconds / max(len(ids), 1)
        for n, timer_id in enumerate(ids):
            await session.exec(  # type: ignore[call-overload]
                sa.update(m.Timer)
                .where(m.Timer.id == timer_id)  # type: ignore[arg-type]
                .values(due_at=start + timedelta(seconds=n * step))
            )
    return set(ids)


def record_lateness(out: list[float], ids: set[int], since: datetime) -> None:
    """The lateness of each of ``ids`` when it is claimed to fire. Timers that firings add
    (a step's deadline counted from a declaration minutes ago may already be past when the
    step opens) are left out: they measure the scenario, not the alarm clock. So are those
    due before ``since`` (the alarm clock's start): ``spread`` updates ten thousand rows one
    by one, and the first due times pass while it does (they measure the set-up)."""
    from epbot.adapters.db import repository

    original = repository.claim_due_timers

    async def timed(*args: Any, **kwargs: Any) -> Any:
        claimed = await original(*args, **kwargs)
        at = time.time()
        out.extend(
            at - c.due_at.timestamp() for c in claimed if c.id in ids and c.due_at >= since
        )
        return claimed

    repository.claim_due_timers = timed  # type: ignore[assignment]


async def main(kind: str, pending: int, spread_s: float, measure: float) -> None:
    t0 = time.perf_counter()
    service, engine, incidents = await setup(kind, pending=pending)
    spread_ids = await spread(engine, spread_s)
    total = len(spread_ids)
    took = time.perf_counter() - t0
    note(f"{incidents} incidents, {total} pending timers, set up in {took:.0f}s")
    lateness: list[float] = []
    timers = SchedulerTimers(service.tick, clock=SystemClock(), poll_interval=timedelta(seconds=15))
    service.timers = timers
    record_lateness(lateness, spread_ids, since=datetime.now(UTC))
    timers.start()
    await asyncio.sleep(measure)
    await timers.shutdown()
    emit(
        BENCH,
        "lateness_seconds",
        summary(lateness),
        db=kind,
        pending=total,
        incidents=incidents,
        spread_seconds=spread_s,
        target="p99 <= 1",
    )
    emit(BENCH, "still_pending", await pending_timers(engine), db=kind)
    await engine.dispose()


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--db", choices=("sqlite", "postgres"), default="sqlite")
    parser.add_argument("--pending", type=int, default=10_000)
    parser.add_argument("--spread", type=float, default=600.0)
    parser.add_argument("--measure", type=float, default=60.0)
    a = parser.parse_args()
    asyncio.run(main(a.db, a.pending, a.spread, a.measure))
