"""The audit timeline: each incident's hash-chained events, appended in the caller's
transaction."""

from __future__ import annotations

from collections.abc import Sequence

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from epbot.adapters.db import models as m
from epbot.domain.audit import GENESIS, ChainEntry, canonical, entry_hash
from epbot.domain.incident import Event


async def append_timeline(
    session: AsyncSession, incident_id: int, events: Sequence[Event]
) -> list[m.TimelineEvent]:
    """Append events to the incident's hash chain."""
    last = (
        await session.exec(
            select(m.TimelineEvent)
            .where(col(m.TimelineEvent.incident_id) == incident_id)
            .order_by(col(m.TimelineEvent.seq).desc())
            .limit(1)
        )
    ).one_or_none()
    seq, prev = (last.seq, last.hash) if last else (0, GENESIS)
    rows = []
    for event in events:
        seq += 1
        payload = canonical(event.data)
        digest = entry_hash(
            prev_hash=prev,
            incident_id=incident_id,
            seq=seq,
            at=event.at,
            actor=event.actor,
            kind=event.kind,
            payload=payload,
        )
        row = m.TimelineEvent(
            incident_id=incident_id,
            seq=seq,
            at=event.at,
            actor=event.actor,
            kind=event.kind,
            payload=payload,
            prev_hash=prev,
            hash=digest,
        )
        session.add(row)
        rows.append(row)
        prev = digest
    await session.flush()
    return rows


async def timeline(session: AsyncSession, incident_id: int) -> list[ChainEntry]:
    """The incident's timeline, oldest first, as the audit chain reads it."""
    rows = await session.exec(
        select(m.TimelineEvent)
        .where(col(m.TimelineEvent.incident_id) == incident_id)
        .order_by(col(m.TimelineEvent.seq))
    )
    return [
        ChainEntry(
            incident_id=r.incident_id,
            seq=r.seq,
            at=r.at,
            actor=r.actor,
            kind=r.kind,
            payload=r.payload,
            prev_hash=r.prev_hash,
            hash=r.hash,
        )
        for r in rows
    ]
