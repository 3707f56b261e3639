"""Drill runs: one row per (drill, scheduled time); whoever inserts it starts the drill."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import col
from sqlmodel.ext.asyncio.session import AsyncSession

from epbot.adapters.db import models as m


async def claim(
    session: AsyncSession,
    drill_id: str,
    at: datetime,
    *,
    holder: str,
    now: datetime,
    stale_before: datetime,
) -> bool:
    """True if ``holder`` now owns the run: it inserted the row, or took over a claim made
    before ``stale_before`` that never got its incident."""
    table = m.DrillRun.__table__  # type: ignore[attr-defined]
    dialect = postgresql if session.get_bind().dialect.name == "postgresql" else sqlite
    values = {"drill_id": drill_id, "scheduled_for": at, "claimed_by": holder}
    insert = (
        dialect.insert(table)
        .values(**values, claimed_at=now)
        .on_conflict_do_nothing(index_elements=["drill_id", "scheduled_for"])
        .returning(table.c.id)
    )
    if (await session.exec(insert)).first() is not None:
        return True
    take_over = (
        sa.update(table)
        .where(
            table.c.drill_id == drill_id,
            table.c.scheduled_for == at,
            table.c.incident_id.is_(None),
            table.c.claimed_at < stale_before,
        )
        .values(claimed_by=holder, claimed_at=now)
        .returning(table.c.id)
    )
    return (await session.exec(take_over)).first() is not None


async def set_incident(
    session: AsyncSession, drill_id: str, at: datetime, incident_id: int
) -> None:
    await session.exec(
        sa.update(m.DrillRun)
        .where(col(m.DrillRun.drill_id) == drill_id, col(m.DrillRun.scheduled_for) == at)
        .values(incident_id=incident_id)
    )
