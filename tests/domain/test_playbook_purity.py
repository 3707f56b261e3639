"""The domain stays pure: stdlib + pydantic only (no YAML, no I/O libraries, no clock)."""

import ast
from pathlib import Path

import pytest

DOMAIN = Path(__file__).resolve().parents[2] / "epbot" / "domain"
VALIDATION = sorted(f"validation/{p.name}" for p in (DOMAIN / "validation").glob("*.py"))
MINE = ["playbook.py", "matrix.py", "durations.py", *VALIDATION]
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


def test_validation_is_a_package_of_modules() -> None:
    assert "validation/__init__.py" in VALIDATION
    assert len(VALIDATION) > 1


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
