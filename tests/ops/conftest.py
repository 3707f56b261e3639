"""Process helpers: real ``epbot serve`` subprocesses against a FakeSlack in the test process.

The fake is served from our own aiohttp app (``FakeSlack.mount``) with a middleware that
can slow chosen Web API methods down, which is how a test keeps a request in flight.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import socket
import sys
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path
from typing import IO, Any

import aiohttp
import pytest
from aiohttp import web

from epbot.adapters.playbook_files import PlaybookLibrary
from epbot.fakeslack import FakeSlack
from epbot.fakeslack.signing import FORM, post_signed
from tests.conftest import PG_URL, RUN_ID, _admin, _with_db
from tests.scenarios.conftest import seed_workspace

ROOT = Path(__file__).resolve().parents[2]
SECRET = "ops-signing-secret"
INCIDENTS_CHANNEL = "ep-incidents"

# A playbook whose deadlines are seconds, not minutes (durations accept ``10s``), so a
# reminder and an overdue notice fire during a test without touching any clock.
FAST_PLAYBOOK = """\
id: fast-drill
aliases: [fast]
title: {zh-CN: 快速演练, en: Fast drill}
summary: {zh-CN: 用于测试的短时限预案。, en: A short-deadline playbook for tests.}
fault_class: system
plan_ref: ['5']
default_severity: III
commander_role: emergency-office
stages:
  - id: report
    title: {zh-CN: 信息报告, en: Information report}
    steps:
      - id: alpha-report
        title: {zh-CN: 第一次报告, en: Alpha report}
        role: emergency-office
        kind: report
        report_to:
          - {role: leadership-group}
        due: {after: ALPHA_DUE, from: declared}
        reminders: {before: [ALPHA_REMIND]}
      - id: bravo-report
        title: {zh-CN: 第二次报告, en: Bravo report}
        role: emergency-office
        kind: report
        report_to:
          - {role: leadership-group}
        due: {after: BRAVO_DUE, from: declared}
        reminders: {before: [BRAVO_REMIND]}
  - id: initial_handling
    title: {zh-CN: 先期处置, en: Initial handling}
    steps:
      - id: contain
        title: {zh-CN: 控制事态, en: Contain the event}
        role: emergency-office
  - id: emergency_response
    title: {zh-CN: 应急响应, en: Emergency response}
    steps:
      - id: start-plan
        title: {zh-CN: 启动预案, en: Start the plan}
        role: emergency-office
  - id: command_coordination
    title: {zh-CN: 指挥与协调, en: Command and coordination}
    steps:
      - id: coordinate
        title: {zh-CN: 协调, en: Coordinate}
        role: leadership-group
