"""load: many open incidents with their pending timers: the process's RSS, and the cost of
one timer tick (firing one timer) with 10 and with 1,000 open incidents, in the same run.

    .venv/bin/python -m bench.load [--db sqlite|postgres] [--incidents 1000]
"""

from __future__ import annotations

import argparse
import asyncio
import resource
import statistics
import time
from datetime import UTC, datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from bench.common import emit, note
from bench.timers import pending_timers, setup
from epbot.adapters.db import models as m
from epbot.adapters.db.engine import make_sessionmaker
from epbot.services.incidents import IncidentService

BENCH = "load"


async def tick_cost(service: IncidentService, engine: AsyncEngine, rounds: int = 30) -> float:
    """Median seconds of a tick that fires exactly one timer."""
    sessions = make_sessionmaker(engine)
    async with sessions() as session, session.begin():
        await session.exec(  # type: ignore[call-overload]
            sa.update(m.Timer)
            .where(m.Timer.fired_at.is_(None))  # type: ignore[union-attr]
            .values(due_at=datetime.now(UTC) + timedelta(days=30))
        )
    costs: list[float] = []
    for _ in range(rounds):
        async with sessions() as session, session.begin():
            pick = (
                sa.select(m.Timer.id)
                .where(m.Timer.fired_at.is_(None), m.Timer.kind == "step_reminder")  # type: ignore[union-attr,arg-type]
                .limit(1)
                .scalar_subquery()
            )
            await session.exec(  # type: ignore[call-overload]
                sa.update(m.Timer)
                .where(m.Timer.id == pick)  # type: ignore[arg-type]
                .values(due_at=datetime.now(UTC) - timedelta(seconds=1))
            )
        started = time.perf_counter()
        fired = await service.tick()
        costs.append(time.perf_counter() - started)
        assert fired == 1, fired
    return statistics.median(costs)


async def main(kind: str, incidents: int) -> None:
    small, small_engine, n_small = await setup(kind, incidents_at_least=10)
    cost_small = await tick_cost(small, small_engine)
    await small_engine.dispose()
    big, big_engine, n_big = await setup(kind, incidents_at_least=incidents)
    pending = await pending_timers(big_engine)
    cost_big = await tick_cost(big, big_engine)
    rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    emit(
        BENCH,
        "max_rss_mb",
        round(rss_mb, 1),
        db=kind,
        incidents=n_big,
        pending=pending,
        target="<= 250",
    )
    emit(
        BENCH,
        "tick_seconds",
        {"open_10": round(cost_small, 4), f"open_{n_big}": round(cost_big, 4)},
        db=kind,
    )
    emit(
        BENCH,
        "tick_cost_ratio",
        round(cost_big / cost_small, 2),
        db=kind,
        target="about 1 (independent of open incidents)",
    )
    await big_engine.dispose()
    note(f"declared {n_small} + {n_big} incidents")


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--db", choices=("sqlite", "postgres"), default="sqlite")
    parser.add_argument("--incidents", type=int, default=1000)
    a = parser.parse_args()
    asyncio.run(main(a.db, a.incidents))
