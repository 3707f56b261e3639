"""Fixtures: a started sandbox (real bot, emulated workspace) and, for browser tests,
headless Chromium from the system's packages driven by Playwright.

Without Chromium the browser tests are skipped, unless ``EPBOT_REQUIRE_BROWSER=1`` (CI
sets it), which turns that into a failure. Screenshots go to ``EPBOT_ARTIFACTS_DIR``
(default ``tests/.artifacts/sandbox``); the path is printed.
"""

from __future__ import annotations

import os
import re
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from epbot.config import Settings
from epbot.sandbox import Sandbox

ROOT = Path(__file__).resolve().parents[2]
PLAYBOOKS = ROOT / "playbooks"
CHROMIUM = Path(os.environ.get("EPBOT_CHROMIUM", "/usr/bin/chromium"))
REQUIRE_BROWSER = os.environ.get("EPBOT_REQUIRE_BROWSER") == "1"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


def sandbox_settings(tmp_path: Path, locale: str = "en") -> Settings:
    return Settings(
        database_url=f"sqlite+aiosqlite:///{tmp_path / 'sandbox.db'}",
        playbooks_dir=PLAYBOOKS,
        matrix=PLAYBOOKS / "matrix.yaml",
        locale=locale,  # type: ignore[arg-type]
        timezone="Asia/Shanghai",
    )


@pytest.fixture
async def sandbox(tmp_path: Path) -> AsyncIterator[Sandbox]:
    server = Sandbox(sandbox_settings(tmp_path), host="127.0.0.1", port=0)
    await server.start()
    yield server
    await server.stop()


@pytest.fixture
def artifacts(request: pytest.FixtureRequest) -> Path:
    base = Path(os.environ.get("EPBOT_ARTIFACTS_DIR", ROOT / "tests" / ".artifacts" / "sandbox"))
    directory = base / re.sub(r"[^A-Za-z0-9_.-]+", "_", request.node.name)
    directory.mkdir(parents=True, exist_ok=True)
    for old in directory.glob("*.png"):
        old.unlink()
    print(f"\nsandbox screenshots: {directory}")  # noqa: T201 - the path is the point
    return directory


def _chromium_missing() -> str | None:
    if CHROMIUM.exists():
        return None
    return f"Chromium not found at {CHROMIUM} (apt-get install chromium)"


@pytest.fixture
async def browser() -> AsyncIterator[Any]:
    missing = _chromium_missing()
    if missing is not None:
        if REQUIRE_BROWSER:
            pytest.fail(f"{missing}; EPBOT_REQUIRE_BROWSER=1 requires it")
        pytest.skip(missing)
    from playwright.async_api import async_playwright

    async with async_playwright() as playwright:
        chromium = await playwright.chromium.launch(
            executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True
        )
        try:
            yield chromium
        finally:
            await chromium.close()
