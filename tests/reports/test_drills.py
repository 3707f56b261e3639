"""Scheduled drills: the YAML is checked with located errors, `epbot drills list` shows next
runs, and a drill starts once at its time, also with two processes racing on one database."""

from __future__ import annotations

import asyncio
import io
import shutil
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa

from epbot.adapters.clock import FakeClock
from epbot.adapters.db import models as m
from epbot.adapters.drill_clock import DrillClock, drill_service
from epbot.adapters.drill_files import next_runs, runs_between
from epbot.adapters.playbook_files import PlaybookLibrary
from epbot.cli import main
from epbot.domain.drills import Drill, DrillPlan, DrillSchedule
from epbot.domain.playbook import Severity, Text
from epbot.playbooks_cli import check
from epbot.services.drills import DrillService
from epbot.services.incidents import IncidentService
from tests.services.conftest import PLAYBOOKS, START
from tests.waiting import eventually

TZ = ZoneInfo("Asia/Shanghai")
ROOT = Path(__file__).resolve().parents[2]
DAILY_0900 = Drill(  # 09:00 Shanghai = 01:00 UTC = START
    id="fault-daily",
    playbook="system-fault",
    severity=Severity.III,
    schedule=DrillSchedule(cron="0 9 * * *"),
    started_by="emergency-office",
    unit="user-it",
    title=Text(zh_CN="系统故障演练", en="System fault drill"),
    scenario=Text(zh_CN="演练场景：应用服务器无响应。", en="Scenario: the app server hangs."),
)


def _drills(service: IncidentService, library: PlaybookLibrary, *drills: Drill) -> DrillService:
    return drill_service(
        store=service.store,
        incidents=service,
        plan=lambda: DrillPlan(drills=drills),
        matrix=lambda: library.matrix,
        tz=TZ,
        locale="zh-CN",
    )


def test_schedule_in_the_configured_zone() -> None:
    after = START - timedelta(hours=1)
    assert runs_between(DAILY_0900, after, START, TZ) == [START]
    assert runs_between(DAILY_0900, START, START + timedelta(hours=23), TZ) == []
    assert next_runs(DAILY_0900, START, TZ, 2) == [START + timedelta(days=1), START + timedelta(2)]
    local = datetime.fromisoformat("2026-12-10T14:30:00")  # no zone: EPBOT_TIMEZONE
    dated = DAILY_0900.model_copy(update={"schedule": DrillSchedule(dates=(local,))})
    assert next_runs(dated, START, TZ) == [datetime(2026, 12, 10, 6, 30, tzinfo=UTC)]


def test_check_locates_drill_errors(tmp_path: Path) -> None:
    folder = tmp_path / "playbooks"
    shutil.copytree(PLAYBOOKS, folder)
    drills = folder / "drills.yaml"
    drills.write_text(
        "drills:\n"
        "  - id: broken\n"
        "    playbook: no-such-playbook\n"
        "    schedule: {cron: '61 9 * * *'}\n"
        "    started_by: nobody\n"
        "    unit: nowhere\n"
        "    title: {zh-CN: 演练, en: Drill}\n",
        encoding="utf-8",
    )
    out = io.StringIO()
    assert check(folder, None, out) == 1
    text = out.getvalue()
    assert f"{drills}:3:15: unknown playbook 'no-such-playbook'" in text
    assert f"{drills}:4:22: cron expression '61 9 * * *' does not parse" in text
    assert f"{drills}:5:17: started_by 'nobody' is neither a role" in text
    assert f"{drills}:6:11: unknown unit 'nowhere'" in text

    drills.write_text(
        "drills:\n"
        "  - id: both\n"
        "    playbook: virus\n"
        "    schedule: {cron: '0 9 * * *', dates: ['2026-12-01T09:00:00']}\n"
        "    started_by: U01EOF0001\n"
        "    unit: user-it\n"
        "    title: {zh-CN: 演练, en: Drill}\n",
        encoding="utf-8",
    )
    out = io.StringIO()
    assert check(folder, None, out) == 1
    assert f"{drills}:4:15: " in out.getvalue()
    assert "give either cron or dates" in out.getvalue()


def test_shipped_drills_check_and_list(monkeypatch: pytest.MonkeyPatch) -> None:
    out = io.StringIO()
    assert check(PLAYBOOKS, None, out) == 0, out.getvalue()
    monkeypatch.setenv("EPBOT_PLAYBOOKS_DIR", str(PLAYBOOKS))
    monkeypatch.setenv("EPBOT_MATRIX", str(PLAYBOOKS / "matrix.yaml"))
    monkeypatch.setenv("EPBOT_LOCALE", "zh-CN")
    out = io.StringIO()
    assert main(["drills", "list", "--count", "2"], out=out) == 0
    text = out.getvalue()
    assert "演练计划" in text
    assert "db-crash-quarterly — 数据库宕机演练 (db-crash, II 重大)" in text
    assert "发起人: 应急办公室 → 张伟 (U01EOF0001)" in text
    assert "下次演练时间:" in text


