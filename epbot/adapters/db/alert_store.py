"""Alert rows and their outbox entries (one transaction per change, the caller's session).

The alert service sees an alert as a :class:`AlertRecord`; the row and the record have the
same fields.
"""

from __future__ import annotations

import dataclasses
import json
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from epbot.adapters.db import models as m
from epbot.services.ports import AlertRecord

ALERT_EVENT = "alert"  # the outbox payload kind delivered by AlertEffects
_FIELDS = [f.name for f in dataclasses.fields(AlertRecord)]


def record_of(row: m.Alert) -> AlertRecord:
    return AlertRecord(**{name: getattr(row, name) for name in _FIELDS})


# Where the warning was posted is delivery's to write (set_message), never the service's:
# an update that wrote back the ts it read would erase a post made meanwhile, and the next
# repeat would post the warning a second time.
_DELIVERY_FIELDS = ("channel", "ts")


def _values(alert: AlertRecord, skip: tuple[str, ...] = ()) -> dict[str, Any]:
    return {name: getattr(alert, name) for name in _FIELDS if name != "id" and name not in skip}


async def find_open(session: AsyncSession, key: str) -> m.Alert | None:
    """The open (not yet resolved) alert with ``key``, locked for update on PostgreSQL."""
    query = select(m.Alert).where(col(m.Alert.live_key) == key).with_for_update()
    return (await session.exec(query)).first()


async def get(session: AsyncSession, alert_id: int, *, lock: bool = False) -> m.Alert | None:
    query = select(m.Alert).where(col(m.Alert.id) == alert_id)
    if lock:
        query = query.with_for_update()
    return (await session.exec(query)).first()


async def add(session: AsyncSession, alert: AlertRecord) -> None:
    """Insert ``alert`` and set its id (a concurrent twin fails here on the live key)."""
    row = m.Alert(**_values(alert))
    session.add(row)
    await session.flush()
    alert.id = row.id


async def update(session: AsyncSession, alert: AlertRecord) -> None:
    assert alert.id is not None
    await session.exec(
        sa.update(m.Alert)
        .where(col(m.Alert.id) == alert.id)
        .values(**_values(alert, skip=_DELIVERY_FIELDS))
    )


async def enqueue(session: AsyncSession, alert_id: int, channel: str, now: datetime) -> None:
    """Ask delivery to show the alert as it is now (post it, or update it in place)."""
    session.add(
        m.OutboxMessage(
            incident_id=None,
            ordering_key=f"channel:{channel}",
            priority=0,
            method="event",
            payload=json.dumps({"kind": ALERT_EVENT, "alert_id": alert_id}),
            status="pending",
            next_attempt_at=now,
            created_at=now,
        )
    )
    await session.flush()


async def set_message(session: AsyncSession, alert_id: int, channel: str, ts: str) -> None:
    """Remember where the warning was posted (before anything else may post it again)."""
    await session.exec(
        sa.update(m.Alert).where(col(m.Alert.id) == alert_id).values(channel=channel, ts=ts)
    )


def labels_of(alert: m.Alert | AlertRecord) -> dict[str, str]:
    data = json.loads(alert.labels or "{}")
    return {str(k): str(v) for k, v in data.items()} if isinstance(data, dict) else {}
