"""/healthz, /readyz and their checks, on the bot's real web app and lifecycle."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from pydantic import SecretStr

from epbot.adapters.clock import FakeClock
from epbot.config import Settings
from epbot.fakeslack import FakeSlack
from epbot.wiring import Bot, build
from tests.scenarios.conftest import PLAYBOOKS, START


@pytest.fixture
async def served(database_url: str) -> AsyncIterator[tuple[Bot, FakeSlack, str]]:
    fake = FakeSlack(rate_limits=False, hang_seconds=2)
    await fake.start()
    settings = Settings(
        slack_bot_token=SecretStr(fake.bot_token),
        slack_signing_secret=SecretStr("health-signing-secret"),
        slack_api_url=fake.url,
        database_url=database_url,
        playbooks_dir=PLAYBOOKS,
        matrix=PLAYBOOKS / "matrix.yaml",
        locale="en",
    )
    bot = await build(settings, clock=FakeClock(START), slack_timeout=2)
    runner = web.AppRunner(bot.web())  # the lifecycle starts timers, leader and delivery
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    if bot.warming is not None:  # the start's auth.test (Bolt's authorization), answered
        await asyncio.wait_for(bot.warming, 10)
    fake.reset()  # from here on, only the readiness probes ask auth.test
    yield bot, fake, f"http://127.0.0.1:{runner.addresses[0][1]}"
    await runner.cleanup()
    await fake.stop()


async def _get(url: str) -> tuple[int, Any]:
    async with aiohttp.ClientSession() as session, session.get(url) as response:
        text = await response.text()
        try:
            return response.status, json.loads(text)
        except ValueError:
            return response.status, text


async def test_alive_and_ready(served: tuple[Bot, FakeSlack, str]) -> None:
    bot, fake, base = served
    assert await _get(base + "/healthz") == (200, "ok")
    status, body = await _get(base + "/readyz")
    assert status == 200, body
    assert body["status"] == "ok"
    assert body["failing"] == []
    assert {name for name, check in body["checks"].items() if check["ok"]} == {
        "database",
        "timers",
        "slack",
    }
    assert body["timers"]["leader"] is True  # one process (SQLite) or the only one (PG)
    # auth.test is cached: a probe every few seconds does not call Slack every time.
    for _ in range(3):
        assert (await _get(base + "/readyz"))[0] == 200
    assert len(fake.calls_to("auth.test")) == 1


async def test_not_ready_names_the_failing_checks(served: tuple[Bot, FakeSlack, str]) -> None:
    bot, fake, base = served
    assert bot.readiness is not None
    bot.readiness.slack_ttl = 0  # ask Slack on every probe
    bot.readiness.slack_failure_ttl = 0
    fake.inject_failure("auth.test", status="invalid_auth", times=1)
    status, body = await _get(base + "/readyz")
    assert status == 503
    assert body["failing"] == ["slack"]
    assert body["checks"]["slack"] == {"ok": False, "error": "invalid_auth"}
    assert fake.bot_token not in json.dumps(body)
    # Slack answers again: ready again.
    assert (await _get(base + "/readyz"))[0] == 200

    await bot.timers.shutdown()  # the alarm clock stopped: not ready, though still alive
    status, body = await _get(base + "/readyz")
    assert status == 503
    assert body["failing"] == ["timers"]
    assert (await _get(base + "/healthz"))[0] == 200


async def test_slack_unreachable_times_out(served: tuple[Bot, FakeSlack, str]) -> None:
    bot, fake, base = served
    assert bot.readiness is not None
    bot.readiness.slack_ttl = 0
    bot.readiness.timeout = 0.5
    fake.inject_failure("auth.test", status="timeout", times=5)
    status, body = await _get(base + "/readyz")
    assert status == 503
    assert body["failing"] == ["slack"]
    assert body["checks"]["slack"]["error"] == "timeout"
