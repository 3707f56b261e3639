"""The audit anchor: exports and the closing report state the chain's head and length, and
`epbot audit verify --anchor` notices newest entries dropped from the table."""

from __future__ import annotations

import asyncio
import dataclasses
import io
import json
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa

from epbot.adapters.clock import FakeClock
from epbot.adapters.db import models as m
from epbot.adapters.slack import render
from epbot.cli import main
from epbot.domain.anchor import Anchor, anchor_of, check_anchor, find_anchors, latest
from epbot.domain.audit import GENESIS, ChainEntry
from epbot.services.audit import AuditService
from epbot.services.incidents import IncidentService
from tests.reports.script import scripted_incident

NUMBER = "2026-0001"


def _run(*argv: str) -> tuple[int, str]:
    out = io.StringIO()
    code = main(list(argv), out=out)
    return code, out.getvalue()


async def _arun(*argv: str) -> tuple[int, str]:
    return await asyncio.to_thread(_run, *argv)


def _entries(n: int) -> list[ChainEntry]:
    at = datetime(2026, 11, 24, tzinfo=UTC)
    return [ChainEntry(1, s, at, "U1", "k", "{}", "p", f"{s:064x}") for s in range(1, n + 1)]


def test_check_anchor() -> None:
    entries = _entries(5)
    assert check_anchor(entries, anchor_of("2026-0001", entries)) is None
    assert check_anchor(entries + _entries(6)[5:], anchor_of("2026-0001", entries)) is None
    cut = check_anchor(entries[:3], anchor_of("2026-0001", entries))
    assert cut is not None
    assert "2 newest timeline entries missing" in cut
    forged = dataclasses.replace(anchor_of("2026-0001", entries), head="f" * 64)
    assert "does not match" in (check_anchor(entries, forged) or "")
    assert check_anchor([], Anchor("2026-0001", 0, GENESIS)) is None


def test_anchor_lines_are_read_back_in_both_locales() -> None:
    head = "ab" * 32
    text = (
        f"x audit anchor: 2026-0007 entries=41 head={head} y\n"
        f"审计锚点：DRILL-2026-0002 条目数=9 链头={head[:20]}\n{head[20:]}"
    )
    found = find_anchors(text)
    assert found == [Anchor("2026-0007", 41, head), Anchor("DRILL-2026-0002", 9, head)]
    assert latest([*found, Anchor("2026-0007", 45, head)], "2026-0007") == Anchor(
        "2026-0007", 45, head
    )
    assert latest(found, "2026-0008") is None


@pytest.fixture
async def incident(service: IncidentService, clock: FakeClock) -> int:
    return await scripted_incident(service, clock)


@pytest.mark.parametrize("fmt", ["md", "json", "pdf"])
async def test_verify_against_an_export_detects_dropped_newest_entries(
    incident: int,
    service: IncidentService,
    cli_env: Callable[[str], None],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    fmt: str,
) -> None:
    cli_env("zh-CN")
    export = tmp_path / f"report.{fmt}"
    code, _ = await _arun("report", "incident", NUMBER, "--format", fmt, "-o", str(export))
    assert code == 0
    entries = len(await service.timeline(incident))

    code, said = await _arun("audit", "verify", NUMBER, "--anchor", str(export))
    assert code == 0, said
    assert f"{entries} timeline entries, chain intact, matches its anchor" in said

    async with service.store.engine.begin() as conn:  # someone cuts the last two entries
        await conn.execute(
            sa.delete(m.TimelineEvent).where(
                m.TimelineEvent.incident_id == incident,  # type: ignore[arg-type]
                m.TimelineEvent.seq > entries - 2,  # type: ignore[arg-type]
            )
        )
    code, said = await _arun("audit", "verify", NUMBER)
    assert code == 0  # the chain alone cannot tell
    code, said = await _arun("audit", "verify", NUMBER, "--anchor", str(tmp_path))
    assert code == 1
    assert said.count("\n") == 1
    assert f"2 newest timeline entries missing: the anchor pinned {entries}" in said


async def test_missing_anchor_file_is_one_line_and_exit_1(
    cli_env: Callable[[str], None], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    cli_env("en")
    code, said = await _arun("audit", "verify", NUMBER, "--anchor", str(tmp_path / "nope.pdf"))
    assert code == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert "no such anchor file" in err


@pytest.mark.parametrize("locale", ["zh-CN", "en"])
async def test_closing_report_states_the_chain_head(
    incident: int, service: IncidentService, locale: str
) -> None:
    state = await service.state(incident)
    timeline = [
        {"kind": e["kind"], "actor": e["actor"], "at": e["at"], "data": json.loads(e["payload"])}
        for e in await service.timeline(incident)
    ]
    ctx = render.RenderContext(
        locale=locale, tz=ZoneInfo("Asia/Shanghai"), now=state.resolved_at, number=NUMBER
    )
    from tests.services.conftest import report

    text = render.closing_report(state, report(), timeline, ctx)
    entries, head = await _chain(service, incident)
    assert find_anchors(text) == [Anchor(NUMBER, entries, head)]


async def _chain(service: IncidentService, incident: int) -> tuple[int, str]:
    count, problem = await AuditService(service.store).check(incident)
    assert problem is None
    async with service.store.engine.connect() as conn:
        head = (
            await conn.execute(
                sa.select(m.TimelineEvent.hash)  # type: ignore[call-overload]
                .where(m.TimelineEvent.incident_id == incident)
                .order_by(m.TimelineEvent.seq.desc())  # type: ignore[attr-defined]
                .limit(1)
            )
        ).scalar_one()
    return count, str(head)
