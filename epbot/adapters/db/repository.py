"""Loads incident state from the tables and saves it back, in the caller's transaction.

The timeline (``timeline.py``), the timer claims (``timer_rows.py``) and the report versions
(``report_versions.py``) live apart; their functions are re-exported here for the readers
that knew them by this module.
"""

from __future__ import annotations

import dataclasses
import json
import typing
from collections.abc import Sequence
from datetime import datetime
from enum import Enum
from typing import Any, TypeVar

import sqlalchemy as sa
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from epbot.adapters.db import models as m
from epbot.adapters.db.outbox import enqueue_events
from epbot.adapters.db.report_versions import latest_report
from epbot.adapters.db.timeline import append_timeline, timeline
from epbot.adapters.db.timer_rows import (
    ClaimedTimer,
    claim_due_timers,
    next_due,
    record_timer_failure,
)
from epbot.domain.incident import (
    OPEN_STATUSES,
    ApprovalState,
    IncidentState,
    PageState,
    ReceiptState,
    ReportFields,
    Status,
    StepState,
    TimerState,
)
from epbot.domain.matrix import Matrix
from epbot.domain.playbook import Playbook, Severity, StageId
from epbot.services.ports import NotFound

__all__ = [
    "ClaimedTimer",
    "Loaded",
    "NotFound",
    "StaleState",
    "append_timeline",
    "claim_due_timers",
    "enqueue_events",
    "insert_incident",
    "latest_report",
    "load",
    "load_open",
    "next_due",
    "next_number",
    "playbook_snapshot",
    "recall_key",
    "record_timer_failure",
    "remember_key",
    "save",
    "timeline",
]

T = TypeVar("T")


class StaleState(Exception):
    """Someone else changed the incident since it was loaded: reload and try again."""


@dataclasses.dataclass
class Loaded:
    """An incident's state plus what is needed to save only what changed."""

    state: IncidentState
    row: m.Incident
    version: int
    originals: dict[tuple[str, int], tuple[Any, ...]]


_SNAPSHOTS: dict[str, Playbook] = {}


async def playbook_snapshot(session: AsyncSession, playbook: Playbook, now: datetime) -> str:
    """Store ``playbook`` once under its content hash; return the hash."""
    digest = playbook.content_hash()
    if await session.get(m.PlaybookSnapshot, digest) is None:
        session.add(
            m.PlaybookSnapshot(
                hash=digest,
                playbook_id=playbook.id,
                content=playbook.canonical_json(),
                created_at=now,
            )
        )
        await session.flush()
    _SNAPSHOTS[digest] = playbook
    return digest


async def load_playbook(session: AsyncSession, digest: str) -> Playbook:
    cached = _SNAPSHOTS.get(digest)
    if cached is None:
        row = await session.get(m.PlaybookSnapshot, digest)
        if row is None:
            raise NotFound(f"playbook snapshot {digest}")
        cached = _SNAPSHOTS[digest] = Playbook.from_snapshot(row.content)
    return cached


async def next_number(session: AsyncSession, *, year: int, drill: bool) -> int:
    """The next sequence number of ``year`` (drills counted apart); atomic under concurrency."""
    result = await session.exec(
        sa.update(m.IncidentCounter)
        .where(col(m.IncidentCounter.year) == year, col(m.IncidentCounter.drill) == drill)
        .values(last=col(m.IncidentCounter.last) + 1)
        .returning(col(m.IncidentCounter.last))
    )
    value = result.scalar_one_or_none()
    if value is not None:
        return int(value)
    session.add(m.IncidentCounter(year=year, drill=drill, last=1))
    await session.flush()  # a concurrent first insert fails here and the caller retries
    return 1


def _to_row(incident_id: int, obj: Any) -> dict[str, Any]:
    """A state dataclass as column values: same field names, enums as their values."""
    values = {
        f.name: _plain(getattr(obj, f.name)) for f in dataclasses.fields(obj) if f.name != "id"
    }
    values["incident_id"] = incident_id
    return values


def _plain(value: Any) -> Any:
    return value.value if isinstance(value, Enum) else value


_ENUM_FIELDS: dict[type, dict[str, type[Enum]]] = {}


