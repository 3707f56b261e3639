"""After-action records: everything about one incident, and figures across incidents.

Reads only. The figures themselves are computed in ``epbot.domain.reports``; this module finds
the incident, loads what the tables hold and hands it over, in one read transaction.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncEngine
from sqlmodel import col, or_, select
from sqlmodel.ext.asyncio.session import AsyncSession

from epbot.adapters.db import models as m
from epbot.adapters.db import repository as repo
from epbot.adapters.db.engine import make_sessionmaker
from epbot.domain import reports as rep
from epbot.domain.anchor import Anchor, anchor_of
from epbot.domain.audit import ChainEntry, ChainProblem, verify_chain
from epbot.domain.incident import IncidentState, Status
from epbot.domain.matrix import Matrix
from epbot.services.incidents import incident_number

_NUMBER = re.compile(r"(?i)(drill-)?(\d{4})-(\d+)")


class UnknownIncident(Exception):
    def __init__(self, ref: str) -> None:
        super().__init__(f"no incident {ref!r} (give its number, e.g. 2026-0007, or its channel)")


@dataclass(frozen=True)
class PreviousRun:
    number: str
    declared_at: datetime
    scorecard: rep.Scorecard


@dataclass
class IncidentRecord:
    """What an after-action report shows about one incident."""

    number: str
    row: m.Incident
    state: IncidentState
    reports: list[m.Report]  # every version of the Art. 5.1 report, oldest first
    timeline: list[ChainEntry]
    chain_problem: ChainProblem | None
    anchor: Anchor
    end: datetime  # the end of the observed period: the incident's end, else "now"
    steps: list[rep.StepOutcome]
    scorecard: rep.Scorecard
    drill_id: str | None = None
    previous: PreviousRun | None = None
    changes: list[rep.Change] = field(default_factory=list)

    @property
    def events(self) -> list[dict[str, Any]]:
        return [
            {
                "seq": e.seq,
                "at": e.at,
                "actor": e.actor,
                "kind": e.kind,
                "data": json.loads(e.payload),
            }
            for e in self.timeline
        ]


async def find_incident(session: AsyncSession, ref: str) -> m.Incident:
    """The incident a person means: its number, its channel's id or name, or its row id."""
    text = ref.strip().lstrip("#")
    query = select(m.Incident)
    match = _NUMBER.fullmatch(text)
    if match:
        query = query.where(
            col(m.Incident.drill) == bool(match.group(1)),
            col(m.Incident.year) == int(match.group(2)),
            col(m.Incident.seq) == int(match.group(3)),
        )
    elif text.isdigit():
        query = query.where(col(m.Incident.id) == int(text))
    elif text:
        query = query.where(
            or_(col(m.Incident.channel_id) == text, col(m.Incident.channel_name) == text)
        )
    else:
        raise UnknownIncident(ref)
    row = (await session.exec(query)).first()
    if row is None or row.id is None:
        raise UnknownIncident(ref)
    return row


async def _drill_of(session: AsyncSession, incident_id: int) -> str | None:
    run = (
        await session.exec(select(m.DrillRun).where(col(m.DrillRun.incident_id) == incident_id))
    ).first()
    return None if run is None else run.drill_id


async def _previous_run(
    session: AsyncSession, row: m.Incident, drill_id: str | None, matrix: Matrix, now: datetime
) -> PreviousRun | None:
    """The run before this one of the same scheduled drill (or, unscheduled, the same playbook)."""
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
    before = (
        await session.exec(query.order_by(col(m.Incident.declared_at).desc()).limit(1))
    ).first()
    if before is None or before.id is None:
        return None
    state = (await repo.load(session, before.id, matrix)).state
    card = rep.scorecard(state, rep.ended_at(state) or now)
    return PreviousRun(incident_number(before.year, before.seq, True), before.declared_at, card)


async def load_record(
    engine: AsyncEngine, ref: str, *, matrix: Matrix, now: datetime
) -> IncidentRecord:
    """Everything about one incident; UnknownIncident if ``ref`` names none."""
    async with make_sessionmaker(engine)() as session:
        row = await find_incident(session, ref)
        assert row.id is not None
        state = (await repo.load(session, row.id, matrix)).state
        reports = list(
            await session.exec(
                select(m.Report)
                .where(col(m.Report.incident_id) == row.id)
                .order_by(col(m.Report.version))
            )
        )
        entries = await repo.timeline(session, row.id)
        number = incident_number(row.year, row.seq, row.drill)
        end = rep.ended_at(state) or now
        drill_id = await _drill_of(session, row.id) if row.drill else None
        previous = await _previous_run(session, row, drill_id, matrix, now) if row.drill else None
    card = rep.scorecard(state, end)
    return IncidentRecord(
        number=number,
        row=row,
        state=state,
        reports=reports,
        timeline=entries,
        chain_problem=verify_chain(entries),
        anchor=anchor_of(number, entries),
        end=end,
        steps=rep.step_outcomes(state, end),
        scorecard=card,
        drill_id=drill_id,
        previous=previous,
        changes=rep.compare(card, previous.scorecard) if previous else [],
    )


async def incident_figures(
    engine: AsyncEngine,
    *,
    matrix: Matrix,
    now: datetime,
    since: datetime | None = None,
    until: datetime | None = None,
    cache: dict[tuple[int, int], rep.IncidentFigures] | None = None,
) -> list[rep.IncidentFigures]:
    """Each incident declared in [since, until) reduced to its figures (cancelled ones left out).

    With ``cache`` (keyed by incident id and version), a finished incident that did not
    change is not loaded again: a scrape reads only what moved.
    """
    query = select(col(m.Incident.id), col(m.Incident.version), col(m.Incident.status)).where(
        col(m.Incident.cancelled_at).is_(None)
    )
    if since is not None:
        query = query.where(col(m.Incident.declared_at) >= since)
    if until is not None:
        query = query.where(col(m.Incident.declared_at) < until)
    out = []
    async with make_sessionmaker(engine)() as session:
        for incident_id, version, status in list(
            await session.exec(query.order_by(col(m.Incident.id)))
        ):
            assert incident_id is not None
            known = cache.get((incident_id, version)) if cache is not None else None
            if known is None:
                state = (await repo.load(session, incident_id, matrix)).state
                known = rep.incident_figures(state, rep.ended_at(state) or now)
                if cache is not None and status in _FINISHED:
                    cache[(incident_id, version)] = known
            out.append(known)
    return out


_FINISHED = {Status.RESOLVED.value, Status.CLOSED.value}
