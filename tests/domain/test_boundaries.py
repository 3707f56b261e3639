"""The domain is pure: stdlib + pydantic + itself; no Slack, SQL, scheduler, templates, clock."""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import pytest

DOMAIN = Path(__file__).resolve().parents[2] / "epbot" / "domain"
MODULES = sorted(DOMAIN.rglob("*.py"))
ALLOWED_THIRD_PARTY = {"pydantic", "pydantic_core", "annotated_types", "typing_extensions"}
FORBIDDEN = {
    "slack_sdk",
    "slack_bolt",
    "sqlalchemy",
    "sqlmodel",
    "alembic",
    "asyncpg",
    "aiosqlite",
    "apscheduler",
    "jinja2",
    "aiohttp",
    "yaml",
    "requests",
    "httpx",
}
CLOCK_READS = {
    ("datetime", "now"),
    ("datetime", "utcnow"),
    ("datetime", "today"),
    ("date", "today"),
    ("time", "time"),
    ("time", "monotonic"),
    ("time", "perf_counter"),
    ("time", "time_ns"),
    ("time", "localtime"),
}


def imported(tree: ast.AST) -> list[tuple[str, int]]:
    names = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names += [(alias.name, node.lineno) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:  # relative: inside the package
                names.append(("epbot.domain." + (node.module or ""), node.lineno))
            else:
                names.append((node.module or "", node.lineno))
    return names


def module_name(path: Path) -> str:
    """``epbot.domain.incident.flow`` for ``incident/flow.py``; a package for its ``__init__``."""
    parts = path.relative_to(DOMAIN.parents[1]).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def test_there_are_domain_modules() -> None:
    names = {module_name(p) for p in MODULES}
    assert names >= {
        "epbot.domain.incident",
        "epbot.domain.incident.dispatch",
        "epbot.domain.deadlines",
        "epbot.domain.audit",
        "epbot.domain.errors",
    }


@pytest.mark.parametrize("path", MODULES, ids=module_name)
def test_domain_imports_only_stdlib_pydantic_and_itself(path: Path) -> None:
    bad = []
    for name, line in imported(ast.parse(path.read_text(), str(path))):
        top = name.split(".")[0]
        if top in FORBIDDEN:
            bad.append((name, line))
        elif name == "epbot" or name.startswith("epbot."):
            if not (name == "epbot.domain" or name.startswith("epbot.domain.")):
                bad.append((name, line))
        elif top not in sys.stdlib_module_names and top not in ALLOWED_THIRD_PARTY:
            bad.append((name, line))
    assert bad == [], f"{module_name(path)} imports outside the domain's allowance"


@pytest.mark.parametrize("path", MODULES, ids=module_name)
def test_domain_never_reads_the_clock(path: Path) -> None:
    calls = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
            owner = node.func.value
            owner_name = (
                owner.id
                if isinstance(owner, ast.Name)
                else owner.attr
                if isinstance(owner, ast.Attribute)
                else None
            )
            if (owner_name, node.func.attr) in CLOCK_READS:
                calls.append((f"{owner_name}.{node.func.attr}", node.lineno))
        if isinstance(node, ast.ImportFrom) and node.module in ("time", "datetime"):
            for alias in node.names:
                if (node.module, alias.name) in CLOCK_READS:
                    calls.append((f"from {node.module} import {alias.name}", node.lineno))
    assert calls == []


def test_importing_the_domain_loads_no_forbidden_package() -> None:
    """The transitive check: a fresh interpreter imports every domain module."""
    import subprocess

    modules = [module_name(p) for p in MODULES]
    code = (
        "import sys\n"
        + "".join(f"import {m}\n" for m in modules)
        + f"bad = sorted({{m.split('.')[0] for m in sys.modules}} & set({sorted(FORBIDDEN)!r}))\n"
        + "print(','.join(bad))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        check=True,
        cwd=DOMAIN.parents[1],
    )
    assert out.stdout.strip() == ""


@pytest.mark.parametrize("path", MODULES, ids=module_name)
def test_every_domain_module_stays_under_500_lines(path: Path) -> None:
    """Small modules with one job: a module that grows past this is split by job."""
    assert len(path.read_text(encoding="utf-8").splitlines()) < 500
