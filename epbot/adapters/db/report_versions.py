"""Versions of an incident's Article 5.1 report: the latest is current, each is kept."""

from __future__ import annotations

import dataclasses
from datetime import datetime

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from epbot.adapters.db import models as m
from epbot.domain.incident import ReportFields
from epbot.services.ports import ReportVersion


def report_fields(row: m.Report) -> ReportFields:
    """The domain's view of a stored report version."""
    return ReportFields(**{f.name: getattr(row, f.name) for f in dataclasses.fields(ReportFields)})


async def latest_report(session: AsyncSession, incident_id: int) -> m.Report:
    """The current (latest) version of the incident's Article 5.1 report."""
    query = (
        select(m.Report)
        .where(col(m.Report.incident_id) == incident_id)
        .order_by(col(m.Report.version).desc())
        .limit(1)
    )
    return (await session.exec(query)).one()


async def latest_titles(session: AsyncSession, incident_ids: list[int]) -> dict[int, str]:
    """The current report title of each incident: one query however many there are."""
    if not incident_ids:
        return {}
    rows = await session.exec(
        select(m.Report)
        .where(col(m.Report.incident_id).in_(incident_ids))
        .order_by(col(m.Report.incident_id), col(m.Report.version))
    )
    return {row.incident_id: row.title for row in rows}  # the last version wins


async def current(session: AsyncSession, incident_id: int) -> tuple[int, ReportFields]:
    """(version, fields) of the incident's latest report."""
    row = await latest_report(session, incident_id)
    return row.version, report_fields(row)


async def versions(session: AsyncSession, incident_id: int) -> list[ReportVersion]:
    """Every version of the incident's report, oldest first."""
    rows = await session.exec(
        select(m.Report)
        .where(col(m.Report.incident_id) == incident_id)
        .order_by(col(m.Report.version))
    )
    names = [f.name for f in dataclasses.fields(ReportVersion)]
    return [ReportVersion(**{name: getattr(row, name) for name in names}) for row in rows]


async def add_version(
    session: AsyncSession,
    incident_id: int,
    report: ReportFields,
    *,
    version: int,
    by: str,
    at: datetime,
) -> None:
    """Store ``report`` as ``version`` (a concurrent writer of the same number loses)."""
    session.add(
        m.Report(
            incident_id=incident_id,
            version=version,
            submitted_by=by,
            submitted_at=at,
            **dataclasses.asdict(report),
        )
    )
    await session.flush()
