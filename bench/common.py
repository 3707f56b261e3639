"""What the benchmarks share: the fake Web API with tier limits and latency, the real bot
on a free port with the real clock, signed requests, and percentiles."""

from __future__ import annotations

import json
import statistics
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp
from aiohttp import web
from pydantic import SecretStr

from epbot.adapters.db import models as m
from epbot.adapters.db.engine import make_sessionmaker
from epbot.adapters.slack.app import EVENTS_PATH
from epbot.adapters.slack.ids import Callback
from epbot.config import Settings
from epbot.fakeslack import FakeSlack
from epbot.fakeslack.signing import FORM, post_signed, slash_command, view_submission
from epbot.services.ports import Clock
from epbot.wiring import Bot, build

ROOT = Path(__file__).resolve().parents[1]
SECRET = "bench-signing-secret"
REPORTER = "U09REPORTER"
ANNOUNCE = "ep-incidents"


def emit(bench: str, figure: str, value: Any, **extra: Any) -> None:
    """One JSON line per figure."""
    sys.stdout.write(json.dumps({"bench": bench, "figure": figure, "value": value, **extra}) + "\n")
    sys.stdout.flush()


def pct(values: Sequence[float], p: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    k = max(0, min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1))))
    return ordered[k]


def summary(values: Sequence[float]) -> dict[str, float]:
    return {
        "n": len(values),
        "p50": round(pct(values, 50), 4),
        "p99": round(pct(values, 99), 4),
        "max": round(max(values), 4) if values else float("nan"),
        "mean": round(statistics.fmean(values), 4) if values else float("nan"),
    }


def sqlite_url() -> str:
    folder = tempfile.mkdtemp(prefix="epbot-bench-")
    return f"sqlite+aiosqlite:///{folder}/bench.db"


def report_values(title: str) -> dict[str, Any]:
    now = datetime.now(UTC)
    fields: dict[str, Any] = {
        "title": {"type": "plain_text_input", "value": title},
        "occurred_at": {
            "type": "datetimepicker",
            "selected_date_time": int((now - timedelta(minutes=5)).timestamp()),
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
    return {name: {name: element} for name, element in fields.items()}


def seed(fake: FakeSlack, bot: Bot) -> str:
    ws = fake.workspace
    ws.add_user("reporter", user_id=REPORTER, locale="en-US")
    for role in bot.library.matrix.roles:
        for ref in role.people:
            if "@" in ref:
                if ws.user_by_email(ref) is None:
                    ws.add_user(ref.split("@")[0], email=ref)
            elif ref not in ws.users:
                ws.add_user(ref.lower(), user_id=ref, locale="en-US")
    for unit in bot.library.matrix.units:
        if unit.channel and ws.channel_by_name(unit.channel) is None:
            ws.add_channel(unit.channel.removeprefix("#"), bot_is_member=True)
    ws.add_channel(ANNOUNCE, bot_is_member=True)
    return ws.add_channel("general", members=[REPORTER]).id


@dataclass
class Running:
    fake: FakeSlack
    bot: Bot
    url: str
    runner: web.AppRunner
    http: aiohttp.ClientSession
    general: str

    async def post(self, body: str) -> tuple[int, float]:
        started = time.perf_counter()
        response = await post_signed(self.http, self.url, body, FORM, SECRET)
        async with response:
            await response.read()
            return response.status, time.perf_counter() - started

    async def command(self, text: str) -> tuple[int, float]:
        url = self.fake.new_response_url(channel_id=self.general, user_id=REPORTER)
        return await self.post(
            slash_command(text=text, user_id=REPORTER, channel_id=self.general, response_url=url)
        )

    async def declare(self, n: int, playbook: str = "db-crash") -> tuple[int, float]:
        body = view_submission(
            user_id=REPORTER,
            callback_id=Callback.REPORT.value,
            view_id=f"V0BENCH{n:05d}",
            state_values=report_values(f"bench incident {n}"),
            private_metadata=json.dumps({"playbook": playbook, "drill": False, "channel": ""}),
        )
        return await self.post(body)

    async def outbox(self) -> list[m.OutboxMessage]:
        from sqlmodel import col, select

        async with make_sessionmaker(self.bot.engine)() as session:
            rows = await session.exec(select(m.OutboxMessage).order_by(col(m.OutboxMessage.id)))
            return list(rows)

    async def stop(self) -> None:
        await self.http.close()
        await self.runner.cleanup()  # Bot.stop() via the app's cleanup context
        await self.fake.stop()


async def start(
    *,
    database_url: str | None = None,
    rate_limits: bool = True,
    latency: float = 0.03,
    workers: int = 32,
    pacing: bool = True,
    clock: Clock | None = None,
) -> Running:
    fake = FakeSlack(rate_limits=rate_limits, latency=latency, hang_seconds=5)
    await fake.start()
    bot = await build_bot(
        fake.url,
        fake.bot_token,
        database_url=database_url,
        workers=workers,
        pacing=pacing,
        clock=clock,
    )
    general = seed(fake, bot)
    url, runner, http = await serve(bot)
    return Running(fake, bot, url, runner, http, general)


async def build_bot(
    api_url: str,
    token: str,
    *,
    database_url: str | None = None,
    workers: int = 32,
    pacing: bool = True,
    clock: Clock | None = None,
) -> Bot:
    """The real bot on embedded playbooks, talking to the Web API at ``api_url``."""
    settings = Settings(
        slack_bot_token=SecretStr(token),
        slack_signing_secret=SecretStr(SECRET),
        slack_api_url=api_url,
        database_url=database_url or sqlite_url(),
        playbooks_dir=ROOT / "playbooks",
        matrix=ROOT / "playbooks" / "matrix.yaml",
        locale="en",
        incidents_channel=ANNOUNCE,
        delivery_workers=workers,
        slack_pacing=pacing,
    )
    return await build(settings, clock=clock, slack_timeout=10)


async def serve(bot: Bot) -> tuple[str, web.AppRunner, aiohttp.ClientSession]:
    """Start the bot's web app on a free port: its events URL, runner and a client."""
    runner = web.AppRunner(bot.web())
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    return f"http://127.0.0.1:{port}{EVENTS_PATH}", runner, aiohttp.ClientSession()


def note(text: str) -> None:
    sys.stderr.write(text + "\n")
