"""The domain stays pure: stdlib + pydantic only (no YAML, no I/O libraries, no clock)."""

import ast
from pathlib import Path

import pytest

DOMAIN = Path(__file__).resolve().parents[2] / "epbot" / "domain"
MINE = ["playbook.py", "matrix.py", "durations.py", "validation.py"]
FORBIDDEN = {
    "yaml",
    "slack_sdk",
    "slack_bolt",
    "sqlmodel",
    "sqlalchemy",
    "apscheduler",
    "jinja2",
    "aiohttp",
    "os",
    "pathlib",
    "io",
}


@pytest.mark.parametrize("name", MINE)
def test_domain_module_imports_nothing_impure(name: str) -> None:
    tree = ast.parse((DOMAIN / name).read_text(encoding="utf-8"))
    imported: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            imported |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            imported.add(node.module.split(".")[0])
    assert not imported & FORBIDDEN
    assert "now(" not in (DOMAIN / name).read_text(encoding="utf-8")
