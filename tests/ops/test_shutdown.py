"""Graceful shutdown of a real ``epbot serve``: SIGTERM with a request in flight.

The report submission's listener looks the user's locale up (users.info) before it acks;
the fake answers that call two seconds late, so the HTTP request is still open when
SIGTERM arrives. The process must stop listening at once, still answer that request, let
its after-ack work declare the incident, exit 0, and leave what Slack refused as pending
outbox rows that the next start delivers.
"""

from __future__ import annotations

import asyncio
import json
import signal
from pathlib import Path

import aiohttp
import pytest
from sqlmodel import col, select

from epbot.adapters.db import models as m
from epbot.adapters.db.engine import make_engine, make_sessionmaker
from epbot.adapters.slack.ids import Callback
from epbot.fakeslack.signing import view_submission
from tests.ops.conftest import BotProcess, SlowSlack, bot_env, note, write_playbooks
from tests.scenarios.conftest import REPORTER, report_values
from tests.waiting import eventually


async def _rows(url: str) -> tuple[list[m.Incident], list[m.OutboxMessage], list[m.Timer]]:
    engine = make_engine(url)
    try:
        async with make_sessionmaker(engine)() as session:
            incidents = list(await session.exec(select(m.Incident)))
            outbox = list(
                await session.exec(select(m.OutboxMessage).order_by(col(m.OutboxMessage.id)))
            )
            timers = list(await session.exec(select(m.Timer)))
    finally:
        await engine.dispose()
    return incidents, outbox, timers


def _report(view_id: str) -> str:
    meta = json.dumps({"playbook": "db-crash", "drill": False, "channel": ""})
    return view_submission(
        user_id=REPORTER,
        callback_id=Callback.REPORT.value,
        view_id=view_id,
        state_values=report_values(),
        private_metadata=meta,
    )


async def _refused(bot: BotProcess) -> bool:
    """Is a *new* connection refused? Each probe opens its own connection: one kept alive
    from before SIGTERM is still served (or held until the request in flight is done),
    which made this probe take as long as that request on a busy machine."""
    connector = aiohttp.TCPConnector(force_close=True)
    try:
        async with (
            aiohttp.ClientSession(connector=connector) as fresh,
            fresh.get(bot.url + "/healthz", timeout=aiohttp.ClientTimeout(total=0.5)),
        ):
            return False
    except aiohttp.ClientConnectorError:  # nobody listens any more
        return True
    except (TimeoutError, aiohttp.ClientError):  # accepted but not answered: not refused
        return False


async def test_sigterm_finishes_the_request_in_flight_and_loses_nothing(
    slack: SlowSlack, tmp_path: Path
) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'epbot.db'}"
    env = bot_env(slack, url, write_playbooks(tmp_path / "playbooks"))
    bot = BotProcess("bot", env, tmp_path)
    slack.delays["auth.test"] = 120.0  # the start's warm-up call: no answer in this test
    async with aiohttp.ClientSession() as session:
        await bot.start()
        try:
            await bot.wait_healthy(session)
            # Slack is down for the channel creation: delivery cannot finish before exit.
            slack.fake.inject_failure("conversations.create", status=500, times=1000)
            # Nothing before ack() waits on Slack once Bolt's auth.test (asked at start) has
            # been answered; here Slack has not answered it yet (the start's call hangs), so
            # the first request asks again, and Slack takes 2 s: the request is in flight
            # for 2 s, under the 3-second ack limit.
            slack.delays["auth.test"] = 2.0
            request = asyncio.create_task(bot.post(session, _report("V0SHUTDOWN1")))
            loop = asyncio.get_running_loop()
            await asyncio.sleep(0.5)  # the request is waiting on auth.test
            assert not request.done()
            sent_at = loop.time()
            bot.send(signal.SIGTERM)

            # No new connections while the request in flight is still being handled.
            await eventually(lambda: _refused(bot), within=2.0)
            assert not request.done(), "the slow request should still be in flight"

            status, _ = await request
            answered_after = loop.time() - sent_at
            assert status == 200
            assert slack.fake.calls_to("auth.test")  # what the request waited on
            code = await bot.wait(within=60)
            stopped_after = loop.time() - sent_at
            note(
                f"\nrequest answered {answered_after:.2f}s, exit {stopped_after:.2f}s after SIGTERM"
            )
            assert code == 0, bot.log()
        finally:
            await bot.kill()
        log = bot.log()
        assert "Traceback" not in log, log

        # The after-ack work ran: the incident, its timers and its outbox rows are stored.
        incidents, outbox, timers = await _rows(url)
        assert len(incidents) == 1
        assert incidents[0].channel_id is None  # Slack refused the channel...
        assert outbox
        room = [r for r in outbox if r.ordering_key.startswith("room:")]
        assert room
        assert all(r.status == "pending" for r in room)  # ...so the room's rows all wait
        # (page DMs do not wait for the incident channel: they may have gone out)
        assert any(t.fired_at is None and not t.cancelled for t in timers)

        # Slack is back; the next start delivers every pending row, once.
        slack.fake.reset()
        slack.delays.clear()
        again = BotProcess("bot-again", env, tmp_path)
        await again.start()
        try:
            await again.wait_healthy(session)

            async def delivered() -> bool:
                _, rows, _ = await _rows(url)
                return bool(rows) and all(r.status == "sent" for r in rows)

            await eventually(delivered, within=30.0, step=0.2)
            again.send(signal.SIGTERM)
            assert await again.wait(within=60) == 0, again.log()
        finally:
            await again.kill()
        [created] = [c for c in slack.fake.calls_to("conversations.create") if c.ok]
        incidents, outbox, _ = await _rows(url)
        assert incidents[0].channel_id == created.response["channel"]["id"]
        assert len(outbox) == len({r.id for r in outbox})


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
async def test_an_idle_bot_stops_cleanly(slack: SlowSlack, tmp_path: Path, sig: int) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'epbot.db'}"
    bot = BotProcess("idle", bot_env(slack, url, write_playbooks(tmp_path / "pb")), tmp_path)
    async with aiohttp.ClientSession() as session:
        await bot.start()
        try:
            await bot.wait_healthy(session)
            bot.send(signal.Signals(sig))
            assert await bot.wait(within=30) == 0, bot.log()
        finally:
            await bot.kill()
    assert "epbot: stopped" in bot.log()