async def _runs(service: IncidentService) -> list[m.DrillRun]:
    async with service.store.engine.connect() as conn:
        rows = await conn.execute(sa.select(m.DrillRun.__table__))  # type: ignore[attr-defined]
        return [m.DrillRun(**row._mapping) for row in rows]


async def test_drill_starts_once_at_its_time(
    service: IncidentService, library: PlaybookLibrary, clock: FakeClock
) -> None:
    drills = _drills(service, library, DAILY_0900)
    clock.set(START - timedelta(minutes=1))
    assert await drills.run_due(clock.now()) == []
    clock.set(START)
    started = await drills.run_due(clock.now())
    assert [(s.drill_id, s.scheduled_for) for s in started] == [("fault-daily", START)]
    assert await drills.run_due(clock.now()) == []  # once
    assert await drills.run_due(START + timedelta(minutes=30)) == []
    state = await service.state(started[0].incident_id)
    assert state.drill
    assert state.severity is Severity.III
    assert state.reporter == "U01EOF0001"  # the emergency office's first person
    kinds = [(e["kind"], e["payload"]) for e in await service.timeline(state.id or 0)]
    assert any(k == "update_posted" and "演练场景：应用服务器无响应。" in p for k, p in kinds)
    [run] = await _runs(service)
    assert run.incident_id == started[0].incident_id
    assert run.claimed_by == service.holder


async def test_two_processes_start_it_once(
    make_service: Callable[..., IncidentService], library: PlaybookLibrary, clock: FakeClock
) -> None:
    """Two processes (own engines, own holders) race for the same runs, five times over."""
    a, b = make_service(holder="proc-a"), make_service(holder="proc-b")
    drill_a, drill_b = _drills(a, library, DAILY_0900), _drills(b, library, DAILY_0900)
    winners = []
    for day in range(5):
        now = START + timedelta(days=day)
        clock.set(now)
        got = await asyncio.gather(
            drill_a.run_due(now, since=now - timedelta(minutes=1)),
            drill_b.run_due(now, since=now - timedelta(minutes=1)),
        )
        assert sum(len(g) for g in got) == 1, got
        winners.append("a" if got[0] else "b")
    runs = await _runs(a)
    assert sorted(r.scheduled_for for r in runs) == [START + timedelta(days=d) for d in range(5)]
    async with a.store.engine.connect() as conn:
        drills = (
            await conn.execute(
                sa.select(sa.func.count()).where(m.Incident.drill.is_(True))  # type: ignore[attr-defined]
            )
        ).scalar_one()
    assert drills == 5


async def test_an_abandoned_claim_is_taken_over(
    make_service: Callable[..., IncidentService], library: PlaybookLibrary, clock: FakeClock
) -> None:
    a, b = make_service(holder="crashed"), make_service(holder="survivor")
    async with a.store.engine.begin() as conn:  # "crashed" claimed the run, then died
        await conn.execute(
            sa.insert(m.DrillRun.__table__).values(  # type: ignore[attr-defined]
                drill_id="fault-daily", scheduled_for=START, claimed_by="crashed", claimed_at=START
            )
        )
    drills = _drills(b, library, DAILY_0900)
    assert await drills.run_due(START + timedelta(minutes=1)) == []  # too early to tell
    started = await drills.run_due(START + timedelta(minutes=3))
    assert [s.scheduled_for for s in started] == [START]
    [run] = await _runs(b)
    assert run.claimed_by == "survivor"
    assert run.incident_id == started[0].incident_id


async def test_drill_clock_starts_the_drill(
    service: IncidentService, library: PlaybookLibrary, clock: FakeClock
) -> None:
    clock.set(START)
    ticker = DrillClock(_drills(service, library, DAILY_0900), clock, interval=0.05)
    ticker.start()
    try:
        await eventually(lambda: _runs(service), within=10)
    finally:
        await ticker.stop()
    assert not ticker.running
    assert len(await _runs(service)) == 1


@pytest.mark.postgres
@pytest.mark.parametrize("backend", ["postgres"], indirect=True)
async def test_two_os_processes_on_postgresql_start_it_once(
    database_url: str, service: IncidentService
) -> None:
    """The issue's case: two real processes on one PostgreSQL database, at the same instant."""
    import os
    import sys
    import time

    root = ROOT
    start_at = str(time.time() + 4)
    procs = [
        await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "tests.reports.drill_process",
            database_url,
            holder,
            start_at,
            cwd=root,
            env={**os.environ, "PYTHONPATH": str(root)},
            stdout=asyncio.subprocess.PIPE,
        )
        for holder in ("process-1", "process-2")
    ]
    outputs = [(await p.communicate())[0].decode().split() for p in procs]
    assert [p.returncode for p in procs] == [0, 0]
    assert sorted(int(o[-1]) for o in outputs) == [0, 1]
    runs = await _runs(service)
    assert len(runs) == 1
    assert runs[0].incident_id is not None
    assert runs[0].claimed_by in ("process-1", "process-2")
