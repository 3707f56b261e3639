"""Timer rows: the atomic claim of due timers, failed firings, and the next due time."""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime

import sqlalchemy as sa
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from epbot.adapters.db import models as m
from epbot.adapters.db.types import UTCDateTime
from epbot.domain.incident import TimerKind
from epbot.services.ports import DueTimer

ClaimedTimer = DueTimer  # the name callers of this module knew it by


async def claim_due_timers(
    session: AsyncSession,
    now: datetime,
    holder: str,
    *,
    skip: Collection[int] = (),
    limit: int = 1,
) -> list[DueTimer]:
    """Mark up to ``limit`` of the earliest due, unfired timers as fired by ``holder`` and
    return them in due order.

    The claim commits with the caller's transaction, together with what the timers did, so
    a crash in between fires them again later, and a commit fires each exactly once. On
    PostgreSQL ``FOR UPDATE SKIP LOCKED`` lets several processes claim different timers
    at once; on SQLite the write lock serialises claims.
    """
    bind = session.get_bind()
    pick = (
        select(col(m.Timer.id))
        .where(
            col(m.Timer.fired_at).is_(None),
            col(m.Timer.cancelled).is_(False),
            col(m.Timer.due_at) <= now,
            col(m.Timer.id).not_in(list(skip)) if skip else sa.true(),
        )
        .order_by(col(m.Timer.due_at), col(m.Timer.id))
        .limit(limit)
    )
    if bind.dialect.name == "postgresql":
        # A materialized CTE: PostgreSQL may run an ``IN (subquery LIMIT n)`` more than
        # once, and with SKIP LOCKED each run can pick other rows (more than ``limit``).
        picked = pick.with_for_update(skip_locked=True).cte("picked").prefix_with("MATERIALIZED")
        chosen = col(m.Timer.id) == picked.c.id
    else:
        # Not a CTE on SQLite: Python's sqlite3 opens its implicit transaction only before
        # a statement that starts with UPDATE, so ``WITH ... UPDATE`` would autocommit the
        # claim apart from what the timers did.
        chosen = col(m.Timer.id).in_(pick.scalar_subquery())
    result = await session.exec(
        sa.update(m.Timer)
        .where(chosen, col(m.Timer.fired_at).is_(None))
        .values(fired_at=now, claimed_by=holder)
        .returning(
            col(m.Timer.id),
            col(m.Timer.incident_id),
            col(m.Timer.kind),
            col(m.Timer.target),
            col(m.Timer.due_at),
        )
    )
    claimed = []
    for found in result.all():
        due_at = found[4]
        if isinstance(due_at, datetime) and due_at.tzinfo is None:
            due_at = due_at.replace(tzinfo=now.tzinfo)
        claimed.append(
            DueTimer(
                id=found[0],
                incident_id=found[1],
                kind=TimerKind(found[2]),
                target=found[3],
                due_at=due_at,
            )
        )
    return sorted(claimed, key=lambda c: (c.due_at, c.id))


async def record_timer_failure(
    session: AsyncSession, timer_id: int, *, error: str, now: datetime, holder: str, give_up: int
) -> bool:
    """Count a failed firing; after ``give_up`` failures set the timer aside (True).

    A set-aside timer has ``fired_at`` and ``last_error``: it no longer blocks or retries.
    """
    timer = await session.get(m.Timer, timer_id)
    if timer is None or timer.fired_at is not None:
        return False
    timer.attempts += 1
    timer.last_error = error[:2000]
    if timer.attempts >= give_up:
        timer.fired_at = now
        timer.claimed_by = holder
    session.add(timer)
    return timer.fired_at is not None


async def next_due(session: AsyncSession) -> datetime | None:
    """The earliest due time of a live timer (None: nothing is due)."""
    result = await session.exec(
        select(sa.func.min(m.Timer.due_at)).where(
            col(m.Timer.fired_at).is_(None), col(m.Timer.cancelled).is_(False)
        )
    )
    value = result.one_or_none()
    if value is None:
        return None
    return UTCDateTime().process_result_value(value, session.get_bind().dialect)