def _enum_fields(cls: type) -> dict[str, type[Enum]]:
    """The fields of a state dataclass that hold enums (stored as their values)."""
    if cls not in _ENUM_FIELDS:
        hints = typing.get_type_hints(cls)
        _ENUM_FIELDS[cls] = {
            name: hint
            for name, hint in hints.items()
            if isinstance(hint, type) and issubclass(hint, Enum)
        }
    return _ENUM_FIELDS[cls]


def _from_row(cls: type[T], row: Any) -> T:
    """The state dataclass ``cls`` from a table row with the same column names."""
    enums = _enum_fields(cls)
    values = {}
    for f in dataclasses.fields(cls):  # type: ignore[arg-type]
        value = getattr(row, f.name)
        values[f.name] = enums[f.name](value) if f.name in enums else value
    return cls(**values)


# Each kind of child state, the table it lives in, and the order it loads in.
_TABLES: dict[str, type[Any]] = {
    "step": m.StepInstance,
    "approval": m.Approval,
    "page": m.Page,
    "timer": m.Timer,
    "receipt": m.Receipt,
}


def _children(state: IncidentState) -> list[tuple[str, Any]]:
    return (
        [("step", s) for s in state.steps.values()]
        + [("approval", a) for a in state.approvals.values()]
        + [("page", p) for p in state.pages]
        + [("timer", t) for t in state.timers]
        + [("receipt", r) for r in state.receipts]
    )


def _incident_values(state: IncidentState) -> dict[str, Any]:
    return {
        "status": state.status.value,
        "severity": state.severity.value,  # raised or lowered while the incident runs
        "commander": state.commander,
        "resolved_at": state.resolved_at,
        "closed_at": state.closed_at,
        "cancelled_at": state.cancelled_at,
        "cancel_reason": state.cancel_reason,
    }


async def insert_incident(
    session: AsyncSession,
    state: IncidentState,
    *,
    playbook_hash: str,
    year: int,
    seq: int,
    report: ReportFields,
) -> Loaded:
    row = m.Incident(
        year=year,
        seq=seq,
        drill=state.drill,
        playbook_id=state.playbook.id,
        playbook_hash=playbook_hash,
        title=report.title,
        reporter=state.reporter,
        commander_role=state.playbook.commander_role,
        declared_at=state.declared_at,
        **_incident_values(state),
    )
    session.add(row)
    await session.flush()
    assert row.id is not None
    state.id = row.id
    session.add(
        m.Report(
            incident_id=row.id,
            version=1,
            submitted_by=state.reporter,
            submitted_at=state.declared_at,
            **dataclasses.asdict(report),
        )
    )
    loaded = Loaded(state=state, row=row, version=row.version, originals={})
    await save(session, loaded, bump=False)
    return loaded


async def load(session: AsyncSession, incident_id: int, matrix: Matrix) -> Loaded:
    """One incident's state (NotFound if there is none)."""
    query = select(m.Incident).where(col(m.Incident.id) == incident_id)
    row = (await session.exec(query)).one_or_none()
    if row is None:
        raise NotFound(f"incident {incident_id}")
    [loaded] = await _assemble(session, [row], matrix)
    return loaded


async def load_open(session: AsyncSession, matrix: Matrix) -> list[Loaded]:
    """Every open incident, oldest first: a fixed number of queries, however many are open."""
    rows = await session.exec(
        select(m.Incident)
        .where(col(m.Incident.status).in_([s.value for s in OPEN_STATUSES]))
        .order_by(col(m.Incident.declared_at), col(m.Incident.id))
    )
    return await _assemble(session, list(rows), matrix)


