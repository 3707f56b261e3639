"""Alert rows and their outbox entries (one transaction per change, the caller's session)."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from epbot.adapters.db import models as m

ALERT_EVENT = "alert"  # the outbox payload kind delivered by AlertEffects


def live_key(source: str, fingerprint: str) -> str:
    """What identifies an open alert: the source and the sender's fingerprint."""
    return f"{source}:{fingerprint}"


async def find_open(session: AsyncSession, key: str) -> m.Alert | None:
    """The open (not yet resolved) alert with ``key``, locked for update on PostgreSQL."""
    query = select(m.Alert).where(col(m.Alert.live_key) == key).with_for_update()
    return (await session.exec(query)).first()


async def get(session: AsyncSession, alert_id: int, *, lock: bool = False) -> m.Alert | None:
    query = select(m.Alert).where(col(m.Alert.id) == alert_id)
    if lock:
        query = query.with_for_update()
    return (await session.exec(query)).first()


async def enqueue(session: AsyncSession, alert: m.Alert, channel: str, now: datetime) -> None:
    """Ask delivery to show ``alert`` as it is now (post it, or update it in place)."""
    assert alert.id is not None
    session.add(
        m.OutboxMessage(
            incident_id=None,
            ordering_key=f"channel:{channel}",
            priority=0,
            method="event",
            payload=json.dumps({"kind": ALERT_EVENT, "alert_id": alert.id}),
            status="pending",
            next_attempt_at=now,
            created_at=now,
        )
    )
    await session.flush()


async def set_message(session: AsyncSession, alert_id: int, channel: str, ts: str) -> None:
    """Remember where the warning was posted (before anything else may post it again)."""
    await session.exec(
        sa.update(m.Alert)
        .where(col(m.Alert.id) == alert_id)
        .values(channel=channel, ts=ts)
    )


def labels_of(alert: m.Alert) -> dict[str, str]:
    data: Any = json.loads(alert.labels or "{}")
    return {str(k): str(v) for k, v in data.items()} if isinstance(data, dict) else {}
