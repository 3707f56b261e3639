"""`epbot playbooks check|show` as functions: exit status and printed output."""

import io
import shutil
from pathlib import Path

import pytest

from epbot.playbooks_cli import check, show

SHIPPED = Path(__file__).resolve().parents[1] / "playbooks"


def test_check_passes_on_the_shipped_set() -> None:
    out = io.StringIO()
    assert check(SHIPPED, None, out) == 0
    assert out.getvalue() == f"ok: 7 playbooks, 15 roles, 10 units ({SHIPPED / 'matrix.yaml'})\n"


def test_check_prints_located_errors_and_fails(tmp_path: Path) -> None:
    root = tmp_path / "playbooks"
    shutil.copytree(SHIPPED, root)
    path = root / "db-crash.yaml"
    text = path.read_text(encoding="utf-8")
    text = text.replace("role: database-engineer", "role: dba", 1)
    text = text.replace("depends_on: [recover-data]", "depends_on: [recover]", 1)
    path.write_text(text, encoding="utf-8")
    out = io.StringIO()
    assert check(root, root / "matrix.yaml", out) == 1
    lines = out.getvalue().splitlines()
    assert len(lines) == 2
    assert lines[0].startswith(f"{path}:")
    assert lines[0].endswith(": step 'check-offsite-backup' has unknown role 'dba'")
    assert lines[1].endswith(
        ": step 'resume-uploads' depends on unknown step 'recover' (did you mean 'recover-data'?)"
    )


def test_check_reports_a_syntax_error_with_its_line(tmp_path: Path) -> None:
    root = tmp_path / "playbooks"
    shutil.copytree(SHIPPED, root)
    (root / "virus.yaml").write_text(
        "id: virus\ntitle: {zh-CN: 病毒, en: Virus\nstages: []\n", encoding="utf-8"
    )
    out = io.StringIO()
    assert check(root, None, out) == 1
    assert out.getvalue() == (
        f"{root / 'virus.yaml'}:3:7: YAML syntax error: expected ',' or '}}', but got ':'\n"
    )


@pytest.mark.parametrize(
    ("locale", "expected"),
    [
        (
            "en",
            [
                "db-crash: Database fault  (default severity II major; fault class system;",
                "Stage ",
                "Report ",
                "pause-uploads [broadcast] Tell every unit to pause uploading",
                "Emergency office -> 张伟 022-2630-0101, 刘洋 022-2630-0102",  # Art. 5.1 phones
                "10m after declaration",
                "broadcast to every unit",
                "only I/II",
                "approving enters Emergency response",
            ],
        ),
        (
            "zh-CN",
            [
                "db-crash：数据库故障（默认级别 II 重大",
                "阶段",
                "信息报告",
                "先期处置",
                "通知各级单位暂缓上传上报数据",
                "宣布后 15m",
                "仅限 I/II",
                "'recover-data' 完成后 15m",
            ],
        ),
    ],
)
def test_show_prints_the_procedure(locale: str, expected: list[str]) -> None:
    out = io.StringIO()
    assert show("数据库故障", SHIPPED, None, locale, out) == 0
    table = out.getvalue()
    for fragment in expected:
        assert fragment in table
    rows = [line for line in table.splitlines() if " | " in line]
    assert len(rows) == 1 + 19  # header + every step of db-crash


def test_show_marks_gates() -> None:
    out = io.StringIO()
    assert show("attack", SHIPPED, None, "en", out) == 0
    stop = next(line for line in out.getvalue().splitlines() if "stop-system" in line)
    assert "approval by Security officer" in stop


def test_show_unknown_playbook() -> None:
    out = io.StringIO()
    assert show("meteor", SHIPPED, None, "en", out) == 1
    assert out.getvalue() == (
        "unknown playbook 'meteor'; known: attack, db-crash, disaster, network-outage, "
        "power-outage, system-fault, virus\n"
    )