async def _assemble(
    session: AsyncSession, rows: Sequence[m.Incident], matrix: Matrix
) -> list[Loaded]:
    """The states of ``rows``, with one query per child table for all of them."""
    ids = [row.id for row in rows if row.id is not None]
    if not ids:
        return []
    stages: dict[int, list[m.StageInstance]] = {i: [] for i in ids}
    for stage in await session.exec(
        select(m.StageInstance).where(col(m.StageInstance.incident_id).in_(ids))
    ):
        stages[stage.incident_id].append(stage)
    children = await _child_rows(session, ids)
    out = []
    for row in rows:
        assert row.id is not None
        playbook = await load_playbook(session, row.playbook_hash)
        state = IncidentState(
            playbook=playbook,
            matrix=matrix,
            severity=Severity(row.severity),
            drill=row.drill,
            reporter=row.reporter,
            declared_at=row.declared_at,
            status=Status(row.status),
            commander=row.commander,
            resolved_at=row.resolved_at,
            closed_at=row.closed_at,
            cancelled_at=row.cancelled_at,
            cancel_reason=row.cancel_reason,
            id=row.id,
        )
        state.stages = {StageId(s.stage_id): s.started_at for s in stages[row.id]}
        mine = children[row.id]
        steps = {r.step_id: _from_row(StepState, r) for r in mine["step"]}
        # Keep playbook order for stable rendering (snapshots are immutable: none missing).
        state.steps = {st.id: steps[st.id] for _, st in playbook.iter_steps() if st.id in steps}
        state.approvals = {r.key: _from_row(ApprovalState, r) for r in mine["approval"]}
        state.pages = [_from_row(PageState, r) for r in mine["page"]]
        state.timers = [_from_row(TimerState, r) for r in mine["timer"]]
        state.receipts = [_from_row(ReceiptState, r) for r in mine["receipt"]]
        originals = {(name, obj.id): dataclasses.astuple(obj) for name, obj in _children(state)}
        out.append(Loaded(state=state, row=row, version=row.version, originals=originals))
    return out


async def _child_rows(
    session: AsyncSession, incident_ids: Sequence[int]
) -> dict[int, dict[str, list[Any]]]:
    """Every step, approval, page, receipt and live timer of the incidents, in id order."""
    rows: dict[int, dict[str, list[Any]]] = {
        i: {name: [] for name in _TABLES} for i in incident_ids
    }
    for name, model in _TABLES.items():
        query = select(model).where(model.incident_id.in_(incident_ids)).order_by(model.id)
        if model is m.Timer:
            query = query.where(col(m.Timer.fired_at).is_(None), col(m.Timer.cancelled).is_(False))
        for row in await session.exec(query):
            rows[row.incident_id][name].append(row)
    return rows


async def save(session: AsyncSession, loaded: Loaded, *, bump: bool = True) -> None:
    """Write what changed; fail with StaleState if the incident changed meanwhile."""
    state = loaded.state
    assert state.id is not None
    if bump:
        result = await session.exec(
            sa.update(m.Incident)
            .where(col(m.Incident.id) == state.id, col(m.Incident.version) == loaded.version)
            .values(version=loaded.version + 1, **_incident_values(state))
        )
        if result.rowcount != 1:
            raise StaleState(f"incident {state.id} changed meanwhile")
        loaded.version += 1
    for stage_id, started in state.stages.items():
        key = ("stage", hash(stage_id))
        if key not in loaded.originals:
            exists = (
                await session.exec(
                    select(m.StageInstance).where(
                        col(m.StageInstance.incident_id) == state.id,
                        col(m.StageInstance.stage_id) == stage_id.value,
                    )
                )
            ).one_or_none()
            if exists is None:
                session.add(
                    m.StageInstance(
                        incident_id=state.id, stage_id=stage_id.value, started_at=started
                    )
                )
            loaded.originals[key] = ()
    for name, obj in _children(state):
        model = _TABLES[name]
        values = _to_row(state.id, obj)
        if obj.id is None:
            row = model(**values)
            session.add(row)
            await session.flush()
            obj.id = row.id
        elif loaded.originals.get((name, obj.id)) != dataclasses.astuple(obj):
            await session.exec(sa.update(model).where(model.id == obj.id).values(**values))
        loaded.originals[(name, obj.id)] = dataclasses.astuple(obj)
    await session.flush()


async def remember_key(
    session: AsyncSession, key: str, result: dict[str, Any], now: datetime
) -> None:
    session.add(m.IdempotencyKey(key=key, created_at=now, result=json.dumps(result)))
    await session.flush()


async def recall_key(session: AsyncSession, key: str) -> dict[str, Any] | None:
    row = await session.get(m.IdempotencyKey, key)
    return None if row is None else dict(json.loads(row.result))
