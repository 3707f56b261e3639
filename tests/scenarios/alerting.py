"""Harness for the early-warning scenarios: the bot with its alert webhooks on a free port.

Alert outbox rows are shown by the bot's own delivery (AlertEffects in the alerts channel's
lane); ``deliver_alerts`` waits until every one of them is sent.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
from aiohttp import web
from pydantic import SecretStr
from sqlmodel import col, select

from epbot.adapters.clock import FakeClock
from epbot.adapters.db import models as m
from epbot.adapters.slack.app import EVENTS_PATH, web_app
from epbot.config import Settings
from epbot.fakeslack import FakeSlack
from epbot.fakeslack.signing import block_actions, view_submission
from epbot.wiring import build
from tests.scenarios.conftest import (
    INCIDENTS_CHANNEL,
    PLAYBOOKS,
    SECRET,
    START,
    Harness,
    seed_workspace,
)

ALERTS_CHANNEL = "ep-alerts"
NAMED_TOKEN = "prom-0123456789abcdef"  # EPBOT_ALERT_TOKENS entry prometheus=<this>
PLAIN_TOKEN = "plain-fedcba9876543210"


class AlertHarness(Harness):
    def __init__(self, *args: Any, base: str, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.base = base
        channel = self.fake.workspace.channel_by_name(ALERTS_CHANNEL)
        assert channel is not None
        self.alerts_channel = channel.id

    async def send(
        self,
        kind: str,
        body: Any,
        *,
        token: str | None = NAMED_TOKEN,
        raw: Any = None,
        headers: dict[str, str] | None = None,
    ) -> tuple[int, dict[str, Any], Any]:
        sent = {"Content-Type": "application/json", **(headers or {})}
        if token is not None:
            sent["Authorization"] = f"Bearer {token}"
        data = raw if raw is not None else json.dumps(body).encode()
        async with self.session.post(
            f"{self.base}/alerts/{kind}", data=data, headers=sent
        ) as response:
            text = await response.text()
            answer = json.loads(text) if text.startswith("{") else {"text": text}
            return response.status, answer, response.headers

    async def alerts(self) -> list[m.Alert]:
        async with self.sessions()() as session:
            return list(await session.exec(select(m.Alert).order_by(col(m.Alert.id))))

    async def deliver_alerts(self) -> None:
        """Let delivery show every alert outbox row (AlertEffects, in the channel's lane)."""

        async def shown() -> bool:
            await self.settle()
            rows = [
                r
                for r in await self.outbox()
                if r.incident_id is None and json.loads(r.payload).get("kind") == "alert"
            ]
            for row in rows:
                assert row.ordering_key == f"channel:{ALERTS_CHANNEL}"
                assert (row.method, row.priority) == ("event", 0)
                assert row.status != "failed", row.last_error
            return all(r.status == "sent" for r in rows)

        await self.eventually(shown)

    def warnings(self) -> list[Any]:
        """Top-level messages in the alerts channel."""
        return [
            msg
            for msg in self.fake.workspace.messages_in(self.alerts_channel)
            if not msg.is_reply
        ]

    async def click_alert(self, action_id: str, alert: m.Alert, *, user: str) -> None:
        body = block_actions(
            user_id=user,
            action_id=action_id,
            value=str(alert.id),
            channel_id=alert.channel,
            message_ts=alert.ts,
            response_url=self.fake.new_response_url(
                channel_id=alert.channel or "", user_id=user, message_ts=alert.ts
            ),
        )
        status, _ = await self.post(body)
        assert status == 200

    async def submit_view(
        self, view: dict[str, Any], values: dict[str, Any], *, user: str, view_id: str
    ) -> tuple[int, str]:
        return await self.post(
            view_submission(
                user_id=user,
                callback_id=view["callback_id"],
                view_id=view_id,
                state_values=values,
                private_metadata=view["private_metadata"],
            )
        )


async def start(database_url: str, fake: FakeSlack, **overrides: Any) -> AsyncIterator[Any]:
    settings = Settings(
        slack_bot_token=SecretStr(fake.bot_token),
        slack_signing_secret=SecretStr(SECRET),
        slack_api_url=fake.url,
        database_url=database_url,
        playbooks_dir=PLAYBOOKS,
        matrix=PLAYBOOKS / "matrix.yaml",
        locale="en",
        timezone="Asia/Shanghai",
        incidents_channel=INCIDENTS_CHANNEL,
        alert_tokens=SecretStr(f"prometheus={NAMED_TOKEN}, {PLAIN_TOKEN}"),
        alerts_channel=ALERTS_CHANNEL,
        **overrides,
    )
    bot = await build(settings, clock=FakeClock(START), slack_timeout=2)
    seed_workspace(fake, bot.library.matrix)
    fake.workspace.add_channel(ALERTS_CHANNEL, bot_is_member=True)
    assert bot.alert_intake is not None
    runner = web.AppRunner(web_app(bot.app, routes=[bot.alert_intake.add_routes]))
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    base = f"http://127.0.0.1:{port}"
    async with aiohttp.ClientSession() as session:
        yield AlertHarness(fake, bot, f"{base}{EVENTS_PATH}", session, base=base)
    await bot.delivery.stop()
    await runner.cleanup()
    await bot.engine.dispose()


def state_of(view: dict[str, Any], **fill: str) -> dict[str, Any]:
    """``view.state.values`` of a modal submitted as pre-filled, plus ``fill``ed inputs."""
    values: dict[str, Any] = {}
    for block in view["blocks"]:
        if block.get("type") != "input":
            continue
        name, element = block["block_id"], block["element"]
        kind = element["type"]
        if kind == "datetimepicker":
            picked = element.get("initial_date_time")
            state: dict[str, Any] = {"type": kind, "selected_date_time": picked}
        elif kind == "static_select":
            chosen = element.get("initial_option")
            if name in fill:
                chosen = {"value": fill[name]}
            state = {"type": kind, "selected_option": chosen}
        else:
            state = {"type": kind, "value": fill.get(name, element.get("initial_value"))}
        values[name] = {element["action_id"]: state}
    return values
