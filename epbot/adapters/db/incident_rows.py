"""Finding incidents the way people name them, and the reads of the after-action records."""

from __future__ import annotations

from datetime import datetime

from sqlmodel import col, or_, select
from sqlmodel.ext.asyncio.session import AsyncSession
from sqlmodel.sql.expression import SelectOfScalar

from epbot.adapters.db import models as m
from epbot.services.ports import IncidentRow, IncidentVersion


def _row(found: m.Incident | None) -> IncidentRow | None:
    if found is None or found.id is None:
        return None
    return IncidentRow(
        id=found.id,
        year=found.year,
        seq=found.seq,
        drill=found.drill,
        playbook_id=found.playbook_id,
        title=found.title,
        declared_at=found.declared_at,
        channel_id=found.channel_id,
        channel_name=found.channel_name,
    )


async def _first(session: AsyncSession, query: SelectOfScalar[m.Incident]) -> IncidentRow | None:
    return _row((await session.exec(query)).first())


async def by_number(
    session: AsyncSession, *, drill: bool, year: int, seq: int
) -> IncidentRow | None:
    return await _first(
        session,
        select(m.Incident).where(
            col(m.Incident.drill) == drill, col(m.Incident.year) == year, col(m.Incident.seq) == seq
        ),
    )


async def by_id(session: AsyncSession, incident_id: int) -> IncidentRow | None:
    return await _first(session, select(m.Incident).where(col(m.Incident.id) == incident_id))


async def by_channel(session: AsyncSession, channel: str) -> IncidentRow | None:
    return await _first(
        session,
        select(m.Incident).where(
            or_(col(m.Incident.channel_id) == channel, col(m.Incident.channel_name) == channel)
        ),
    )


async def drill_of(session: AsyncSession, incident_id: int) -> str | None:
    run = (
        await session.exec(select(m.DrillRun).where(col(m.DrillRun.incident_id) == incident_id))
    ).first()
    return None if run is None else run.drill_id


async def previous_drill(
    session: AsyncSession, row: IncidentRow, drill_id: str | None
) -> IncidentRow | None:
    """The run before ``row`` of the same scheduled drill (or, unscheduled, the same playbook)."""
    query = select(m.Incident).where(
        col(m.Incident.drill).is_(True),
        col(m.Incident.declared_at) < row.declared_at,
        col(m.Incident.id) != row.id,
    )
    if drill_id is not None:
        runs = select(col(m.DrillRun.incident_id)).where(col(m.DrillRun.drill_id) == drill_id)
        query = query.where(col(m.Incident.id).in_(runs))
    else:
        query = query.where(col(m.Incident.playbook_id) == row.playbook_id)
    return await _first(session, query.order_by(col(m.Incident.declared_at).desc()).limit(1))


async def declared(
    session: AsyncSession, *, since: datetime | None, until: datetime | None
) -> list[IncidentVersion]:
    """Incidents declared in [since, until), cancelled ones left out, by id."""
    query = select(col(m.Incident.id), col(m.Incident.version), col(m.Incident.status)).where(
        col(m.Incident.cancelled_at).is_(None)
    )
    if since is not None:
        query = query.where(col(m.Incident.declared_at) >= since)
    if until is not None:
        query = query.where(col(m.Incident.declared_at) < until)
    rows = await session.exec(query.order_by(col(m.Incident.id)))
    return [IncidentVersion(id=i, version=v, status=s) for i, v, s in rows if i is not None]