"""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def write_playbooks(
    directory: Path,
    *,
    alpha: tuple[str, str] = ("10s", "5s"),
    bravo: tuple[str, str] = ("22s", "11s"),
) -> Path:
    """A playbook folder: the shipped matrix and db-crash, plus the fast-drill playbook."""
    directory.mkdir(parents=True, exist_ok=True)
    for name in ("matrix.yaml", "db-crash.yaml"):
        (directory / name).write_text((ROOT / "playbooks" / name).read_text("utf-8"), "utf-8")
    text = (
        FAST_PLAYBOOK.replace("ALPHA_DUE", alpha[0])
        .replace("ALPHA_REMIND", alpha[1])
        .replace("BRAVO_DUE", bravo[0])
        .replace("BRAVO_REMIND", bravo[1])
    )
    (directory / "fast-drill.yaml").write_text(text, "utf-8")
    return directory


class SlowSlack:
    """FakeSlack on a free port; ``delays[method]`` seconds are added before answering."""

    def __init__(self) -> None:
        self.fake = FakeSlack(rate_limits=False, hang_seconds=2)
        self.delays: dict[str, float] = {}
        self._runner: web.AppRunner | None = None

    @web.middleware
    async def _slow(
        self, request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
    ) -> web.StreamResponse:
        delay = self.delays.get(request.match_info.get("method", ""), 0.0)
        if delay:
            await asyncio.sleep(delay)
        return await handler(request)

    async def start(self) -> None:
        sock = socket.socket()
        sock.bind(("127.0.0.1", 0))
        app = web.Application(middlewares=[self._slow])
        self.fake.mount(app, f"http://127.0.0.1:{sock.getsockname()[1]}")
        runner = web.AppRunner(app, shutdown_timeout=1.0)
        await runner.setup()
        await web.SockSite(runner, sock).start()
        self._runner = runner

    async def stop(self) -> None:
        self.fake.close()
        if self._runner is not None:
            await self._runner.cleanup()

    def posted(self) -> list[str]:
        """Texts of every chat.postMessage the fake answered ok."""
        return [str(c.args.get("text", "")) for c in self.fake.calls_to("chat.postMessage") if c.ok]


@pytest.fixture
async def slack(tmp_path: Path) -> AsyncIterator[SlowSlack]:
    server = SlowSlack()
    await server.start()
    library = PlaybookLibrary(ROOT / "playbooks", ROOT / "playbooks" / "matrix.yaml")
    library.load()
    seed_workspace(server.fake, library.matrix)
    yield server
    await server.stop()


def _open_log(path: Path) -> IO[bytes]:
    return path.open("ab")


class BotProcess:
    """One ``python -m epbot serve`` with its own port and log file."""

    def __init__(self, name: str, env: dict[str, str], workdir: Path) -> None:
        self.name = name
        self.port = free_port()
        self.env = {**env, "EPBOT_PORT": str(self.port)}
        self.workdir = workdir
        self.log_path = workdir / f"{name}.log"
        self.proc: asyncio.subprocess.Process | None = None
        self.url = f"http://127.0.0.1:{self.port}"

    async def start(self) -> None:
        log = _open_log(self.log_path)
        try:
            self.proc = await asyncio.create_subprocess_exec(
                sys.executable,
                "-m",
                "epbot",
                "serve",
                env=self.env,
                cwd=self.workdir,
                stdout=log,
                stderr=asyncio.subprocess.STDOUT,
            )
        finally:
            log.close()

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    @property
    def alive(self) -> bool:
        return self.proc is not None and self.proc.returncode is None

    def log(self) -> str:
        return self.log_path.read_text("utf-8", errors="replace")

    async def get(self, session: aiohttp.ClientSession, path: str) -> tuple[int, str]:
        timeout = aiohttp.ClientTimeout(total=10)
        async with session.get(self.url + path, timeout=timeout) as response:
            return response.status, await response.text()

    async def ready(self, session: aiohttp.ClientSession) -> tuple[int, dict[str, Any]]:
        status, text = await self.get(session, "/readyz")
        return status, json.loads(text)

    async def post(
        self,
        session: aiohttp.ClientSession,
        body: str,
        *,
        content_type: str = FORM,
        retry_num: int | None = None,
    ) -> tuple[int, str]:
        response = await post_signed(
            session, self.url + "/slack/events", body, content_type, SECRET, retry_num=retry_num
        )
        async with response:
            return response.status, await response.text()

    async def wait_healthy(self, session: aiohttp.ClientSession, within: float = 60.0) -> None:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + within
        while True:
            if not self.alive:
                raise AssertionError(f"{self.name} exited early:\n{self.log()}")
            with contextlib.suppress(aiohttp.ClientError, OSError):
                status, _ = await self.get(session, "/healthz")
                if status == 200:
                    return
            if loop.time() > deadline:
                raise AssertionError(f"{self.name} never became healthy:\n{self.log()}")
            await asyncio.sleep(0.1)

    def send(self, sig: signal.Signals) -> None:
        assert self.proc is not None
        self.proc.send_signal(sig)

    async def wait(self, within: float = 60.0) -> int:
        assert self.proc is not None
        return await asyncio.wait_for(self.proc.wait(), within)

    async def kill(self) -> None:
        if self.alive:
            self.send(signal.SIGKILL)
            await self.wait()


def bot_env(
    slack: SlowSlack, database_url: str, playbooks: Path, **extra: str
) -> dict[str, str]:
    """The environment of an ``epbot serve`` pointed at the fake and ``database_url``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "EPBOT_"))}
    env.update(
        {
            "SLACK_BOT_TOKEN": slack.fake.bot_token,
            "SLACK_SIGNING_SECRET": SECRET,
            "SLACK_API_URL": slack.fake.url,
            "EPBOT_DATABASE_URL": database_url,
            "EPBOT_PLAYBOOKS_DIR": str(playbooks),
            "EPBOT_MATRIX": str(playbooks / "matrix.yaml"),
            "EPBOT_LOCALE": "en",
            "EPBOT_TIMEZONE": "Asia/Shanghai",
            "EPBOT_HOST": "127.0.0.1",
            "EPBOT_INCIDENTS_CHANNEL": INCIDENTS_CHANNEL,
            "PYTHONUNBUFFERED": "1",
        }
    )
    env.update(extra)
    return env


@pytest.fixture
def pg_url(pg_template: str) -> Iterator[str]:
    """A fresh PostgreSQL database at the head migration (PostgreSQL only)."""
    name = f"epbot_ops_{RUN_ID}_{uuid.uuid4().hex[:8]}"
    asyncio.run(_admin(f'CREATE DATABASE "{name}" TEMPLATE "{pg_template}"'))
    yield _with_db(PG_URL, name)
    asyncio.run(_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


def note(message: str) -> None:
    """Print a measured figure (seen with ``pytest -s``)."""
    sys.stderr.write(message + "\n")


@pytest.fixture
async def ops_harness(database_url: str) -> AsyncIterator[Any]:
    """The scenario harness (in process, FakeClock), with /readyz and /metrics served too."""
    from pydantic import SecretStr

    from epbot.adapters.clock import FakeClock
    from epbot.adapters.slack.app import EVENTS_PATH, web_app
    from epbot.config import Settings
    from epbot.wiring import build
    from tests.scenarios.conftest import PLAYBOOKS, START, Harness

    fake = FakeSlack(rate_limits=False, hang_seconds=2)
    await fake.start()
    settings = Settings(
        slack_bot_token=SecretStr(fake.bot_token),
        slack_signing_secret=SecretStr("test-signing-secret"),
        slack_api_url=fake.url,
        database_url=database_url,
        playbooks_dir=PLAYBOOKS,
        matrix=PLAYBOOKS / "matrix.yaml",
        locale="en",
        timezone="Asia/Shanghai",
        incidents_channel=INCIDENTS_CHANNEL,
    )
    bot = await build(settings, clock=FakeClock(START), slack_timeout=2)
    seed_workspace(fake, bot.library.matrix)
    clock = bot.service.clock
    app = web_app(bot.app, readiness=bot.readiness, metrics=bot.metrics, now=clock.now)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    async with aiohttp.ClientSession() as session:
        harness = Harness(fake, bot, f"http://127.0.0.1:{port}{EVENTS_PATH}", session)
        harness.base = f"http://127.0.0.1:{port}"  # type: ignore[attr-defined]
        yield harness
    await bot.delivery.stop()
    await runner.cleanup()
    await bot.engine.dispose()
    await fake.stop()
