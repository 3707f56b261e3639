"""Several ``epbot serve`` processes on one PostgreSQL database (issue 7's done-means test).

Three real processes share a fresh database and one FakeSlack. Signed requests go round
robin at them (and retries of the same payload to a different process); the playbook's
deadlines are seconds (``fast-drill``: durations accept ``10s``), so reminders and overdue
notices fire on the wall clock during the test. The process holding the timers' advisory
lock is SIGKILLed between two reminders; another takes over, and every reminder and
overdue notice still reaches Slack exactly once.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import signal
import subprocess
import tempfile
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import aiohttp
import pytest
from sqlalchemy import text
from sqlmodel import col, select

from epbot.adapters.db import models as m
from epbot.adapters.db.engine import make_engine, make_sessionmaker
from epbot.adapters.db.migrate import upgrade
from epbot.adapters.leader import AdvisoryLockLeader
from epbot.adapters.slack.ids import Action, Callback
from epbot.domain.incident import TimerKind
from epbot.fakeslack.signing import block_actions, slash_command, view_submission
from tests.ops.conftest import (
    BotProcess,
    SlowSlack,
    bot_env,
    free_port,
    note,
    write_playbooks,
)
from tests.scenarios.conftest import REPORTER, report_values
from tests.waiting import eventually

pytestmark = pytest.mark.postgres

COMMANDER = "U01EOF0001"  # emergency-office, paged first
TAKEOVER_LIMIT = 15.0


class Db:
    """Read the shared database from the test."""

    def __init__(self, url: str) -> None:
        self.engine = make_engine(url)
        self.sessions = make_sessionmaker(self.engine)

    async def incidents(self) -> list[m.Incident]:
        async with self.sessions() as session:
            return list(await session.exec(select(m.Incident)))

    async def outbox(self) -> list[m.OutboxMessage]:
        async with self.sessions() as session:
            return list(await session.exec(select(m.OutboxMessage)))

    async def timers(self) -> list[m.Timer]:
        async with self.sessions() as session:
            return list(await session.exec(select(m.Timer).order_by(col(m.Timer.due_at))))

    async def timeline_kinds(self, incident_id: int) -> list[str]:
        async with self.sessions() as session:
            rows = await session.exec(
                select(m.TimelineEvent.kind).where(m.TimelineEvent.incident_id == incident_id)
            )
            return list(rows)

    async def ref(self, key: str) -> m.MessageRef | None:
        async with self.sessions() as session:
            return await session.get(m.MessageRef, key)

    async def all_sent(self) -> bool:
        rows = await self.outbox()
        return bool(rows) and all(r.status == "sent" for r in rows)


async def _leaders(bots: list[BotProcess], session: aiohttp.ClientSession) -> list[BotProcess]:
    found = []
    for bot in bots:
        if not bot.alive:
            continue
        try:
            _, body = await bot.ready(session)
        except (aiohttp.ClientError, OSError):
            continue
        if body["timers"]["leader"]:
            found.append(bot)
    return found


def _starting(texts: list[str], prefix: str) -> int:
    return sum(1 for text in texts if text.startswith(prefix))


async def test_three_processes_fire_each_reminder_once_across_a_leader_kill(
    slack: SlowSlack, pg_url: str, tmp_path: Path
) -> None:
    env = bot_env(slack, pg_url, write_playbooks(tmp_path / "playbooks"))
    bots = [BotProcess(f"bot{i}", env, tmp_path) for i in range(3)]
    db = Db(pg_url)
    fake = slack.fake
    home = fake.workspace.add_channel("general", members=[REPORTER])
    async with aiohttp.ClientSession() as session:
        try:
            await asyncio.gather(*(bot.start() for bot in bots))
            await asyncio.gather(*(bot.wait_healthy(session) for bot in bots))
            for bot in bots:
                status, body = await bot.ready(session)
                assert status == 200, body
            [leader] = await eventually(lambda: _leaders(bots, session))

            # /incident fast-drill to bot0, the modal to bot1, Slack's retry of it to bot2.
            url = fake.new_response_url(channel_id=home.id, user_id=REPORTER)
            command = slash_command(
                text="fast-drill", user_id=REPORTER, channel_id=home.id, response_url=url
            )
            assert (await bots[0].post(session, command))[0] == 200
            opened = await eventually(lambda: fake.calls_to("views.open"))
            report = view_submission(
                user_id=REPORTER,
                callback_id=Callback.REPORT.value,
                view_id="V0SCALEOUT",
                state_values=report_values(),
                private_metadata=opened[-1].args["view"]["private_metadata"],
            )
            first, retry = await asyncio.gather(
                bots[1].post(session, report), bots[2].post(session, report, retry_num=1)
            )
            assert first[0] == 200
            assert retry[0] == 200
            [incident] = await eventually(db.incidents)
            assert incident.id is not None
            declared = incident.declared_at

            # The commander acknowledges from the page DM (bot2); the retry goes to bot0.
            page = f"page:{incident.id}:emergency-office#1"
            dm = await eventually(lambda: db.ref(page))
            click = block_actions(
                user_id=COMMANDER,
                action_id=Action.INCIDENT_ACK.value,
                value=f"{incident.id}:emergency-office#1",
                channel_id=dm.channel,
                message_ts=dm.ts,
                response_url=fake.new_response_url(channel_id=dm.channel, user_id=COMMANDER),
            )
            assert (await bots[2].post(session, click))[0] == 200
            assert (await bots[0].post(session, click, retry_num=1))[0] == 200

            async def acked() -> bool:
                return "page_acknowledged" in await db.timeline_kinds(incident.id or 0)

            await eventually(acked)

            # Kill the timer leader after the first reminder went out, before the deadline.
            await eventually(
                lambda: _starting(slack.posted(), "Your deadlines"), within=30.0
            )  # the commander's reminder DM: Alpha's reminder fired
            await eventually(db.all_sent)
            assert (await _leaders(bots, session)) == [leader]
            loop = asyncio.get_running_loop()
            killed_at = loop.time()
            killed_wall = datetime.now(UTC)
            leader.send(signal.SIGKILL)
            await leader.wait()
            survivors = [b for b in bots if b is not leader]
            [successor] = await eventually(
                lambda: _leaders(survivors, session), within=TAKEOVER_LIMIT + 5, step=0.1
            )
            takeover = loop.time() - killed_at
            deadline = (declared - killed_wall).total_seconds() + 10
            note(
                f"\ntimer leader {leader.name} SIGKILLed; {successor.name} took over in "
                f"{takeover:.2f}s (alpha deadline {deadline:.1f}s after the kill)"
            )
            assert takeover < TAKEOVER_LIMIT

            # Every remaining timer fires (on the new leader) and is delivered.
            async def all_fired() -> bool:
                timers = await db.timers()
                steps = [t for t in timers if t.kind != TimerKind.PAGE_ACK.value]
                return len(steps) == 4 and all(t.fired_at for t in steps)

            await eventually(all_fired, within=40.0, step=0.2)
            await eventually(db.all_sent, within=20.0, step=0.2)
            await asyncio.sleep(1.0)  # anything posted twice would show up by now

            # Each reminder and overdue notice fired once (the timeline) and reached Slack
            # as one deadlines digest in the card's thread and one reminder DM to the
            # commander, each edited in place as the next came (issue 14: no longer a
            # thread line per reminder).
            kinds = await db.timeline_kinds(incident.id)
            assert kinds.count("step_reminder") == 2
            assert kinds.count("step_overdue") == 2
            posted = slack.posted()
            assert _starting(posted, "Deadlines of ") == 1, posted
            assert _starting(posted, "Your deadlines") == 1, posted
            [digest] = [
                c.response
                for c in fake.calls_to("chat.postMessage")
                if c.ok and str(c.args.get("text", "")).startswith("Deadlines of ")
            ]
            message = fake.workspace.find_message(str(digest["channel"]), str(digest["ts"]))
            assert message is not None
            shown = json.dumps(message.blocks)
            assert "Overdue (2)" in shown
            for step in ("Alpha report", "Bravo report"):
                assert step in shown, (step, shown)
            timers = [t for t in await db.timers() if t.kind != TimerKind.PAGE_ACK.value]
            for timer in timers:
                assert timer.fired_at is not None
                lateness = (timer.fired_at - timer.due_at).total_seconds()
                note(
                    f"  {timer.kind:14} {timer.target:13} late {lateness:5.2f}s "
                    f"fired by pid {str(timer.claimed_by).split(':')[1]}"
                )
                assert lateness < TAKEOVER_LIMIT
                if timer.fired_at > killed_wall:
                    assert f":{successor.pid}:" in str(timer.claimed_by)

            # The retried requests acted once.
            assert len(await db.incidents()) == 1
            assert len([c for c in fake.calls_to("conversations.create") if c.ok]) == 1
            assert kinds.count("declared") == 1
            assert kinds.count("page_acknowledged") == 1

            # The survivors stop cleanly; the lock goes with them.
            for bot in survivors:
                bot.send(signal.SIGTERM)
            for bot in survivors:
                assert await bot.wait(within=60) == 0, bot.log()
        finally:
            for bot in bots:
                await bot.kill()
            await db.engine.dispose()


async def test_advisory_lock_elects_one_leader_and_hands_over(pg_url: str) -> None:
    changes: list[tuple[str, bool]] = []
    first = AdvisoryLockLeader(
        pg_url, retry_interval=0.2, on_change=lambda v: changes.append(("first", v))
    )
    second = AdvisoryLockLeader(
        pg_url, retry_interval=0.2, on_change=lambda v: changes.append(("second", v))
    )
    await first.start()
    await second.start()
    try:
        assert first.is_leader
        assert not second.is_leader
        # The leader's session dies (as on SIGKILL or a network cut): it notices it lost
        # the lock, and one of the two (whoever tries first) holds it again.
        db = Db(pg_url)
        try:
            async with db.engine.connect() as conn:
                await conn.execute(
                    text(
                        "SELECT pg_terminate_backend(l.pid) FROM pg_locks l "
                        "JOIN pg_database d ON d.oid = l.database "
                        "WHERE l.locktype = 'advisory' AND l.granted "
                        "AND d.datname = current_database()"
                    )
                )
                await conn.commit()
        finally:
            await db.engine.dispose()
        await eventually(lambda: ("first", False) in changes, within=5.0)
        await eventually(lambda: first.is_leader != second.is_leader, within=5.0)
        # Stopping hands the lock back at once: the other one takes over.
        leader, other = (first, second) if first.is_leader else (second, first)
        await leader.stop()
        await eventually(lambda: other.is_leader, within=5.0)
        assert not leader.is_leader
    finally:
        await first.stop()
        await second.stop()


# --- /readyz follows PostgreSQL down and up (a private throwaway cluster) -----------------

PG_BIN = Path("/usr/lib/postgresql/15/bin")


@pytest.fixture
def private_postgres() -> Iterator[tuple[str, Path, int]]:
    """A throwaway PostgreSQL cluster owned by this test: (url, data dir, port)."""
    if not (PG_BIN / "initdb").exists() or shutil.which("runuser") is None:
        pytest.skip("PostgreSQL 15 binaries or runuser not available")
    base = Path(tempfile.mkdtemp(prefix="epbot-pg-"))
    data = base / "data"
    port = free_port()
    shutil.chown(base, "postgres", "postgres")
    _pg("initdb", "-D", str(data), "-A", "trust", "-U", "postgres")
    _pg_ctl(data, port, "start")
    url = f"postgresql+asyncpg://postgres@127.0.0.1:{port}/postgres"
    try:
        upgrade(url)
        yield url, data, port
    finally:
        _pg("pg_ctl", "-D", str(data), "stop", "-m", "immediate", check=False)
        shutil.rmtree(base, ignore_errors=True)


def _pg(tool: str, *args: str, check: bool = True) -> None:
    if os.geteuid() == 0:
        cmd = ["runuser", "-u", "postgres", "--", str(PG_BIN / tool), *args]
    else:
        cmd = [str(PG_BIN / tool), *args]
    subprocess.run(cmd, check=check, capture_output=True, timeout=60)


def _pg_ctl(data: Path, port: int, action: str) -> None:
    options = f"-p {port} -k {data} -c listen_addresses=127.0.0.1"
    _pg("pg_ctl", "-D", str(data), "-o", options, "-l", str(data / "log"), "-w", action)


async def test_readyz_follows_postgres_down_and_up(
    slack: SlowSlack, private_postgres: tuple[str, Path, int], tmp_path: Path
) -> None:
    url, data, port = private_postgres
    bot = BotProcess("ready", bot_env(slack, url, write_playbooks(tmp_path / "pb")), tmp_path)
    async with aiohttp.ClientSession() as session:
        await bot.start()
        try:
            await bot.wait_healthy(session)
            status, body = await bot.ready(session)
            assert status == 200, body
            assert body["timers"]["leader"] is True

            await asyncio.to_thread(_pg, "pg_ctl", "-D", str(data), "stop", "-m", "fast")
            loop = asyncio.get_running_loop()
            stopped = loop.time()

            async def unready() -> dict[str, object] | None:
                status, body = await bot.ready(session)
                return body if status == 503 else None

            body = await eventually(unready, within=15.0, step=0.2)
            note(f"\n/readyz 503 {loop.time() - stopped:.2f}s after PostgreSQL stopped: {body}")
            assert body["failing"] == ["database"]
            assert body["checks"]["database"]["ok"] is False
            assert "postgres@" not in json.dumps(body)
            # The process lost the advisory lock with its session.
            await eventually(
                lambda: _not_leader(bot, session), within=15.0, step=0.2
            )
            status, _ = await bot.get(session, "/healthz")
            assert status == 200  # alive all along: only readiness fails

            await asyncio.to_thread(_pg_ctl, data, port, "start")
            started = loop.time()

            async def ready_again() -> bool:
                status, body = await bot.ready(session)
                return status == 200 and bool(body["timers"]["leader"])

            await eventually(ready_again, within=20.0, step=0.2)
            note(f"/readyz 200 and leader again {loop.time() - started:.2f}s after restart")
            bot.send(signal.SIGTERM)
            assert await bot.wait(within=60) == 0, bot.log()
        finally:
            await bot.kill()


async def _not_leader(bot: BotProcess, session: aiohttp.ClientSession) -> bool:
    _, body = await bot.ready(session)
    return body["timers"]["leader"] is False
