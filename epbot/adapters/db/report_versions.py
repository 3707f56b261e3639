"""Versions of an incident's Article 5.1 report: the latest is current, each is kept."""

from __future__ import annotations

import dataclasses
from datetime import datetime

from sqlmodel.ext.asyncio.session import AsyncSession

from epbot.adapters.db import models as m
from epbot.adapters.db import repository as repo
from epbot.domain.incident import ReportFields


def report_fields(row: m.Report) -> ReportFields:
    """The domain's view of a stored report version."""
    return ReportFields(**{f.name: getattr(row, f.name) for f in dataclasses.fields(ReportFields)})


async def current(session: AsyncSession, incident_id: int) -> tuple[int, ReportFields]:
    """(version, fields) of the incident's latest report."""
    row = await repo.latest_report(session, incident_id)
    return row.version, report_fields(row)


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
