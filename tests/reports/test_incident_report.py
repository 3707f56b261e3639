"""`epbot report incident`: each format holds what the issue lists (the PDF read back as text)."""

from __future__ import annotations

import asyncio
import io
import json
from collections.abc import Callable
from pathlib import Path

import pytest
from pypdf import PdfReader

from epbot.adapters.clock import FakeClock
from epbot.cli import main
from epbot.services.incidents import IncidentService
from tests.reports.script import scripted_incident

NUMBER = "2026-0001"


def _run(*argv: str) -> tuple[int, str]:
    out = io.StringIO()
    code = main(list(argv), out=out)
    return code, out.getvalue()


async def _arun(*argv: str) -> tuple[int, str]:
    """The CLI runs its own event loop: call it from a thread inside async tests."""
    return await asyncio.to_thread(_run, *argv)


def _pdf_text(path: Path) -> str:
    return "\n".join(page.extract_text() or "" for page in PdfReader(path).pages)


@pytest.fixture
async def incident(service: IncidentService, clock: FakeClock) -> int:
    return await scripted_incident(service, clock)


# What every format must show, per locale: Art. 5.1 fields, stages, steps with outcomes,
# pages and acks, approvals with who and when, receipts, timeline, the audit result.
EXPECTED = {
    "zh-CN": [
        "突发事件处置总结报告",
        "核心交换机故障",
        "首报",
        "机房 / server room",
        "022-2630-0101",
        "用户信息化部门",
        "先期处置",
        "应急响应",
        "指挥与协调",
        "重大事件必须在 15 分钟内向用户突发事件应急领导小组报告",
        "超时 5分00秒",
        "已跳过",
        "演练不需要",
        "呼叫与确认",
        "张伟",
        "李建国",
        "已批准",
        "回执",
        "时间线",
        "完整：共",
        "审计锚点：2026-0001 条目数=",
    ],
    "en": [
        "After-action report",
        "First report",
        "Contact phone",
        "Initial handling",
        "Emergency response",
        "Report the major event to the emergency leadership group within 15 minutes",
        "late by 5 min 00 s",
        "skipped",
        "Pages and acknowledgements",
        "approved",
        "Receipts",
        "Timeline",
        "Intact:",
        "audit anchor: 2026-0001 entries=",
    ],
}


def _embedded_fonts(path: Path) -> set[str]:
    """The names of the fonts whose glyphs are embedded in the PDF (FontFile*)."""
    names = set()
    for page in PdfReader(path).pages:
        for font in page["/Resources"]["/Font"].values():
            font = font.get_object()
            for part in [font, *[f.get_object() for f in font.get("/DescendantFonts", [])]]:
                descriptor = part.get("/FontDescriptor")
                if descriptor is not None and any(
                    k in descriptor.get_object() for k in ("/FontFile", "/FontFile2", "/FontFile3")
                ):
                    names.add(str(part["/BaseFont"]))
    return names


def _squash(text: str) -> str:
    """PDF text wraps lines anywhere: compare without whitespace."""
    return "".join(text.split())


@pytest.mark.parametrize("locale", ["zh-CN", "en"])
@pytest.mark.parametrize("fmt", ["md", "pdf"])
async def test_report_holds_everything(
    incident: int, cli_env: Callable[[str], None], tmp_path: Path, locale: str, fmt: str
) -> None:
    cli_env(locale)
    target = tmp_path / f"report.{fmt}"
    code, said = await _arun("report", "incident", NUMBER, "--format", fmt, "--output", str(target))
    assert code == 0, said
    text = _pdf_text(target) if fmt == "pdf" else target.read_text()
    for expected in EXPECTED[locale]:
        assert _squash(expected) in _squash(text), expected
    if fmt == "pdf":
        assert target.read_bytes().startswith(b"%PDF")
        fonts = _embedded_fonts(target)
        assert any("WenQuanYi" in name for name in fonts), fonts
        assert "<svg" not in text  # the chart is drawn, not printed as markup


async def test_json_report(
    incident: int, cli_env: Callable[[str], None], service: IncidentService
) -> None:
    cli_env("en")
    code, said = await _arun("report", "incident", NUMBER, "--format", "json")
    assert code == 0
    data = json.loads(said)
    assert data["number"] == NUMBER
    assert data["reports"][0]["contact_phone"] == "022-2630-0101"
    assert [s["id"] for s in data["stages"]] == [
        "report",
        "initial_handling",
        "emergency_response",
        "command_coordination",
    ]
    steps = {s["step_id"]: s for s in data["steps"]}
    assert steps["report-leadership"]["outcome"] == "late"
    assert steps["report-leadership"]["late_seconds"] == 300
    assert steps["report-office"]["outcome"] == "on_time"
    assert steps["start-unit-plan"]["outcome"] == "skipped"
    assert data["approvals"][0]["decided_by"] == "U01LDR0001"
    assert data["pages"][0]["acked_by"] == "U01EOF0001"
    assert len(data["receipts"]) == 5
    timeline = await service.timeline(incident)
    assert len(data["timeline"]) == len(timeline) == data["audit"]["entries"]
    assert data["audit"]["intact"] is True
    assert data["audit"]["head"] == data["timeline"][-1]["hash"]


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["report", "incident", "2026-0999"], "no incident '2026-0999'"),
        (["report", "incident", "#no-such-channel"], "no incident"),
        (["report", "incident", "2026-0001", "--format", "docx"], "unknown format 'docx'"),
        (["report", "summary", "--since", "2026-13-01"], "not a date: '2026-13-01'"),
        (["report", "summary", "--until", "yesterday"], "not a date: 'yesterday'"),
        (["report", "summary", "--format", "xlsx"], "unknown format 'xlsx'"),
        (["report", "summary", "--since", "2026-12-01", "--until", "2026-11-01"], "not after"),
    ],
)
def test_bad_input_is_one_line_and_exit_1(
    cli_env: Callable[[str], None],
    capsys: pytest.CaptureFixture[str],
    argv: list[str],
    message: str,
) -> None:
    cli_env("en")
    code, said = _run(*argv)
    err = capsys.readouterr().err
    assert code == 1
    assert said == ""
    assert err.count("\n") == 1
    assert err.startswith("epbot: ")
    assert message in err


async def test_found_by_channel_id_and_name(
    incident: int,
    cli_env: Callable[[str], None],
    service: IncidentService,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import sqlalchemy as sa

    from epbot.adapters.db import models as m

    async with service.store.engine.begin() as conn:
        await conn.execute(
            sa.update(m.Incident)
            .where(m.Incident.id == incident)  # type: ignore[arg-type]
            .values(channel_id="C0INC0001", channel_name="inc-20261124-system-fault-1")
        )
    cli_env("en")
    for ref in ("C0INC0001", "#inc-20261124-system-fault-1", "inc-20261124-system-fault-1"):
        code, said = await _arun("report", "incident", ref, "--format", "json")
        assert code == 0
        assert json.loads(said)["number"] == NUMBER
    monkeypatch.chdir(tmp_path)
    code, said = await _arun("report", "incident", "C0INC0001", "--format", "pdf")
    assert code == 0
    assert said == f"wrote {NUMBER}.pdf ({(tmp_path / f'{NUMBER}.pdf').stat().st_size} bytes)\n"
