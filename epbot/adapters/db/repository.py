"""Loads incident state from the tables and saves it back, in the caller's transaction."""

from __future__ import annotations

import dataclasses
import json
import typing
from collections.abc import Collection, Sequence
from datetime import datetime
from enum import Enum
from typing import Any, TypeVar

import sqlalchemy as sa
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from epbot.adapters.db import models as m
from epbot.adapters.db import outbox
from epbot.adapters.db.types import UTCDateTime
from epbot.domain.audit import GENESIS, ChainEntry, canonical, entry_hash
from epbot.domain.incident import (
    ApprovalState,
    Event,
    IncidentState,
    PageState,
    ReceiptState,
    ReportFields,
    Status,
    StepState,
    TimerKind,
    TimerState,
)
from epbot.domain.matrix import Matrix
from epbot.domain.playbook import Playbook, Severity, StageId

T = TypeVar("T")


class StaleState(Exception):
    """Someone else changed the incident since it was loaded: reload and try again."""


class NotFound(Exception):
    pass


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
    query = select(m.Incident).where(col(m.Incident.id) == incident_id)
    row = (await session.exec(query)).one_or_none()
    if row is None:
        raise NotFound(f"incident {incident_id}")
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
    stages = await session.exec(
        select(m.StageInstance).where(col(m.StageInstance.incident_id) == row.id)
    )
    state.stages = {StageId(s.stage_id): s.started_at for s in stages}
    children = await _child_rows(session, row.id)
    steps = {r.step_id: _from_row(StepState, r) for r in children["step"]}
    # Keep playbook order for stable rendering (snapshots are immutable: nothing is missing).
    state.steps = {st.id: steps[st.id] for _, st in playbook.iter_steps() if st.id in steps}
    state.approvals = {r.key: _from_row(ApprovalState, r) for r in children["approval"]}
    state.pages = [_from_row(PageState, r) for r in children["page"]]
    state.timers = [_from_row(TimerState, r) for r in children["timer"]]
    state.receipts = [_from_row(ReceiptState, r) for r in children["receipt"]]
    originals = {(name, obj.id): dataclasses.astuple(obj) for name, obj in _children(state)}
    return Loaded(state=state, row=row, version=row.version, originals=originals)


async def _child_rows(session: AsyncSession, incident_id: int) -> dict[str, list[Any]]:
    """Every step, approval and page of the incident, and its live timers, in id order."""
    rows: dict[str, list[Any]] = {}
    for name, model in _TABLES.items():
        query = select(model).where(model.incident_id == incident_id).order_by(model.id)
        if model is m.Timer:
            query = query.where(col(m.Timer.fired_at).is_(None), col(m.Timer.cancelled).is_(False))
        rows[name] = list(await session.exec(query))
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


async def latest_report(session: AsyncSession, incident_id: int) -> m.Report:
    """The current (latest) version of the incident's Article 5.1 report."""
    query = (
        select(m.Report)
        .where(col(m.Report.incident_id) == incident_id)
        .order_by(col(m.Report.version).desc())
        .limit(1)
    )
    return (await session.exec(query)).one()


async def timeline(session: AsyncSession, incident_id: int) -> list[ChainEntry]:
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


async def enqueue_events(
    session: AsyncSession, incident_id: int, events: Sequence[Event], now: datetime
) -> None:
    """Put each event in the outbox (same transaction), once per audience lane."""
    await outbox.enqueue_events(session, incident_id, events, now)


@dataclasses.dataclass(frozen=True)
class ClaimedTimer:
    id: int
    incident_id: int
    kind: TimerKind
    target: str
    due_at: datetime


async def claim_due_timers(
    session: AsyncSession,
    now: datetime,
    holder: str,
    *,
    skip: Collection[int] = (),
    limit: int = 1,
) -> list[ClaimedTimer]:
    """Mark up to ``limit`` of the earliest due, unfired timers as fired by ``holder`` and
    return them in due order.

    The claim commits with the caller's transaction, together with what the timers did, so
    a crash in between fires them again later, and a commit fires each exactly once. On
    PostgreSQL ``FOR UPDATE SKIP LOCKED`` lets several processes claim different timers
    at once; on SQLite the write lock serialises claims.
    """
    bind = session.get_bind()
    pick = (
        select(col(m.Timer.id))
        .where(
            col(m.Timer.fired_at).is_(None),
            col(m.Timer.cancelled).is_(False),
            col(m.Timer.due_at) <= now,
            col(m.Timer.id).not_in(list(skip)) if skip else sa.true(),
        )
        .order_by(col(m.Timer.due_at), col(m.Timer.id))
        .limit(limit)
    )
    if bind.dialect.name == "postgresql":
        # A materialized CTE: PostgreSQL may run an ``IN (subquery LIMIT n)`` more than
        # once, and with SKIP LOCKED each run can pick other rows (more than ``limit``).
        picked = pick.with_for_update(skip_locked=True).cte("picked").prefix_with("MATERIALIZED")
        chosen = col(m.Timer.id) == picked.c.id
    else:
        # Not a CTE on SQLite: Python's sqlite3 opens its implicit transaction only before
        # a statement that starts with UPDATE, so ``WITH ... UPDATE`` would autocommit the
        # claim apart from what the timers did.
        chosen = col(m.Timer.id).in_(pick.scalar_subquery())
    result = await session.exec(
        sa.update(m.Timer)
        .where(chosen, col(m.Timer.fired_at).is_(None))
        .values(fired_at=now, claimed_by=holder)
        .returning(
            col(m.Timer.id),
            col(m.Timer.incident_id),
            col(m.Timer.kind),
            col(m.Timer.target),
            col(m.Timer.due_at),
        )
    )
    claimed = []
    for found in result.all():
        due_at = found[4]
        if isinstance(due_at, datetime) and due_at.tzinfo is None:
            due_at = due_at.replace(tzinfo=now.tzinfo)
        claimed.append(
            ClaimedTimer(
                id=found[0],
                incident_id=found[1],
                kind=TimerKind(found[2]),
                target=found[3],
                due_at=due_at,
            )
        )
    return sorted(claimed, key=lambda c: (c.due_at, c.id))


async def record_timer_failure(
    session: AsyncSession, timer_id: int, *, error: str, now: datetime, holder: str, give_up: int
) -> bool:
    """Count a failed firing; after ``give_up`` failures set the timer aside (True).

    A set-aside timer has ``fired_at`` and ``last_error``: it no longer blocks or retries.
    """
    timer = await session.get(m.Timer, timer_id)
    if timer is None or timer.fired_at is not None:
        return False
    timer.attempts += 1
    timer.last_error = error[:2000]
    if timer.attempts >= give_up:
        timer.fired_at = now
        timer.claimed_by = holder
    session.add(timer)
    return timer.fired_at is not None


async def next_due(session: AsyncSession) -> datetime | None:
    result = await session.exec(
        select(sa.func.min(m.Timer.due_at)).where(
            col(m.Timer.fired_at).is_(None), col(m.Timer.cancelled).is_(False)
        )
    )
    value = result.one_or_none()
    if value is None:
        return None
    return UTCDateTime().process_result_value(value, session.get_bind().dialect)


async def remember_key(
    session: AsyncSession, key: str, result: dict[str, Any], now: datetime
) -> None:
    session.add(m.IdempotencyKey(key=key, created_at=now, result=json.dumps(result)))
    await session.flush()


async def recall_key(session: AsyncSession, key: str) -> dict[str, Any] | None:
    row = await session.get(m.IdempotencyKey, key)
    return None if row is None else dict(json.loads(row.result))
