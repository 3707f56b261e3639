"""``epbot sandbox``: the real bot, an emulated Slack workspace and a Slack-like web page.

One aiohttp server hosts (a) the fake Web API the bot calls (``/api/{method}``), (b) the
bot's own ``/slack/events``, and (c) the page plus a small JSON/SSE API under
``/sandbox/`` (``page_api``). What a person does in the page becomes the request Slack
would send (``client``), signed with the sandbox's signing secret and posted to
``/slack/events`` over HTTP, so Bolt verifies it exactly as it verifies Slack. Workspace
changes stream to the page as server-sent events. This module is the lifecycle: binding,
building the bot against the workspace, serving, stopping; and the sandbox-wide controls
(the clock, the language).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
import socket
from datetime import timedelta
from typing import Any, TextIO

from aiohttp import web
from pydantic import SecretStr

from epbot.adapters.clock import OffsetClock
from epbot.config import Settings
from epbot.fakeslack import FakeSlack, Workspace
from epbot.sandbox.client import BadRequest, EmulatedClient
from epbot.sandbox.page_api import PageApi
from epbot.sandbox.seed import Person, seed, slack_locale
from epbot.wiring import Bot, build

Json = dict[str, Any]
SANDBOX_DATABASE_URL = "sqlite+aiosqlite:///./epbot-sandbox.db"
DEFAULT_ANNOUNCE = "ep-incidents"
MAX_FAST_FORWARD = 7 * 24 * 60  # minutes
LANGUAGES = ("zh-CN", "en")


def sandbox_settings(settings: Settings) -> Settings:
    """The user's settings, with the sandbox's own database default and announce channel."""
    update: Json = {}
    if "database_url" not in settings.model_fields_set:
        update["database_url"] = SANDBOX_DATABASE_URL
    if not settings.incidents_channel:
        update["incidents_channel"] = DEFAULT_ANNOUNCE
    return settings.model_copy(update=update)


def _bind(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError:
        sock.close()
        raise
    sock.listen(128)
    sock.setblocking(False)
    return sock


def _local(host: str) -> str:
    """Where this process reaches its own server (a wildcard bind is reached on loopback)."""
    if host in ("", "0.0.0.0"):
        return "127.0.0.1"
    if host == "::":
        return "[::1]"
    return f"[{host}]" if ":" in host else host


class Sandbox:
    """The sandbox server; :meth:`start` it inside a running event loop."""

    def __init__(self, settings: Settings, *, host: str | None = None, port: int | None = None):
        self.settings = sandbox_settings(settings)
        self.host = host if host is not None else self.settings.host
        self.port = port if port is not None else self.settings.port
        self.clock = OffsetClock()
        self.workspace = Workspace(
            team_name="epbot sandbox",
            domain="epbot-sandbox",
            wall_clock=lambda: self.clock.now().timestamp(),
        )
        self.workspace.strict_triggers = True  # the page only uses triggers we issued
        self._token = "xoxb-sandbox-" + secrets.token_hex(16)
        self._secret = secrets.token_hex(32)
        self.fake = FakeSlack(workspace=self.workspace, bot_token=self._token, rate_limits=False)
        self.people: list[Person] = []
        self._bot: Bot | None = None
        self._runner: web.AppRunner | None = None
        self.client = EmulatedClient(self, self._secret)  # what a person does in the page
        self.api = PageApi(self)
        self.url = ""

    @property
    def bot(self) -> Bot:
        if self._bot is None:
            raise RuntimeError("the sandbox is not started")
        return self._bot

    # -- lifecycle ----------------------------------------------------------------------

    async def start(self) -> None:
        """Bind, build the real bot against the emulated workspace, and serve."""
        sock = _bind(self.host, self.port)
        port = sock.getsockname()[1]
        base = f"http://{_local(self.host)}:{port}"
        settings = self.settings.model_copy(
            update={
                "slack_bot_token": SecretStr(self._token),
                "slack_signing_secret": SecretStr(self._secret),
                "slack_api_url": f"{base}/api/",
                "slack_pacing": False,  # the emulated workspace has no rate limits
            }
        )
        try:
            self._bot = await build(settings, clock=self.clock)
        except BaseException:
            sock.close()
            raise
        self.people = seed(
            self.workspace,
            self._bot.library.matrix,
            announce=settings.incidents_channel,
            locale=settings.locale,
            tz=settings.timezone,
        )
        app = self._bot.web()  # the bot's /slack/events, started and stopped with the server
        self.fake.mount(app, base)
        self.api.mount(app)
        await self.client.open()
        self._runner = web.AppRunner(app, shutdown_timeout=2.0, access_log=None)
        await self._runner.setup()
        await web.SockSite(self._runner, sock).start()
        self.url = f"http://{_local(self.host)}:{port}/"
        self.port = port

    async def stop(self) -> None:
        self.fake.close()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
        await self.client.close()

    async def __aenter__(self) -> Sandbox:
        await self.start()
        return self

    async def __aexit__(self, *_exc: object) -> None:
        await self.stop()

    # -- the sandbox's clock and language ---------------------------------------------

    async def fast_forward(self, minutes: int) -> Json:
        """Move the engine's clock, then fire (and deliver) what became due."""
        if not 0 < minutes <= MAX_FAST_FORWARD:
            raise BadRequest(f"minutes must be between 1 and {MAX_FAST_FORWARD}")
        bot = self.bot
        self.clock.advance(timedelta(minutes=minutes))
        fired = await bot.service.tick()  # which kicks delivery after its commits
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(bot.delivery.wait_idle(), 20)
        self.workspace.emit("clock_changed")
        return {"ok": True, "fired": fired, **self.clock_json()}

    def set_language(self, locale: str) -> Json:
        """The page switched language: the whole emulated workspace follows.

        In Slack each person reads the bot in their own locale (users.info), and the
        messages everyone shares (incident channels, the announcement) in the workspace's
        language, EPBOT_LOCALE. A sandbox is one person trying the bot as everybody, so the
        switch does both, as if every member and the workspace changed language: each user's
        Slack locale, and the bot's shared-message language. Messages already posted keep
        theirs until the bot next edits them, as in Slack.
        """
        if locale not in LANGUAGES:
            raise BadRequest(f"locale must be one of {', '.join(LANGUAGES)}")
        for user in self.workspace.users.values():
            if not user.is_bot:
                user.locale = slack_locale(locale)
        bot = self.bot
        bot.client._users.clear()  # users.info is cached: read the new locales again
        bot.client.default_locale = locale
        bot.delivery.effects.locale = locale
        alerts = getattr(bot.delivery.standalone.get("alert"), "__self__", None)
        if alerts is not None and hasattr(alerts, "locale"):
            alerts.locale = locale
        self.settings = self.settings.model_copy(update={"locale": locale})
        self.workspace.emit("locale_changed")
        return {"ok": True, "locale": locale}

    def clock_json(self) -> Json:
        return {
            "now": self.clock.now().isoformat(),
            "offset_minutes": int(self.clock.offset.total_seconds() // 60),
        }


async def serve(settings: Settings, *, out: TextIO, host: str | None, port: int | None) -> None:
    """Run the sandbox until interrupted."""
    # The wake-up job runs every few seconds in a demo: its INFO lines are noise here.
    logging.getLogger("apscheduler").setLevel(logging.WARNING)
    sandbox = Sandbox(settings, host=host, port=port)
    await sandbox.start()
    out.write(f"epbot sandbox: open {sandbox.url} (Ctrl+C to stop)\n")
    out.flush()
    try:
        await asyncio.Event().wait()
    finally:
        await sandbox.stop()
