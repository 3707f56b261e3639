"""Migrations build the schema the models describe, on SQLite and PostgreSQL."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlmodel import SQLModel, select

from epbot.adapters.db import models as m
from epbot.adapters.db.engine import make_engine, make_sessionmaker
from epbot.adapters.db.migrate import alembic_config, upgrade

NOW = datetime(2026, 11, 24, 3, 0, tzinfo=UTC)


def _diffs(connection: sa.Connection, metadata: sa.MetaData) -> list[Any]:
    context = MigrationContext.configure(connection, opts={"compare_type": True})
    return list(compare_metadata(context, metadata))


async def test_upgrade_empty_database_to_head(empty_database_url: str) -> None:
    await __import__("asyncio").to_thread(upgrade, empty_database_url)
    head = ScriptDirectory.from_config(alembic_config(empty_database_url)).get_current_head()
    eng = make_engine(empty_database_url)
    try:
        async with eng.connect() as conn:
            version = (
                await conn.execute(sa.text("SELECT version_num FROM alembic_version"))
            ).scalar()
            tables = await conn.run_sync(lambda c: set(sa.inspect(c).get_table_names()))
    finally:
        await eng.dispose()
    assert version == head
    assert {t.__tablename__ for t in m.ALL_TABLES} <= tables


async def test_models_and_migrations_do_not_drift(engine: AsyncEngine) -> None:
    async with engine.connect() as conn:
        diffs = await conn.run_sync(_diffs, SQLModel.metadata)
    assert diffs == [], f"models differ from migrations; add an Alembic revision: {diffs}"


async def test_drift_check_catches_a_field_without_migration(engine: AsyncEngine) -> None:
    """The drift test above can fail: a column added to the models only is reported."""
    metadata = sa.MetaData(naming_convention=SQLModel.metadata.naming_convention)
    for table in SQLModel.metadata.sorted_tables:
        table.to_metadata(metadata)
    metadata.tables["incident"].append_column(sa.Column("new_field", sa.String(20)))
    async with engine.connect() as conn:
        diffs = await conn.run_sync(_diffs, metadata)
    assert [(d[0], d[3].name) for d in diffs if d[0] == "add_column"] == [
        ("add_column", "new_field")
    ]


def _rows() -> list[SQLModel]:
    later = NOW + timedelta(minutes=15)
    return [
        m.IncidentCounter(year=2026, drill=False, last=1),
        m.PlaybookSnapshot(hash="a" * 64, playbook_id="db-crash", content="{}", created_at=NOW),
        m.Incident(
            id=1,
            year=2026,
            seq=1,
            drill=False,
            playbook_id="db-crash",
            playbook_hash="a" * 64,
            severity="II",
            status="reported",
            title="数据库宕机",
            reporter="U1",
            commander_role="emergency_office",
            commander="U2",
            channel_id="C1",
            channel_name="inc-20261124-db-crash-1",
            card_ts="1.0001",
            declared_at=NOW,
            resolved_at=later,
            closed_at=later,
            cancelled_at=None,
            cancel_reason=None,
        ),
        m.Report(
            incident_id=1,
            version=1,
            occurred_at=NOW,
            place="机房",
            nature="数据库故障",
            scope="全部单位",
            trend="扩大",
            measures="切换备库",
            unit_id="it_dept",
            contact_phone="+86 22 1234 5678",
            title="DB down",
            submitted_by="U1",
            submitted_at=NOW,
        ),
        m.StageInstance(incident_id=1, stage_id="report", started_at=NOW),
        m.Approval(
            id=1,
            incident_id=1,
            kind="escalation",
            key="escalate",
            expired=True,
            step_id="escalate",
            approver_role="leadership",
            status="approved",
            requested_by="U2",
            requested_at=NOW,
            due_at=later,
            decided_by="U9",
            decided_at=later,
            reason="ok",
        ),
        m.StepInstance(
            incident_id=1,
            step_id="pause_uploads",
            stage_id="initial_handling",
            kind="broadcast",
            role="security_officer",
            assignee="U3",
            status="done",
            due_at=later,
            overdue_at=None,
            done_at=later,
            done_by="U3",
            note="done",
            approval_id=1,
        ),
        m.Page(
            incident_id=1,
            role="security_officer",
            person="U3",
            attempt=1,
            reason="declared",
            step_id=None,
            sent_at=NOW,
            acked_at=later,
            acked_by="U3",
        ),
        m.Timer(incident_id=1, kind="step_due", target="pause_uploads", due_at=later),
        m.TimelineEvent(
            incident_id=1,
            seq=1,
            at=NOW,
            actor="U1",
            kind="declared",
            payload=json.dumps({"x": "<!channel>"}),
            prev_hash="0" * 64,
            hash="b" * 64,
        ),
        m.OutboxMessage(
            incident_id=1,
            ordering_key="C1",
            priority=10,
            method="chat.postMessage",
            payload="{}",
            ref_key="card:1",
            status="pending",
            next_attempt_at=NOW,
            created_at=NOW,
        ),
        m.MessageRef(key="card:1", incident_id=1, channel="C1", ts="1.0001"),
        m.IdempotencyKey(key="declare:V1", created_at=NOW, result='{"incident_id": 1}'),
        m.OutboxLane(key="room:1", holder="host-1:7", leased_until=later),
        m.SchedulerLease(name="timers", holder="host-1", expires_at=later),
        m.Alert(
            source="alertmanager",
            kind="alertmanager",
            fingerprint="c6eadffa33fcdf37",
            live_key="alertmanager:c6eadffa33fcdf37",
            status="firing",
            summary="<!channel> 数据库宕机",
            details="postgres down",
            labels=json.dumps({"alertname": "PostgresDown"}),
            url="http://prometheus:9090/graph",
            starts_at=NOW,
            first_seen_at=NOW,
            last_seen_at=later,
            count=3,
            playbook_id="db-crash",
            severity="II",
            action="warn",
            rule="database-down",
            incident_id=1,
            declared_by="U1",
            channel="C2",
            ts="2.0001",
        ),
        m.DrillRun(
            drill_id="db-crash-quarterly",
            scheduled_for=later,
            claimed_by="host-1:7",
            claimed_at=NOW,
            incident_id=1,
        ),
        m.Receipt(
            incident_id=1,
            step_id="pause-uploads",
            unit_id="district-drc",
            channel="#ep-unit-drc",
            responsible_role="drc-contact",
            requested_at=NOW,
            due_at=later,
            nudged_at=later,
            confirmed_at=later,
            confirmed_by="U07DRC0001",
        ),
    ]


async def test_round_trip_of_every_table(engine: AsyncEngine) -> None:
    rows = _rows()
    assert {type(r) for r in rows} == set(m.ALL_TABLES)
    expected = [r.model_dump() for r in rows]
    sessions = make_sessionmaker(engine)
    async with sessions() as session:
        for row in rows:
            session.add(row)
            await session.flush()
        await session.commit()
    async with sessions() as session:
        for row_type, want in zip([type(r) for r in rows], expected, strict=True):
            got = (await session.exec(select(row_type))).all()
            assert len(got) == 1
            dumped = got[0].model_dump()
            assert {k: dumped[k] for k in want if want[k] is not None} == {
                k: v for k, v in want.items() if v is not None
            }
            for value in dumped.values():
                if isinstance(value, datetime):
                    assert value.utcoffset() == timedelta(0)


async def test_naive_datetimes_are_refused(engine: AsyncEngine) -> None:
    sessions = make_sessionmaker(engine)
    async with sessions() as session:
        session.add(m.IdempotencyKey(key="k", created_at=datetime(2026, 1, 1), result=""))  # noqa: DTZ001
        with pytest.raises(sa.exc.StatementError, match="naive datetime"):
            await session.commit()
