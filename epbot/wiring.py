"""The composition root: builds settings, database, services and the Slack app once."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass
from typing import Any, TextIO

from aiohttp import web
from sqlalchemy.ext.asyncio import AsyncEngine

from epbot.adapters.clock import SystemClock
from epbot.adapters.db.engine import make_engine
from epbot.adapters.db.migrate import upgrade, upgrade_async
from epbot.adapters.playbook_files import PlaybookLibrary, PlaybookSetError
from epbot.adapters.slack.app import build_app, web_app
from epbot.adapters.slack.client import SlackClient
from epbot.adapters.slack.delivery import Delivery
from epbot.adapters.slack.interactions import Interactions
from epbot.adapters.timers import SchedulerTimers
from epbot.config import ConfigError, Settings, require_slack
from epbot.services.incidents import IncidentService
from epbot.services.ports import Clock
from handlers import Deps, register

log = logging.getLogger(__name__)


@dataclass
class Bot:
    """Everything built once: engine, playbooks, service, timers, Slack client and app."""

    settings: Settings
    engine: AsyncEngine
    library: PlaybookLibrary
    service: IncidentService
    timers: SchedulerTimers
    client: SlackClient
    delivery: Delivery
    ui: Interactions
    app: Any  # slack_bolt.async_app.AsyncApp

    def web(self) -> web.Application:
        """The aiohttp application serving ``POST /slack/events``."""
        application = web_app(self.app)

        async def lifecycle(_app: web.Application) -> Any:
            await self.start()
            yield
            await self.stop()

        application.cleanup_ctx.append(lifecycle)
        return application

    async def start(self, *, poll_interval: float = 5.0) -> None:
        self.timers.start()
        self.delivery.start(poll_interval)
        self.delivery.kick()

    async def stop(self) -> None:
        await self.delivery.stop()
        await self.timers.shutdown()
        await self.engine.dispose()


def load_library(settings: Settings) -> PlaybookLibrary:
    """The playbooks and matrix; refuse to start on an invalid set, saying where and why."""
    library = PlaybookLibrary(settings.playbooks_dir, settings.matrix)
    try:
        library.load()
    except PlaybookSetError as exc:
        raise ConfigError(
            "the playbooks do not validate:\n  " + "\n  ".join(str(e) for e in exc.errors)
        ) from None
    return library


def compose(settings: Settings, *, clock: Clock | None = None, slack_timeout: int = 30) -> Bot:
    """Build every part over an already migrated database."""
    require_slack(settings)
    assert settings.slack_bot_token is not None
    assert settings.slack_signing_secret is not None
    clock = clock or SystemClock()
    library = load_library(settings)
    engine = make_engine(settings.database_url)
    service = IncidentService(
        engine=engine, clock=clock, playbooks=library, timezone=settings.timezone
    )
    client = SlackClient(
        settings.slack_bot_token.get_secret_value(),
        base_url=settings.slack_api_url,
        timeout=slack_timeout,
        default_locale=settings.locale,
    )
    delivery = Delivery(
        engine=engine,
        client=client,
        playbooks=library,
        clock=clock,
        locale=settings.locale,
        tz=settings.tz,
        incidents_channel=settings.incidents_channel,
    )

    async def tick() -> int:
        fired = await service.tick()
        if fired:
            delivery.kick()  # what the timers caused goes out at once
        return fired

    timers = SchedulerTimers(tick)
    service.timers = timers
    ui = Interactions(
        engine=engine,
        client=client,
        delivery=delivery,
        playbooks=library,
        clock=clock,
        tz=settings.tz,
    )
    app = build_app(client=client, signing_secret=settings.slack_signing_secret.get_secret_value())
    register(app, Deps(service=service, ui=ui))
    return Bot(settings, engine, library, service, timers, client, delivery, ui, app)


async def build(settings: Settings, *, clock: Clock | None = None, slack_timeout: int = 30) -> Bot:
    """Migrate the database, then build the bot (inside a running event loop)."""
    require_slack(settings)
    load_library(settings)  # refuse an invalid set before touching the database
    await upgrade_async(settings.database_url)
    return compose(settings, clock=clock, slack_timeout=slack_timeout)


def serve(settings: Settings, *, out: TextIO) -> int:
    """Check the configuration, migrate the database, then run the bot."""
    require_slack(settings)
    load_library(settings)
    upgrade(settings.database_url)
    if settings.socket_mode:
        out.write("epbot: connecting to Slack in Socket Mode\n")
        asyncio.run(_socket_mode(settings))
        return 0
    out.write(f"epbot: listening on http://{settings.host}:{settings.port}/slack/events\n")
    out.flush()

    async def application() -> web.Application:
        return compose(settings).web()

    web.run_app(application(), host=settings.host, port=settings.port, print=None)
    return 0


async def _socket_mode(settings: Settings) -> None:
    from slack_bolt.adapter.socket_mode.async_handler import AsyncSocketModeHandler

    assert settings.slack_app_token is not None
    bot = compose(settings)
    await bot.start()
    handler = AsyncSocketModeHandler(bot.app, settings.slack_app_token.get_secret_value())
    try:
        await handler.start_async()  # type: ignore[no-untyped-call]
    finally:
        with contextlib.suppress(Exception):
            await handler.close_async()  # type: ignore[no-untyped-call]
        await bot.stop()
