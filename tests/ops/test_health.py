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
from epbot.adapters.slack.client import CallFailure
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
    # Once the cached answer is old, a call of the bot's own that Slack answered in the
    # last minute proves the token as well: the probe asks Slack nothing.
    assert bot.readiness is not None
    bot.readiness._slack = None  # the cached answer expired
    channel = fake.workspace.add_channel("health-check", members=[fake.workspace.bot.id]).id
    await bot.client.post_message(channel, "a call of the bot's own")
    status, body = await _get(base + "/readyz")
    assert status == 200, body
    assert "answered_seconds_ago" in body["checks"]["slack"]
    assert len(fake.calls_to("auth.test")) == 1


async def test_not_ready_names_the_failing_checks(served: tuple[Bot, FakeSlack, str]) -> None:
    bot, fake, base = served
    assert bot.readiness is not None
    bot.readiness.slack_ttl = 0  # ask Slack on every probe
    bot.readiness.slack_failure_ttl = 0
    fake.inject_failure("auth.test", status="invalid_auth", times=1)  # the token refused
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


@pytest.mark.parametrize("trouble", ["timeout", 503, 429])
async def test_slack_in_trouble_is_degraded_not_unready(
    served: tuple[Bot, FakeSlack, str], trouble: str | int
) -> None:
    # On the worst day Slack times out or answers 5xx/429. Taking the bot out of the load
    # balancer would not help (every replica reaches the same Slack, the outbox keeps what
    # waits) and would stop it acknowledging anyone's clicks: still ready, degraded.
    bot, fake, base = served
    assert bot.readiness is not None
    bot.readiness.slack_ttl = 0
    bot.readiness.timeout = 0.5
    fake.inject_failure("auth.test", status=trouble, times=5)
    status, body = await _get(base + "/readyz")
    assert status == 200, body
    assert body["status"] == "degraded"
    assert body["failing"] == []
    assert body["degraded"] == ["slack"]
    expected = {"timeout": "timeout", 503: "internal_error", 429: "ratelimited"}[trouble]
    assert body["checks"]["slack"] == {"ok": True, "degraded": expected}


async def test_a_refused_token_on_the_bots_own_call_is_asked_about_at_once(
    served: tuple[Bot, FakeSlack, str],
) -> None:
    # The probe answered "ok" from a recent call and cached it; then the bot's own call is
    # refused (the token was revoked): the next probe does not trust the cache, asks
    # auth.test, and says not ready.
    bot, fake, base = served
    assert (await _get(base + "/readyz"))[0] == 200
    fake.valid_tokens.discard(fake.bot_token)  # revoked: every call is refused
    with pytest.raises(CallFailure):
        await bot.client.auth_test()
    status, body = await _get(base + "/readyz")
    assert status == 503, body
    assert body["checks"]["slack"] == {"ok": False, "error": "invalid_auth"}
