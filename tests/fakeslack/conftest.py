"""Fixtures: a started FakeSlack on a manual clock, and a real slack_sdk client pointed at it."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from slack_sdk.web.async_client import AsyncWebClient

from epbot.fakeslack import FakeSlack, ManualClock, Workspace


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
def workspace() -> Workspace:
    ws = Workspace()
    ws.add_user(
        "alice",
        real_name="Alice Chen",
        email="alice@example.com",
        tz="Asia/Shanghai",
        locale="zh-CN",
        user_id="U0ALICE",
    )
    ws.add_user("bob", real_name="Bob Li", email="bob@example.com", user_id="U0BOB")
    return ws


@pytest.fixture
async def fake(workspace: Workspace, clock: ManualClock) -> AsyncIterator[FakeSlack]:
    server = FakeSlack(workspace=workspace, clock=clock, rate_limits=False, hang_seconds=5)
    await server.start()
    yield server
    await server.stop()


@pytest.fixture
def client(fake: FakeSlack) -> AsyncWebClient:
    return AsyncWebClient(token=fake.bot_token, base_url=fake.url)
