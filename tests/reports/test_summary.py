"""`epbot report summary` and its Prometheus gauges on a known set of incidents."""

from __future__ import annotations

import asyncio
import csv
import io
import json
from collections.abc import Callable
from datetime import timedelta

import pytest

from epbot.adapters.clock import FakeClock
from epbot.adapters.playbook_files import PlaybookLibrary
from epbot.adapters.report_metrics import ReportMetrics
from epbot.cli import main
from epbot.domain.playbook import Severity
from epbot.services.incidents import IncidentService
from tests.reports.script import COMMANDER, scripted_incident
from tests.services.conftest import START, key, report

DAY = timedelta(days=1)


def _run(*argv: str) -> tuple[int, str]:
    out = io.StringIO()
    code = main(list(argv), out=out)
    return code, out.getvalue()


@pytest.fixture
async def known_set(service: IncidentService, clock: FakeClock) -> None:
    """Real system-fault II x3 (acks at 2, 4, 6 min; leadership reported at 20, 10, 12 min),
    one real IV, one drill II, one cancelled, and one before the period."""
    minutes = timedelta(minutes=1)
    await scripted_incident(service, clock, at=START - 10 * DAY)  # outside --since
    await scripted_incident(service, clock, at=START, ack_after=2 * minutes)
    await scripted_incident(
        service, clock, at=START + DAY, ack_after=4 * minutes, leadership_after=10 * minutes
    )
    await scripted_incident(
        service, clock, at=START + 2 * DAY, ack_after=6 * minutes, leadership_after=12 * minutes
    )
    await scripted_incident(service, clock, at=START + 3 * DAY, severity=Severity.IV)
    await scripted_incident(service, clock, at=START + 4 * DAY, drill=True)
    clock.set(START + 5 * DAY)
    cancelled = await service.declare(
        key=key(), playbook="system-fault", severity=Severity.II, report=report(), reporter="U9"
    )
    await service.cancel(
        key=key(), incident_id=cancelled.incident_id, actor=COMMANDER, reason="false alarm"
    )


async def test_summary_figures(known_set: None, cli_env: Callable[[str], None]) -> None:
    cli_env("en")
    code, said = await asyncio.to_thread(
        _run,
        "report",
        "summary",
        "--since",
        "2026-11-20",
        "--until",
        "2026-11-30",
        "--format",
        "json",
    )
    assert code == 0
    data = json.loads(said)
    real = {(r["playbook"], r["severity"]): r for r in data["real"]}
    assert set(real) == {("system-fault", "II"), ("system-fault", "IV")}
    major = real[("system-fault", "II")]
    assert major["count"] == 3
    assert major["first_ack_median_seconds"] == 240.0  # 120, 240, 360
    assert major["first_ack_p90_seconds"] == 360.0  # nearest rank: the 3rd of 3
    assert major["resolve_median_seconds"] == major["resolve_p90_seconds"] == 37 * 60
    # 13 deadlines each (the skipped step has none); start-plan (due 15 min after the stage
    # starts at +10) is done at +31 every time, report-leadership (due +15) late in the first
    assert (major["deadlines_met"], major["deadlines_total"]) == (35, 39)
    assert (major["major_count"], major["major_reported_in_15_min"]) == (3, 2)
    assert major["major_15_min_share"] == pytest.approx(2 / 3)
    minor = real[("system-fault", "IV")]
    assert minor["count"] == 1
    assert minor["major_count"] == 0
    assert minor["major_15_min_share"] is None
    assert [(r["playbook"], r["severity"], r["count"]) for r in data["drills"]] == [
        ("system-fault", "II", 1)
    ]
    assert data["drills"][0]["major_reported_in_15_min"] == 0


async def test_summary_csv_and_markdown(known_set: None, cli_env: Callable[[str], None]) -> None:
    cli_env("zh-CN")
    code, said = await asyncio.to_thread(_run, "report", "summary", "--format", "csv")
    assert code == 0
    rows = list(csv.DictReader(io.StringIO(said)))
    assert [(r["drill"], r["severity"], r["count"]) for r in rows] == [
        ("False", "II", "4"),  # no --since: the one ten days earlier counts too
        ("False", "IV", "1"),
        ("True", "II", "1"),
    ]
    code, said = await asyncio.to_thread(
        _run, "report", "summary", "--since", "2026-11-20", "--format", "md"
    )
    assert code == 0
    assert "真实事件" in said
    assert "演练" in said
    assert (
        "| 系统出现故障 | II 重大 | 3 | 4分00秒 | 6分00秒 | 37分00秒 | 37分00秒 "
        "| 89.7% (35/39) | 66.7% (2/3) |" in said
    )


async def test_summary_as_prometheus_gauges(
    known_set: None, engine, library: PlaybookLibrary, clock: FakeClock
) -> None:
    from prometheus_client import CollectorRegistry, generate_latest
    from prometheus_client.registry import Collector

    source = ReportMetrics(engine, library)
    families = await source(clock.now())

    class Static(Collector):
        def collect(self):  # type: ignore[no-untyped-def]
            return iter(families)

    registry = CollectorRegistry(auto_describe=False)
    registry.register(Static())
    text = generate_latest(registry).decode()
    labels = 'drill="false",playbook="system-fault",severity="II"'  # written sorted
    assert f"epbot_report_incidents{{{labels}}} 4.0" in text
    ack = 'drill="false",playbook="system-fault",quantile="0.5",severity="II"'
    assert f"epbot_report_first_ack_seconds{{{ack}}} 180.0" in text
    assert f"epbot_report_major_reported_in_15_min_ratio{{{labels}}} 0.5" in text
    assert len(source._cache) == 6  # the resolved ones: not loaded again at the next scrape
    assert await source(clock.now()) is not None


async def test_the_bot_exposes_the_gauges(
    known_set: None, database_url: str, clock: FakeClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    from epbot.config import load_settings
    from epbot.wiring import compose
    from tests.services.conftest import PLAYBOOKS

    monkeypatch.setenv("SLACK_BOT_TOKEN", "xoxb-test")
    monkeypatch.setenv("SLACK_SIGNING_SECRET", "secret")
    monkeypatch.setenv("EPBOT_DATABASE_URL", database_url)
    monkeypatch.setenv("EPBOT_PLAYBOOKS_DIR", str(PLAYBOOKS))
    monkeypatch.setenv("EPBOT_MATRIX", str(PLAYBOOKS / "matrix.yaml"))
    bot = compose(load_settings(), clock=clock)
    try:
        assert bot.metrics is not None
        text = (await bot.metrics.render(now=clock.now(), within=30)).decode()
    finally:
        await bot.engine.dispose()
    assert 'epbot_report_incidents{drill="true",playbook="system-fault",severity="II"} 1.0' in text
