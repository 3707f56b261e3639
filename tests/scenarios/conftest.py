"""End-to-end harness: FakeSlack + the real bot (built by wiring) on a free port.

Requests are signed exactly as Slack signs them and sent over HTTP; the bot's Web API
calls go to the fake. Deadlines move with a FakeClock and ``service.tick()``: nothing here
sleeps for a deadline, it only waits (briefly) for the bot's after-ack work to finish.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from pydantic import SecretStr
from sqlmodel import col, select

from epbot.adapters.clock import FakeClock
from epbot.adapters.db import models as m
from epbot.adapters.db.engine import make_sessionmaker
from epbot.adapters.slack.app import EVENTS_PATH, web_app
from epbot.adapters.slack.ids import Callback
from epbot.config import Settings
from epbot.domain.incident import IncidentState
from epbot.fakeslack import FakeSlack
from epbot.fakeslack.signing import (
    FORM,
    JSON,
    block_actions,
    event_callback,
    post_signed,
    slash_command,
    view_submission,
)
from epbot.wiring import Bot, build
from tests.waiting import eventually

ROOT = Path(__file__).resolve().parents[2]
PLAYBOOKS = ROOT / "playbooks"
SECRET = "test-signing-secret"
START = datetime(2026, 11, 24, 1, 0, tzinfo=UTC)
REPORTER = "U09REPORTER"
INCIDENTS_CHANNEL = "ep-incidents"


def report_values(**overrides: Any) -> dict[str, Any]:
    """``view.state.values`` of a filled-in report modal (block id == action id)."""
    fields: dict[str, Any] = {
        "title": {"type": "plain_text_input", "value": "数据库宕机 / DB down"},
        "occurred_at": {
            "type": "datetimepicker",
            "selected_date_time": int((START - timedelta(minutes=5)).timestamp()),
        },
        "place": {"type": "plain_text_input", "value": "机房 / server room"},
        "nature": {"type": "plain_text_input", "value": "database crash"},
        "scope": {"type": "plain_text_input", "value": "all units"},
        "trend": {"type": "plain_text_input", "value": "stable"},
        "measures": {"type": "plain_text_input", "value": "none yet"},
        "unit": {"type": "static_select", "selected_option": {"value": "user-it"}},
        "contact_phone": {"type": "plain_text_input", "value": "+86 22-2630-0101"},
        "severity": {"type": "static_select", "selected_option": {"value": "II"}},
    }
    for name, value in overrides.items():
        fields[name] = {**fields[name], **value}
    return {name: {name: element} for name, element in fields.items()}


class Harness:
    """Drives the bot like Slack would, and reads what the bot did in the fake."""

    def __init__(self, fake: FakeSlack, bot: Bot, url: str, session: aiohttp.ClientSession):
        self.fake = fake
        self.bot = bot
        self.url = url
        self.session = session
        self.clock: FakeClock = bot.service.clock  # type: ignore[assignment]
        self.home = fake.workspace.add_channel("general", members=[REPORTER])

    # --- sending -----------------------------------------------------------------------

    async def post(
        self, body: str, content_type: str = FORM, retry_num: int | None = None
    ) -> tuple[int, str]:
        response = await post_signed(
            self.session, self.url, body, content_type, SECRET, retry_num=retry_num
        )
        async with response:
            return response.status, await response.text()

    async def command(
        self, text: str, *, user: str = REPORTER, channel: str | None = None
    ) -> tuple[int, str]:
        """``/incident <text>`` typed by ``user`` in ``channel`` (default: #general)."""
        where = channel or self.home.id
        url = self.fake.new_response_url(channel_id=where, user_id=user)
        return await self.post(
            slash_command(text=text, user_id=user, channel_id=where, response_url=url)
        )

    async def submit_report(
        self,
        *,
        view_id: str = "V0REPORT1",
        user: str = REPORTER,
        values: dict[str, Any] | None = None,
        metadata: str | None = None,
        retry_num: int | None = None,
    ) -> tuple[int, str]:
        if metadata is None:
            metadata = json.dumps({"playbook": "db-crash", "drill": False, "channel": ""})
        body = view_submission(
            user_id=user,
            callback_id=Callback.REPORT.value,
            view_id=view_id,
            state_values=values if values is not None else report_values(),
            private_metadata=metadata,
        )
        return await self.post(body, retry_num=retry_num)

    async def click(
        self, action_id: str, value: str, *, user: str, ref_key: str | None = None
    ) -> tuple[int, str]:
        """Click a button on the message remembered under ``ref_key`` (or in #general)."""
        ref = await self.ref(ref_key) if ref_key else None
        channel = ref.channel if ref else self.home.id
        ts = ref.ts if ref else "1.000001"
        url = self.fake.new_response_url(channel_id=channel, user_id=user, message_ts=ts)
        body = block_actions(
            user_id=user,
            action_id=action_id,
            value=value,
            channel_id=channel,
            message_ts=ts,
            response_url=url,
        )
        return await self.post(body)

    async def event(self, event: dict[str, Any]) -> tuple[int, str]:
        return await self.post(event_callback(event), JSON)

    # --- waiting -----------------------------------------------------------------------

    async def eventually(self, check: Callable[[], Any], within: float = 10.0) -> Any:
        """Wait for the bot's after-ack work to make ``check()`` truthy."""
        return await eventually(check, within)

    async def settle(self) -> None:
        """Deliver every outbox row that is due now."""
        await self.bot.delivery.wait_idle()
        await self.bot.delivery.drain()

    # --- reading -----------------------------------------------------------------------

    def sessions(self) -> Any:
        return make_sessionmaker(self.bot.engine)

    async def outbox(self) -> list[m.OutboxMessage]:
        async with self.sessions()() as session:
            rows = await session.exec(select(m.OutboxMessage).order_by(col(m.OutboxMessage.id)))
            return list(rows)

    async def incidents(self) -> list[m.Incident]:
        async with self.sessions()() as session:
            return list(await session.exec(select(m.Incident).order_by(col(m.Incident.id))))

    async def ref(self, key: str) -> m.MessageRef:
        async with self.sessions()() as session:
            ref = await session.get(m.MessageRef, key)
        assert ref is not None, f"no message ref {key}"
        return ref

    async def refs(self, incident_id: int) -> dict[str, m.MessageRef]:
        """Every message ref of the incident, by key."""
        async with self.sessions()() as session:
            rows = await session.exec(
                select(m.MessageRef).where(col(m.MessageRef.incident_id) == incident_id)
            )
            return {r.key: r for r in rows}

    async def state(self, incident_id: int) -> IncidentState:
        return await self.bot.service.state(incident_id)

    def texts(self, channel: str) -> list[str]:
        return [msg.text for msg in self.fake.workspace.messages_in(channel)]

    def all_texts(self) -> list[str]:
        out: list[str] = []
        for messages in self.fake.workspace.messages.values():
            for msg in messages:
                out.append(msg.text)
                out.append(json.dumps(msg.blocks or [], ensure_ascii=False))
        return out

    async def declare(
        self,
        playbook: str = "db-crash",
        *,
        drill: bool = False,
        values: dict[str, Any] | None = None,
        view_id: str = "V0REPORT1",
    ) -> int:
        """Open the modal with ``/incident [drill] <playbook>``, submit it, deliver everything."""
        before_views = len(self.fake.calls_to("views.open"))
        before = len(await self.incidents())
        status, _ = await self.command(f"drill {playbook}" if drill else playbook)
        assert status == 200
        opened = await self.eventually(lambda: self.fake.calls_to("views.open")[before_views:])
        meta = opened[-1].args["view"]["private_metadata"]
        status, _ = await self.submit_report(metadata=meta, values=values, view_id=view_id)
        assert status == 200
        incidents = await self.eventually(
            lambda: _more_than(self.incidents(), before), within=10.0
        )
        await self.eventually(self._delivered)
        assert incidents[-1].id is not None
        return incidents[-1].id

    def slack_id(self, ref: str) -> str:
        """The Slack user id of a matrix person ref (an id, or an email)."""
        if "@" not in ref:
            return ref
        user = self.fake.workspace.user_by_email(ref)
        assert user is not None, ref
        return user.id

    async def incident_row(self, incident_id: int) -> m.Incident:
        async with self.sessions()() as session:
            row = await session.get(m.Incident, incident_id)
        assert row is not None
        return row

    async def _delivered(self) -> bool:
        await self.settle()
        rows = await self.outbox()
        return bool(rows) and all(r.status == "sent" for r in rows)


async def _more_than(rows: Awaitable[list[m.Incident]], count: int) -> list[m.Incident] | None:
    found = await rows
    return found if len(found) > count else None


def seed_workspace(fake: FakeSlack, bot_matrix: Any) -> None:
    """Every person of the matrix is a member; every unit channel has the bot in it."""
    ws = fake.workspace
    ws.add_user("reporter", user_id=REPORTER, locale="en-US")
    for role in bot_matrix.roles:
        for ref in role.people:
            if "@" in ref:
                if ws.user_by_email(ref) is None:
                    ws.add_user(ref.split("@")[0], email=ref)
            elif ref not in ws.users:
                ws.add_user(ref.lower(), user_id=ref, locale="en-US")
    for unit in bot_matrix.units:
        if unit.channel and ws.channel_by_name(unit.channel) is None:
            ws.add_channel(unit.channel.removeprefix("#"), bot_is_member=True)
    ws.add_channel(INCIDENTS_CHANNEL, bot_is_member=True)


@pytest.fixture
async def fake() -> AsyncIterator[FakeSlack]:
    server = FakeSlack(rate_limits=False, hang_seconds=2)
    await server.start()
    yield server
    await server.stop()


@pytest.fixture
async def harness(database_url: str, fake: FakeSlack) -> AsyncIterator[Harness]:
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
        # The fake here has no rate limits, and the clock is moved by hand: pacing waits in
        # real time, so it is tested on its own (tests/adapters/slack/test_pacing.py) and
        # against the fake's tier limits in bench/storm.py.
        slack_pacing=False,
    )
    bot = await build(settings, clock=FakeClock(START), slack_timeout=2)
    bot.client.backoff_start = 0.05  # retries of a failed call without seconds of real sleep
    bot.client.patience = 5.0  # a call that keeps failing gives its row back sooner
    seed_workspace(fake, bot.library.matrix)
    runner = web.AppRunner(web_app(bot.app))
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    async with aiohttp.ClientSession() as session:
        yield Harness(fake, bot, f"http://127.0.0.1:{port}{EVENTS_PATH}", session)
    await bot.delivery.stop()
    await runner.cleanup()
    await bot.engine.dispose()
