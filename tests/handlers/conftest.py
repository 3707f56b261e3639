"""In-process handler tests: signed requests through the bot's own ``app.async_dispatch``.

The bot is built by wiring, as in production, over a real database; its Web API calls go to
FakeSlack, which records them. No HTTP server for the bot: each request is a Bolt request
signed exactly as Slack signs it, as bolt-python's own tests do.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import pytest
from pydantic import SecretStr
from slack_bolt.request.async_request import AsyncBoltRequest
from slack_bolt.response import BoltResponse

from epbot.adapters.clock import FakeClock
from epbot.adapters.slack.alert_ui import AlertInteractions
from epbot.config import Settings
from epbot.domain.incident import ReportFields
from epbot.fakeslack import FakeSlack
from epbot.fakeslack.server import Call
from epbot.fakeslack.signing import (
    FORM,
    JSON,
    block_actions,
    event_callback,
    signed_headers,
    slash_command,
    view_submission,
)
from epbot.services.ports import NoNotifier
from epbot.wiring import Bot, build
from handlers.deps import Deps
from tests.scenarios.conftest import INCIDENTS_CHANNEL, PLAYBOOKS, REPORTER, START, seed_workspace
from tests.waiting import eventually

SECRET = "handler-tests-signing-secret"
ZH_USER = "U0ZHONGWEN1"  # Slack locale zh-CN, in no role of the matrix
EN_USER = "U0ENGLISH01"  # Slack locale en-US, in no role of the matrix


@dataclass
class Handlers:
    """The bot, FakeSlack, and requests dispatched in-process."""

    bot: Bot
    fake: FakeSlack
    channel: str  # a channel both test users are in

    async def dispatch(self, body: str, content_type: str = FORM) -> BoltResponse:
        headers = signed_headers(SECRET, body, content_type=content_type)
        return await self.bot.app.async_dispatch(AsyncBoltRequest(body=body, headers=headers))

    async def idle(self) -> None:
        """Wait for every listener's after-ack work."""
        assert await self.bot.listeners.wait_idle(15.0)

    async def click(
        self, action_id: str, value: str, *, user: str, channel: str | None = None
    ) -> BoltResponse:
        where = channel or self.channel
        url = self.fake.new_response_url(channel_id=where, user_id=user, message_ts="1.000001")
        body = block_actions(
            user_id=user,
            action_id=action_id,
            value=value,
            channel_id=where,
            message_ts="1.000001",
            response_url=url,
        )
        return await self.dispatch(body)

    async def command(self, text: str, *, user: str, channel: str | None = None) -> BoltResponse:
        where = channel or self.channel
        url = self.fake.new_response_url(channel_id=where, user_id=user)
        return await self.dispatch(
            slash_command(text=text, user_id=user, channel_id=where, response_url=url)
        )

    async def submit(
        self,
        callback_id: str,
        *,
        user: str,
        meta: dict[str, Any],
        values: dict[str, Any] | None = None,
        view_id: str = "V0HANDLER1",
    ) -> BoltResponse:
        body = view_submission(
            user_id=user,
            callback_id=callback_id,
            view_id=view_id,
            state_values=values or {},
            private_metadata=json.dumps(meta),
        )
        return await self.dispatch(body)

    async def event(self, event: dict[str, Any]) -> BoltResponse:
        return await self.dispatch(event_callback(event), JSON)

    def deps(self) -> Deps:
        """The listeners' dependencies, as wiring builds them."""
        alerts = self.bot.alerts
        assert alerts is not None
        ui = self.bot.ui
        return Deps(self.bot.service, ui, alerts, AlertInteractions(ui=ui, alerts=alerts))

    async def replies(self, count: int = 1) -> list[Call]:
        """The ``response_url`` answers, once there are ``count`` of them."""

        def answered() -> list[Call] | None:
            calls = self.fake.calls_to("response_url")
            return calls if len(calls) >= count else None

        found: list[Call] = await eventually(answered, within=15.0)
        return found

    async def declare(self, key: str = "declare-1") -> int:
        """An open db-crash incident (declared through the service, not Slack)."""
        report = ReportFields(
            occurred_at=START - timedelta(minutes=5),
            place="server room",
            nature="database crash",
            scope="all units",
            trend="stable",
            measures="none yet",
            unit_id="user-it",
            contact_phone="+86 22-2630-0101",
            title="DB down",
        )
        outcome = await self.bot.service.declare(
            key=key, playbook="db-crash", severity=None, report=report, reporter=REPORTER
        )
        return outcome.incident_id


@pytest.fixture
async def handlers(database_url: str) -> AsyncIterator[Handlers]:
    fake = FakeSlack(rate_limits=False, hang_seconds=2, latency=0.0)
    await fake.start()
    settings = Settings(
        slack_bot_token=SecretStr(fake.bot_token),
        slack_signing_secret=SecretStr(SECRET),
        slack_api_url=fake.url,
        database_url=database_url,
        playbooks_dir=PLAYBOOKS,
        matrix=PLAYBOOKS / "matrix.yaml",
        locale="zh-CN",  # the default until a person's own locale is known
        timezone="Asia/Shanghai",
        incidents_channel=INCIDENTS_CHANNEL,
        slack_pacing=False,
    )
    bot = await build(settings, clock=FakeClock(START), slack_timeout=2)
    bot.client.backoff_start = 0.05
    bot.client.patience = 1.0
    # Handler tests look at what the listeners call, not at delivery: the services' kicks
    # after commit would start delivery in the background, mid-assertion.
    bot.service.notifier = NoNotifier()
    if bot.alerts is not None:
        bot.alerts.notifier = NoNotifier()
    seed_workspace(fake, bot.library.matrix)
    fake.workspace.add_user("zhongwen", user_id=ZH_USER, locale="zh-CN")
    fake.workspace.add_user("english", user_id=EN_USER, locale="en-US")
    channel = fake.workspace.add_channel(
        "general", members=[REPORTER, ZH_USER, EN_USER], bot_is_member=True
    )
    handlers = Handlers(bot, fake, channel.id)
    # Bolt's single-workspace authorization asks auth.test once per process, on the first
    # request (before its ack): warm it up, so each test starts from a running bot.
    await handlers.event({"type": "app_home_opened", "user": REPORTER, "tab": "messages"})
    await handlers.idle()
    assert [c.method for c in fake.calls][:1] == ["auth.test"]
    fake.reset()
    try:
        yield handlers
    finally:
        await bot.listeners.wait_idle(5.0)
        await bot.engine.dispose()
        await fake.stop()
