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

from epbot.domain import reports as rep
from epbot.domain.anchor import Anchor, anchor_of
from epbot.domain.audit import ChainEntry, ChainProblem, verify_chain
from epbot.domain.incident import IncidentState, Status
from epbot.domain.matrix import Matrix
from epbot.services.ports import IncidentRow, RecordStore, RecordTx, ReportVersion

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
    row: IncidentRow
    state: IncidentState
    reports: list[ReportVersion]  # every version of the Art. 5.1 report, oldest first
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


async def find_incident(tx: RecordTx, ref: str) -> IncidentRow:
    """The incident a person means: its number, its channel's id or name, or its row id."""
    text = ref.strip().lstrip("#")
    match = _NUMBER.fullmatch(text)
    if match:
        row = await tx.incident_by_number(
            drill=bool(match.group(1)), year=int(match.group(2)), seq=int(match.group(3))
        )
    elif text.isdigit():
        row = await tx.incident_by_id(int(text))
    elif text:
        row = await tx.incident_by_channel(text)
    else:
        row = None
    if row is None:
        raise UnknownIncident(ref)
    return row


async def _previous_run(
    tx: RecordTx, row: IncidentRow, drill_id: str | None, matrix: Matrix, now: datetime
) -> PreviousRun | None:
    """The run before this one of the same scheduled drill (or, unscheduled, the same playbook)."""
    before = await tx.previous_drill(row, drill_id)
    if before is None:
        return None
    state = (await tx.load(before.id, matrix)).state
    card = rep.scorecard(state, rep.ended_at(state) or now)
    return PreviousRun(before.number, before.declared_at, card)


@dataclass(frozen=True)
class _Read:
    row: IncidentRow
    state: IncidentState
    reports: list[ReportVersion]
    timeline: list[ChainEntry]
    drill_id: str | None
    previous: PreviousRun | None


async def load_record(
    store: RecordStore, ref: str, *, matrix: Matrix, now: datetime
) -> IncidentRecord:
    """Everything about one incident; UnknownIncident if ``ref`` names none."""

    async def work(tx: RecordTx) -> _Read:
        row = await find_incident(tx, ref)
        state = (await tx.load(row.id, matrix)).state
        drill_id = await tx.drill_of(row.id) if row.drill else None
        previous = await _previous_run(tx, row, drill_id, matrix, now) if row.drill else None
        return _Read(
            row, state, await tx.reports(row.id), await tx.timeline(row.id), drill_id, previous
        )

    read = await store.read(work)
    state, entries, previous = read.state, read.timeline, read.previous
    number = read.row.number
    end = rep.ended_at(state) or now
    card = rep.scorecard(state, end)
    return IncidentRecord(
        number=number,
        row=read.row,
        state=state,
        reports=read.reports,
        timeline=entries,
        chain_problem=verify_chain(entries),
        anchor=anchor_of(number, entries),
        end=end,
        steps=rep.step_outcomes(state, end),
        scorecard=card,
        drill_id=read.drill_id,
        previous=previous,
        changes=rep.compare(card, previous.scorecard) if previous else [],
    )


async def incident_figures(
    store: RecordStore,
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

    async def work(tx: RecordTx) -> list[rep.IncidentFigures]:
        out = []
        for found in await tx.declared(since=since, until=until):
            known = cache.get((found.id, found.version)) if cache is not None else None
            if known is None:
                state = (await tx.load(found.id, matrix)).state
                known = rep.incident_figures(state, rep.ended_at(state) or now)
                if cache is not None and found.status in _FINISHED:
                    cache[(found.id, found.version)] = known
            out.append(known)
        return out

    return await store.read(work)


_FINISHED = {Status.RESOLVED.value, Status.CLOSED.value}
