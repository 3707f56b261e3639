"""The outbox's storage and claims: rows per audience lane, and a lease per lane.

A lane (``ordering_key``) is one conversation's stream. Whoever holds a lane's lease is the
only one sending its rows, oldest first, so order holds across workers and processes; a
worker that dies stops renewing and its lane is free again when the lease runs out.
"""

from __future__ import annotations

import json
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from epbot.adapters.db import models as m
from epbot.domain.audience import Audience, AudienceKind, audiences
from epbot.domain.incident import Event

MAX_PERMANENT_ATTEMPTS = 5  # a permanent error (bad request) is given up after this many


def event_payload(event: Event, chain: tuple[int, str] | None = None) -> str:
    """The outbox row's JSON; ``chain`` (the event's timeline seq and hash) lets a message
    state the audit chain's head at that point, outside the hashed ``data``."""
    body: dict[str, Any] = {
        "kind": event.kind,
        "actor": event.actor,
        "at": event.at.isoformat(),
        "data": event.data,
    }
    if chain is not None:
        body["chain"] = {"seq": chain[0], "hash": chain[1]}
    return json.dumps(body, ensure_ascii=False, default=str)


async def enqueue_events(
    session: AsyncSession,
    incident_id: int,
    events: Sequence[Event],
    now: datetime,
    chains: Sequence[tuple[int, str]] | None = None,
) -> None:
    """Put each event in the outbox once per audience (same transaction as the change);
    ``chains`` are the events' timeline (seq, hash), in the same order."""
    for index, event in enumerate(events):
        payload = event_payload(event, chains[index] if chains is not None else None)
        for audience in audiences(incident_id, event.kind, event.data, actor=event.actor):
            session.add(
                m.OutboxMessage(
                    incident_id=incident_id,
                    ordering_key=audience.lane,
                    priority=int(audience.urgency),
                    method="event",
                    payload=payload,
                    status="pending",
                    next_attempt_at=now,
                    created_at=now,
                )
            )
    await session.flush()


async def hand_over(
    session: AsyncSession,
    incident_id: int,
    kind: AudienceKind,
    payload: dict[str, Any],
    now: datetime,
    *,
    wake: bool = False,
) -> None:
    """Hand work the room's stream left to another of the incident's lanes (its edits, its
    announcement), in the transaction that records what the room did (its rows sent, its
    channel created): the work is neither lost nor handed over twice.

    ``wake``: what the lane's waiting rows waited for is there now (the channel an end's
    summary links): they are due now, not at their backoff's end."""
    lane = Audience(kind, str(incident_id)).lane
    if wake:
        o = m.OutboxMessage
        await session.exec(
            sa.update(o)
            .where(
                col(o.ordering_key) == lane,
                col(o.status) == "pending",
                col(o.next_attempt_at) > now,
            )
            .values(next_attempt_at=now)
        )
    session.add(
        m.OutboxMessage(
            incident_id=incident_id,
            ordering_key=lane,
            method=kind.value,
            payload=json.dumps(payload, ensure_ascii=False, default=str),
            status="pending",
            next_attempt_at=now,
            created_at=now,
        )
    )
    await session.flush()


@dataclass(frozen=True)
class DueLane:
    key: str
    priority: int


def _lane_free(now: datetime, holder: str) -> Any:
    lane = m.OutboxLane
    return sa.or_(
        col(lane.key).is_(None),
        col(lane.leased_until).is_(None),
        col(lane.leased_until) <= now,
        col(lane.holder) == holder,
    )


def _heads() -> Any:
    """The oldest pending row of each lane: a lane is as due as its head (a row put off
    holds back the rows behind it, so they never count as due on their own)."""
    row = m.OutboxMessage
    return (
        sa.select(sa.func.min(col(row.id)))
        .where(col(row.status) == "pending")
        .group_by(col(row.ordering_key))
        .scalar_subquery()
    )


