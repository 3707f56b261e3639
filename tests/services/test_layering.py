"""Imports point inward: read from the source (ast), so a forbidden import fails here even if
no test ever runs the line (an import inside a function counts too).

- A service imports only the domain, other services (their ports among them), the standard
  library and ``epbot.logs``: never an adapter, the composition root or an I/O library.
- A Slack handler never touches the database: no SQLAlchemy/SQLModel, no
  ``epbot.adapters.db``, and it opens no session or engine.
"""

from __future__ import annotations

import ast
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SERVICES = ROOT / "epbot" / "services"
HANDLERS = ROOT / "handlers"

IO_LIBRARIES = {
    "sqlalchemy",
    "sqlmodel",
    "aiohttp",
    "slack_sdk",
    "slack_bolt",
    "apscheduler",
    "jinja2",
    "asyncpg",
    "aiosqlite",
    "httpx",
    "requests",
}
SERVICE_MAY_IMPORT = ("epbot.domain", "epbot.services", "epbot.logs")
DATABASE = ("sqlalchemy", "sqlmodel", "epbot.adapters.db")
# Calls that open a database session or engine (SQLAlchemy's, or the project's factories).
SESSION_OPENERS = {
    "AsyncSession",
    "Session",
    "sessionmaker",
    "async_sessionmaker",
    "make_sessionmaker",
    "_sessions",
    "create_async_engine",
    "create_engine",
    "make_engine",
}


def _package(path: Path, root: Path) -> str:
    return ".".join(path.relative_to(root).with_suffix("").parts[:-1])


def imports(path: Path, root: Path = ROOT) -> Iterator[tuple[int, str]]:
    """(line, absolute module name) of every import in the file, relative ones resolved."""
    tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = _package(path, root).split(".")
                base = base[: len(base) - (node.level - 1)]
                module = ".".join([*base, node.module] if node.module else base)
            else:
                module = node.module or ""
            for alias in node.names:  # ``from epbot import wiring`` imports epbot.wiring
                yield node.lineno, f"{module}.{alias.name}"


def session_calls(path: Path) -> Iterator[tuple[int, str]]:
    tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            func = node.func
            name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
            if name in SESSION_OPENERS:
                yield node.lineno, name


def _within(module: str, packages: tuple[str, ...] | set[str]) -> bool:
    return any(module == p or module.startswith(p + ".") for p in packages)


def service_problems(path: Path, root: Path = ROOT) -> list[str]:
    found: dict[int, str] = {}  # one problem per import statement
    for line, module in imports(path, root):
        top = module.split(".")[0]
        if line in found:
            continue
        if _within(module, ("epbot.adapters", "epbot.wiring")):
            found[line] = f"{path.name}:{line} imports the adapter {module}"
        elif top in IO_LIBRARIES:
            found[line] = f"{path.name}:{line} imports the I/O library {module}"
        elif not (top in sys.stdlib_module_names or _within(module, SERVICE_MAY_IMPORT)):
            found[line] = f"{path.name}:{line} imports {module} (neither domain, port nor stdlib)"
    return list(found.values())


def handler_problems(path: Path, root: Path = ROOT) -> list[str]:
    found = [
        f"{path.name}:{line} imports {module}"
        for line, module in imports(path, root)
        if _within(module, DATABASE)
    ]
    found += [f"{path.name}:{line} opens a session ({name})" for line, name in session_calls(path)]
    return found


def _modules(folder: Path) -> list[Path]:
    return sorted(folder.rglob("*.py"))


def test_the_rules_see_what_they_must(tmp_path: Path) -> None:
    """The checks themselves: each kind of offence is caught, and an honest module passes."""
    service = tmp_path / "epbot" / "services" / "bad.py"
    service.parent.mkdir(parents=True)
    service.write_text(
        "import json\n"
        "from epbot.domain import incident\n"
        "from epbot.services.ports import Clock\n"
        "from epbot.logs import bind\n"
        "from sqlalchemy.exc import DBAPIError\n"
        "from ..adapters.db import repository\n"
        "def late():\n"
        "    import aiohttp\n"
        "    from epbot import wiring\n"
        "    import yaml\n",
        encoding="utf-8",
    )
    problems = service_problems(service, tmp_path)
    handler = tmp_path / "handlers" / "bad.py"
    handler.parent.mkdir()
    handler.write_text(
        "from sqlmodel import select\n"
        "from epbot.adapters.db import models\n"
        "from epbot.adapters.slack import render\n"
        "async def listener(deps):\n"
        "    async with deps.ui._sessions() as session:\n"
        "        pass\n",
        encoding="utf-8",
    )
    handled = handler_problems(handler, tmp_path)
    assert any("I/O library sqlalchemy.exc" in p for p in problems)
    assert any("adapter epbot.adapters.db" in p for p in problems)
    assert any("I/O library aiohttp" in p for p in problems)
    assert any("adapter epbot.wiring" in p for p in problems)
    assert any("imports yaml" in p for p in problems)
    assert not any(":1 " in p or ":2 " in p or ":3 " in p or ":4 " in p for p in problems)
    assert any("imports sqlmodel" in p for p in handled)
    assert any("imports epbot.adapters.db" in p for p in handled)
    assert any("opens a session (_sessions)" in p for p in handled)
    assert not any(":3 " in p for p in handled)  # Slack-side helpers are fine


@pytest.mark.parametrize("path", _modules(SERVICES), ids=lambda p: p.name)
def test_a_service_imports_only_domain_ports_stdlib_and_logs(path: Path) -> None:
    assert service_problems(path) == []


@pytest.mark.parametrize("path", _modules(HANDLERS), ids=lambda p: p.name)
def test_a_handler_never_touches_the_database(path: Path) -> None:
    assert handler_problems(path) == []


SOURCES = sorted([*(ROOT / "epbot").rglob("*.py"), *HANDLERS.rglob("*.py")])


@pytest.mark.parametrize("path", SOURCES, ids=lambda p: str(p.relative_to(ROOT)))
def test_every_module_of_the_application_stays_under_500_lines(path: Path) -> None:
    """Issue 13's house rule for all of epbot/ and handlers/ (the domain's own test says the
    same for the domain): a module that grows past this is split by job, not by size."""
    assert len(path.read_text(encoding="utf-8").splitlines()) < 500
