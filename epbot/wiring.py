"""The composition root: builds settings, database, services and the Slack app once."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from dataclasses import dataclass, field
from typing import Any, TextIO

from aiohttp import web
from sqlalchemy.ext.asyncio import AsyncEngine

from epbot.adapters.alerts_http import AlertIntake, AlertMetrics
from epbot.adapters.clock import SystemClock
from epbot.adapters.db.engine import make_engine
from epbot.adapters.db.migrate import upgrade, upgrade_async
from epbot.adapters.db.store import SqlStore
from epbot.adapters.drill_clock import DrillClock, build_drill_clock
from epbot.adapters.health import Readiness
from epbot.adapters.leader import AdvisoryLockLeader, AlwaysLeader, Leadership
from epbot.adapters.metrics import Metrics
from epbot.adapters.playbook_files import PlaybookLibrary, PlaybookSetError, PlaybookWatcher
from epbot.adapters.report_metrics import ReportMetrics
from epbot.adapters.slack.alert_effects import AlertEffects
from epbot.adapters.slack.alert_render import resolved_note
from epbot.adapters.slack.alert_ui import AlertInteractions
from epbot.adapters.slack.app import (
    ListenerWork,
    build_app,
    keep_warming,
    track_listeners,
    web_app,
)
from epbot.adapters.slack.client import SlackClient
from epbot.adapters.slack.delivery import Delivery
from epbot.adapters.slack.effects import SlackEffects
from epbot.adapters.slack.interactions import Interactions
from epbot.adapters.slack.pacing import Pacer
from epbot.adapters.slack.report_upload import ReportUploads
from epbot.adapters.timers import SchedulerTimers
from epbot.config import ConfigError, Settings, require_slack
from epbot.services.alerts import AlertService
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
    leadership: Leadership = field(default_factory=AlwaysLeader)
    metrics: Metrics | None = None
    readiness: Readiness | None = None
    listeners: ListenerWork = field(default_factory=ListenerWork)
    drills: DrillClock | None = None  # scheduled drills (playbooks/drills.yaml)
    alerts: AlertService | None = None
    alert_intake: AlertIntake | None = None
    watcher: PlaybookWatcher | None = None  # takes playbook edits while running
    store: SqlStore | None = None  # the services' store (one SQLite writer lock per process)
    warming: asyncio.Task[None] | None = None  # Bolt's auth.test, asked at start
    looking_up: asyncio.Task[None] | None = None  # the matrix's people, looked up at start

    def web(self) -> web.Application:
        """The aiohttp application: ``POST /slack/events``, /healthz, /readyz, /metrics,
        and the alert webhooks ``POST /alerts/...``."""
        clock = self.service.clock
        application = web_app(
            self.app,
            readiness=self.readiness,
            metrics=self.metrics,
            now=clock.now,
            routes=[self.alert_intake.add_routes] if self.alert_intake else (),
        )

        async def lifecycle(_app: web.Application) -> Any:
            await self.start()
            yield
            await self.stop()

        application.cleanup_ctx.append(lifecycle)
        return application

    async def start(self, *, poll_interval: float = 5.0) -> None:
        self.client.keep_alive()
        self.timers.start()
        # Bolt asks auth.test before the first request's ack unless it already knows the
        # answer: ask it now, in the background (and again until Slack answers).
        self.warming = asyncio.get_running_loop().create_task(keep_warming(self.app))
        # Every person of the matrix: those named by e-mail need their user id, and all of
        # them their language, before the first page.
        people = self.library.current.matrix.refs()
        self.looking_up = asyncio.get_running_loop().create_task(self.client.warm(people))
        await self.leadership.start()
        self.delivery.start(poll_interval)
        if self.drills is None:
            self.drills = build_drill_clock(
                store=self.store or SqlStore(self.engine),
                incidents=self.service,
                library=self.library,
                tz=self.settings.tz,
                locale=self.settings.locale,
            )
        self.drills.start()
        if self.watcher is None:
            self.watcher = PlaybookWatcher(self.library)
        self.watcher.start()

    async def stop(self) -> None:
        """Finish what is in progress, then stop; what is left waits in the tables.

        By the time this runs the HTTP server no longer accepts requests and the requests
        in flight have been answered; their after-ack work (listeners) may still run.
        Outbox rows not yet delivered stay pending, and timers are rows: the next start
        (here or in another process) carries on from the database.
        """
        grace = self.settings.shutdown_timeout
        for task in (self.warming, self.looking_up):
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
        if not await self.listeners.wait_idle(grace):
            log.warning("stopping with %s Slack listener(s) still running", self.listeners.running)
        await self.timers.shutdown(grace=grace)
        await self.leadership.stop()
        if self.drills is not None:
            await self.drills.stop()
        if self.watcher is not None:
            await self.watcher.stop()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.delivery.wait_idle(), grace)
        await self.delivery.stop()
        await self.client.close()
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
    store = SqlStore(engine)
    metrics = Metrics(engine)
    metrics.sources.append(ReportMetrics(engine, library))  # the report summary's gauges
    client = SlackClient(
        settings.slack_bot_token.get_secret_value(),
        base_url=settings.slack_api_url,
        timeout=slack_timeout,
        default_locale=settings.locale,
        metrics=metrics.slack,
        pacer=Pacer(enabled=settings.slack_pacing),
    )
    delivery = Delivery(
        engine=engine,
        clock=clock,
        effects=SlackEffects(
            engine=engine,
            client=client,
            playbooks=library,
            clock=clock,
            locale=settings.locale,
            tz=settings.tz,
            incidents_channel=settings.incidents_channel,
        ),
        workers=settings.delivery_workers,
        standalone={
            # A monitoring alert's warning (no incident): its own lane, per alerts channel.
            "alert": AlertEffects(
                client, engine, settings.locale, settings.tz, playbooks=library, clock=clock
            ).deliver,
        },
    )
    # The services kick delivery themselves once what they enqueued is committed.
    service = IncidentService(
        store=store,
        clock=clock,
        playbooks=library,
        notifier=delivery,
        timezone=settings.timezone,
    )

    def led(leader: bool) -> None:
        metrics.leader.set(1 if leader else 0)
        if leader:
            timers.wake_at(clock.now())  # catch up on whatever fell due meanwhile

    leadership: Leadership
    if engine.dialect.name == "postgresql":
        leadership = AdvisoryLockLeader(
            settings.database_url,
            retry_interval=settings.leader_retry_seconds,
            on_change=led,
            on_notify=lambda: timers.wake_at(clock.now()),
        )
    else:
        leadership = AlwaysLeader(on_change=led)
    timers = SchedulerTimers(
        service.tick, clock=clock, gate=lambda: leadership.is_leader, elsewhere=leadership.notify
    )
    service.timers = timers
    ui = Interactions(
        engine=engine,
        client=client,
        playbooks=library,
        clock=clock,
        tz=settings.tz,
    )
    app = build_app(client=client, signing_secret=settings.slack_signing_secret.get_secret_value())
    alert_metrics = AlertMetrics(metrics.registry)
    alerts = AlertService(
        store=store,
        incidents=service,
        rules=lambda: library.current.alert_rules,
        channel=settings.alert_channel,
        notifier=delivery,
        observer=alert_metrics,
        resolved_note=lambda alert: resolved_note(alert, settings.locale),
    )
    alert_intake = AlertIntake(
        service=alerts,
        tokens=settings.alert_token_map(),
        rate_limit=settings.alert_rate_limit,
        rate_window=settings.alert_rate_window,
        now=clock.now,
        metrics=alert_metrics,
    )
    alert_ui = AlertInteractions(ui=ui, alerts=alerts)
    reports = ReportUploads(
        store=store, client=client, playbooks=library, clock=clock, tz=settings.tz
    )
    register(app, Deps(service=service, ui=ui, alerts=alerts, alert_ui=alert_ui, reports=reports))
    listeners = ListenerWork()
    track_listeners(app, listeners)
    readiness = Readiness(
        engine=engine,
        client=client,
        timers_running=lambda: timers.running,
        leadership=leadership,
    )
    return Bot(
        settings,
        engine,
        library,
        service,
        timers,
        client,
        delivery,
        ui,
        app,
        leadership=leadership,
        metrics=metrics,
        readiness=readiness,
        listeners=listeners,
        alerts=alerts,
        alert_intake=alert_intake,
        store=store,
    )


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

    # SIGTERM/SIGINT: stop listening, answer the requests in flight (up to the timeout),
    # then Bot.stop() via the app's cleanup context; the process then exits 0.
    web.run_app(
        application(),
        host=settings.host,
        port=settings.port,
        print=None,
        shutdown_timeout=settings.shutdown_timeout,
    )
    out.write("epbot: stopped\n")
    out.flush()
    return 0


async def _socket_mode(settings: Settings) -> None:
    from slack_bolt.adapter.socket_mode.async_handler import AsyncSocketModeHandler

    assert settings.slack_app_token is not None
    bot = compose(settings)
    await bot.start()
    handler = AsyncSocketModeHandler(bot.app, settings.slack_app_token.get_secret_value())
    # SIGTERM/SIGINT (a container stop): close the socket, then stop the bot cleanly.
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    signals = (signal.SIGTERM, signal.SIGINT)
    for sig in signals:
        loop.add_signal_handler(sig, stop.set)
    try:
        await handler.connect_async()  # type: ignore[no-untyped-call]
        await stop.wait()
    finally:
        for sig in signals:
            loop.remove_signal_handler(sig)
        with contextlib.suppress(Exception):
            await handler.close_async()  # type: ignore[no-untyped-call]
        await bot.stop()