async def due_lanes(
    session: AsyncSession,
    now: datetime,
    *,
    holder: str,
    exclude: Collection[str] = (),
    limit: int = 100,
) -> list[DueLane]:
    """Lanes whose head row is due and that nobody else holds, most urgent first, then
    oldest."""
    row = m.OutboxMessage
    query = (
        sa.select(col(row.ordering_key), col(row.priority))
        .select_from(row)
        .outerjoin(m.OutboxLane, col(m.OutboxLane.key) == col(row.ordering_key))
        .where(col(row.id).in_(_heads()), col(row.next_attempt_at) <= now)
        .where(_lane_free(now, holder))
        .order_by(col(row.priority).desc(), col(row.id))
        .limit(limit + len(exclude))
    )
    result = await session.exec(query)  # type: ignore[call-overload]
    lanes = [DueLane(key=k, priority=int(p or 0)) for k, p in result.all()]
    return [lane for lane in lanes if lane.key not in exclude][:limit]


async def next_attempt(session: AsyncSession) -> datetime | None:
    """When the earliest lane head falls due (None: nothing pending)."""
    result = await session.exec(
        select(sa.func.min(m.OutboxMessage.next_attempt_at)).where(
            col(m.OutboxMessage.id).in_(_heads())
        )
    )
    value = result.one_or_none()
    if value is None:
        return None
    from epbot.adapters.db.types import UTCDateTime

    parsed: datetime | None = UTCDateTime().process_result_value(value, session.get_bind().dialect)
    return parsed


def _upsert(session: AsyncSession) -> Any:
    return postgresql.insert if session.get_bind().dialect.name == "postgresql" else sqlite.insert


async def claim_lane(
    session: AsyncSession, key: str, *, holder: str, now: datetime, until: datetime
) -> bool:
    """Take the lane's lease if it is free (or ours already); True when we hold it."""
    insert = _upsert(session)(m.OutboxLane).values(key=key, holder=holder, leased_until=until)
    lane = m.OutboxLane.__table__.c  # type: ignore[attr-defined]
    statement = insert.on_conflict_do_update(
        index_elements=[lane.key],
        set_={"holder": holder, "leased_until": until},
        where=sa.or_(lane.leased_until.is_(None), lane.leased_until <= now, lane.holder == holder),
    )
    result = await session.exec(statement)
    return bool(result.rowcount == 1)


async def renew_lane(session: AsyncSession, key: str, *, holder: str, until: datetime) -> bool:
    """Move our lease ahead; False when it is no longer ours."""
    result = await session.exec(
        sa.update(m.OutboxLane)
        .where(col(m.OutboxLane.key) == key, col(m.OutboxLane.holder) == holder)
        .values(leased_until=until)
    )
    return bool(result.rowcount == 1)


async def release_lane(session: AsyncSession, key: str, *, holder: str) -> None:
    await session.exec(
        sa.update(m.OutboxLane)
        .where(col(m.OutboxLane.key) == key, col(m.OutboxLane.holder) == holder)
        .values(holder=None, leased_until=None)
    )


async def lane_rows(session: AsyncSession, key: str, *, limit: int) -> list[m.OutboxMessage]:
    """The lane's pending rows, oldest first."""
    rows = await session.exec(
        select(m.OutboxMessage)
        .where(col(m.OutboxMessage.ordering_key) == key, col(m.OutboxMessage.status) == "pending")
        .order_by(col(m.OutboxMessage.id))
        .limit(limit)
    )
    return list(rows)


async def mark_sent(session: AsyncSession, row_ids: Collection[int], now: datetime) -> None:
    if not row_ids:
        return
    await session.exec(
        sa.update(m.OutboxMessage)
        .where(col(m.OutboxMessage.id).in_(list(row_ids)))
        .values(
            status="sent",
            sent_at=now,
            attempts=col(m.OutboxMessage.attempts) + 1,
            last_error=None,
        )
    )


async def mark_failed(
    session: AsyncSession,
    row: m.OutboxMessage,
    *,
    error: str,
    attempt: bool,
    permanent: bool,
    retry_at: datetime,
) -> str:
    """Keep the row for a retry at ``retry_at`` or, after repeated permanent failures,
    give it up (``failed``); return the new status. A wait for a rate window is no
    ``attempt``."""
    attempts = row.attempts + (1 if attempt else 0)
    status = "failed" if permanent and attempts >= MAX_PERMANENT_ATTEMPTS else "pending"
    await session.exec(
        sa.update(m.OutboxMessage)
        .where(col(m.OutboxMessage.id) == row.id)
        .values(status=status, attempts=attempts, last_error=error[:2000], next_attempt_at=retry_at)
    )
    return status
