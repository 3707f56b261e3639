"""End to end over Socket Mode: the real bot, run by ``epbot.wiring._socket_mode`` as
``epbot serve`` runs it with ``SLACK_APP_TOKEN`` set, against the fake's WebSocket.

The bot is a black box here: envelopes go in, acks come back, and what it did is read from
the fake workspace and the database.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import pytest
from pydantic import SecretStr
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlmodel import col, select

from epbot.adapters.db import models as m
from epbot.adapters.db.engine import make_engine, make_sessionmaker
from epbot.adapters.slack.ids import Action, Callback
from epbot.config import Settings
from epbot.domain.incident import Status
from epbot.fakeslack import FakeSlack
from epbot.fakeslack.signing import block_actions, slash_command, view_submission
from epbot.fakeslack.socket_mode import Ack
from epbot.wiring import _socket_mode, load_library
from tests.scenarios.conftest import (
    INCIDENTS_CHANNEL,
    PLAYBOOKS,
    REPORTER,
    SECRET,
    report_values,
    seed_workspace,
)
from tests.waiting import eventually

COMMANDER = "U01EOF0001"  # emergency-office, first in the matrix


@dataclass
class SocketBot:
    """The bot running in Socket Mode, and how to reach and read it."""

    fake: FakeSlack
    engine: AsyncEngine  # the test's own connection to the bot's database
    task: asyncio.Task[None]
    home: str  # #general, where the reporter types /incident

    async def command(self, text: str, *, user: str = REPORTER) -> Ack:
        url = self.fake.new_response_url(channel_id=self.home, user_id=user)
        body = slash_command(text=text, user_id=user, channel_id=self.home, response_url=url)
        return await self.fake.socket.send_request(body)

    async def submit(self, metadata: str, values: dict[str, Any], view_id: str) -> Ack:
        body = view_submission(
            user_id=REPORTER,
            callback_id=Callback.REPORT.value,
            view_id=view_id,
            state_values=values,
            private_metadata=metadata,
        )
        return await self.fake.socket.send_request(body)

    async def click(self, action_id: str, value: str, *, user: str, channel: str, ts: str) -> Ack:
        url = self.fake.new_response_url(channel_id=channel, user_id=user, message_ts=ts)
        body = block_actions(
            user_id=user,
            action_id=action_id,
            value=value,
            channel_id=channel,
            message_ts=ts,
            response_url=url,
        )
        return await self.fake.socket.send_request(body)

    async def incidents(self) -> list[m.Incident]:
        async with make_sessionmaker(self.engine)() as session:
            return list(await session.exec(select(m.Incident).order_by(col(m.Incident.id))))

    async def ref(self, key: str) -> m.MessageRef | None:
        async with make_sessionmaker(self.engine)() as session:
            return await session.get(m.MessageRef, key)


@pytest.fixture
async def socket_bot(database_url: str, fake: FakeSlack) -> AsyncIterator[SocketBot]:
    settings = Settings(
        slack_bot_token=SecretStr(fake.bot_token),
        slack_signing_secret=SecretStr(SECRET),
        slack_app_token=SecretStr(fake.socket.app_token),
        slack_api_url=fake.url,
        database_url=database_url,  # already at the head migration
        playbooks_dir=PLAYBOOKS,
        matrix=PLAYBOOKS / "matrix.yaml",
        locale="en",
        timezone="Asia/Shanghai",
        incidents_channel=INCIDENTS_CHANNEL,
        shutdown_timeout=5,
    )
    assert settings.socket_mode
    seed_workspace(fake, load_library(settings).matrix)
    home = fake.workspace.add_channel("general", members=[REPORTER]).id
    task = asyncio.create_task(_socket_mode(settings))
    engine = make_engine(database_url)
    try:
        await fake.socket.wait_connected(within=10)
        yield SocketBot(fake, engine, task, home)
    finally:
        await _stop(task)
        await engine.dispose()


async def _stop(task: asyncio.Task[None]) -> None:
    if task.cancelled():
        return
    if task.done():
        task.result()  # _socket_mode never returns on its own: surface its error
        return
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task


async def test_socket_mode_declare_validate_and_acknowledge(
    socket_bot: SocketBot, caplog: pytest.LogCaptureFixture
) -> None:
    fake = socket_bot.fake
    ws = fake.workspace
    assert [c.ok for c in fake.calls_to("apps.connections.open")] == [True]

    # /incident db-crash: acked at once over the socket, then the report modal opens.
    ack = await socket_bot.command("db-crash")
    assert ack.type == "slash_commands"
    assert ack.seconds < 3
    opened = await eventually(lambda: fake.calls_to("views.open"))
    view = opened[0].args["view"]
    assert view["callback_id"] == Callback.REPORT.value
    meta = view["private_metadata"]

    # A bad phone number: the ack itself carries the errors shown in the modal.
    bad = report_values(contact_phone={"value": "call me"})
    ack = await socket_bot.submit(meta, bad, view_id="V0BADPHONE")
    assert ack.payload is not None
    assert ack.payload["response_action"] == "errors"
    assert "contact_phone" in ack.payload["errors"]
    assert await socket_bot.incidents() == []

    # The corrected report: an incident with its own channel and the pinned card.
    ack = await socket_bot.submit(meta, report_values(), view_id="V0REPORT1")
    assert ack.seconds < 3
    assert ack.payload is None or ack.payload.get("response_action") != "errors"

    async def declared() -> m.Incident | None:
        rows = await socket_bot.incidents()
        return rows[0] if rows and rows[0].card_ts else None

    row = await eventually(declared)
    assert row.channel_id in ws.channels
    # The reporter is invited with the batch's other invitees, after the card.
    await eventually(lambda: REPORTER in ws.channels[row.channel_id or ""].members)
    await eventually(lambda: ws.pins)  # the card is posted, then pinned
    assert [(p.channel, p.ts) for p in ws.pins] == [(row.channel_id, row.card_ts)]

    # The commander acknowledges the page from the DM: a button click over the socket.
    page_key = f"page:{row.id}:emergency-office#1"
    dm = await eventually(lambda: socket_bot.ref(page_key))
    assert dm.channel.startswith("D")
    ack = await socket_bot.click(
        Action.INCIDENT_ACK.value,
        f"{row.id}:emergency-office#1",
        user=COMMANDER,
        channel=dm.channel,
        ts=dm.ts,
    )
    assert ack.type == "interactive"
    assert ack.seconds < 3

    async def acknowledged() -> bool:
        [current] = await socket_bot.incidents()
        return current.commander == COMMANDER

    await eventually(acknowledged)
    [current] = await socket_bot.incidents()
    assert current.status == Status.INITIAL_HANDLING.value
    await eventually(lambda: [c for c in fake.calls_to("chat.update") if c.args["ts"] == dm.ts])

    # Every envelope was acked once, by id.
    assert [a.envelope_id for a in fake.socket.acks] == [
        e["envelope_id"] for e in fake.socket.envelopes
    ]

    # Clean shutdown: cancelling the run closes the socket and stops the bot.
    caplog.clear()
    with caplog.at_level(logging.WARNING):
        await _stop(socket_bot.task)
        await fake.socket.wait_disconnected(within=5)
    assert socket_bot.task.cancelled()
    assert [r.getMessage() for r in caplog.records if r.name.startswith("epbot")] == []


async def test_socket_mode_reconnects_when_slack_asks(socket_bot: SocketBot) -> None:
    fake = socket_bot.fake
    first = await fake.socket.wait_connected()
    await fake.socket.disconnect("refresh_requested")
    await eventually(lambda: fake.socket.opened == 2 and first not in fake.socket.connections)
    ack = await socket_bot.command("db-crash")
    assert ack.seconds < 3
    await eventually(lambda: fake.calls_to("views.open"))
    assert len(fake.calls_to("apps.connections.open")) == 2
    assert (
        json.loads(fake.calls_to("views.open")[0].args["view"]["private_metadata"])["playbook"]
        == "db-crash"
    )
