"""The Bolt app: signature check, retry de-duplication, listeners; served over aiohttp.

``process_before_response=False``: a listener's ``ack()`` answers Slack at once and the
rest of the listener (service call, Web API calls) runs after, so the 3-second limit
holds whatever the database or Slack are doing. :class:`ListenerWork` counts that
after-ack work, so a graceful shutdown can wait for it after the last response went out.

The same port serves ``/healthz`` (alive), ``/readyz`` (ready, with the failing checks)
and ``/metrics`` (Prometheus).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import weakref
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Sequence
from datetime import UTC, datetime
from typing import Any

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST
from slack_bolt.adapter.aiohttp import to_aiohttp_response, to_bolt_request
from slack_bolt.async_app import AsyncApp
from slack_bolt.listener.async_listener_completion_handler import (
    AsyncListenerCompletionHandler,
)
from slack_bolt.listener.async_listener_start_handler import AsyncListenerStartHandler
from slack_bolt.middleware.authorization.async_single_team_authorization import (
    AsyncSingleTeamAuthorization,
)
from slack_bolt.request.async_request import AsyncBoltRequest
from slack_bolt.response import BoltResponse

from epbot.adapters.health import Readiness
from epbot.adapters.metrics import Metrics
from epbot.adapters.slack.client import SlackClient
from epbot.logs import bolt_log_context

log = logging.getLogger(__name__)

EVENTS_PATH = "/slack/events"
HEALTH_PATH = "/healthz"
READY_PATH = "/readyz"
METRICS_PATH = "/metrics"


class ListenerWork:
    """How many Bolt listeners are running (most of them after their ack)."""

    def __init__(self) -> None:
        self.running = 0
        self._idle = asyncio.Event()
        self._idle.set()

    def begin(self) -> None:
        self.running += 1
        self._idle.clear()

    def end(self) -> None:
        self.running = max(0, self.running - 1)
        if self.running == 0:
            self._idle.set()

    async def wait_idle(self, grace: float) -> bool:
        """Wait for every running listener to finish; False when ``grace`` seconds ran out."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._idle.wait(), grace)
        return self._idle.is_set()


class _CountStart(AsyncListenerStartHandler):
    def __init__(self, inner: AsyncListenerStartHandler, work: ListenerWork) -> None:
        self._inner = inner
        self._work = work

    async def handle(self, request: AsyncBoltRequest, response: BoltResponse | None) -> None:
        self._work.begin()
        await self._inner.handle(request=request, response=response)


class _CountCompletion(AsyncListenerCompletionHandler):
    def __init__(self, inner: AsyncListenerCompletionHandler, work: ListenerWork) -> None:
        self._inner = inner
        self._work = work

    async def handle(self, request: AsyncBoltRequest, response: BoltResponse | None) -> None:
        try:
            await self._inner.handle(request=request, response=response)
        finally:
            self._work.end()


def track_listeners(app: AsyncApp, work: ListenerWork) -> None:
    """Count every listener run of ``app`` in ``work`` (Bolt brackets each run with these)."""
    runner = app.listener_runner
    runner.listener_start_handler = _CountStart(runner.listener_start_handler, work)
    runner.listener_completion_handler = _CountCompletion(
        runner.listener_completion_handler, work
    )


class SeenRequests:
    """A bounded memory of requests already handled (event ids, views, triggers)."""

    def __init__(self, size: int = 10_000) -> None:
        self._size = size
        self._seen: OrderedDict[str, None] = OrderedDict()

    def add(self, key: str) -> bool:
        """Remember ``key``; False when it was already there."""
        if key in self._seen:
            self._seen.move_to_end(key)
            return False
        self._seen[key] = None
        if len(self._seen) > self._size:
            self._seen.popitem(last=False)
        return True


def request_key(body: dict[str, Any]) -> str | None:
    """What identifies one Slack request across its retries."""
    if body.get("event_id"):
        return f"event:{body['event_id']}"
    kind = body.get("type")
    if kind == "view_submission":
        return f"view:{(body.get('view') or {}).get('id')}"
    if kind == "block_actions":
        actions = body.get("actions") or [{}]
        return f"action:{body.get('trigger_id')}:{actions[0].get('action_ts')}"
    if body.get("command"):
        return f"command:{body.get('trigger_id')}"
    return None


def dedup_middleware(seen: SeenRequests) -> Callable[..., Awaitable[Any]]:
    """Answer 200 to a Slack retry (``x-slack-retry-num``) of a request already handled."""

    # Bolt passes middleware arguments by name: ``req`` and ``next`` are all we need.
    async def dedup(req: AsyncBoltRequest, next: Callable[[], Awaitable[Any]]) -> Any:
        key = request_key(req.body)
        first = key is None or seen.add(key)
        if not first and req.headers.get("x-slack-retry-num"):
            log.info("dropping Slack retry of %s", key)
            return BoltResponse(status=200, body="")
        return await next()

    return dedup


# How long a request that arrives while the start's auth.test is still unanswered waits
# for it (under Slack's 3-second ack limit) before Bolt asks auth.test itself.
WARM_WAIT = 2.0


class _Warmth:
    """Whether the start's auth.test is under way (``asking``) or answered (``ready``)."""

    def __init__(self) -> None:
        self.asking = False
        self.ready = asyncio.Event()

    async def before_authorize(self, next: Callable[[], Awaitable[Any]]) -> Any:  # noqa: A002
        if self.asking and not self.ready.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.ready.wait(), WARM_WAIT)
        return await next()


_WARM: weakref.WeakKeyDictionary[AsyncApp, _Warmth] = weakref.WeakKeyDictionary()


def build_app(*, client: SlackClient, signing_secret: str) -> AsyncApp:
    """A Bolt app whose client talks to ``client``'s base URL (Slack, or a fake)."""
    warmth = _Warmth()
    app = AsyncApp(
        signing_secret=signing_secret,
        client=client.web,  # its token and base_url (Slack, or a fake) are used
        process_before_response=False,
        ssl_check_enabled=True,
        # A request that comes while Slack has not yet answered the start's auth.test (429s
        # and 5xx on the worst day) waits for that answer, rather than asking once itself
        # and being refused when that one call fails.
        before_authorize=warmth.before_authorize,
    )
    _WARM[app] = warmth
    app.use(bolt_log_context)  # first, so even a dropped retry is logged with its id
    app.use(dedup_middleware(SeenRequests()))
    return app


async def warm_authorization(app: AsyncApp) -> bool:
    """Ask ``auth.test`` now, at start, instead of before the first request's ack.

    Bolt's single-workspace authorization calls ``auth.test`` on the first request and
    caches the answer; done here, no request waits on the Web API before its ack. Best
    effort: if Slack does not answer, the first request asks, as Bolt always did.
    """
    for middleware in app._async_middleware_list:  # Bolt keeps no public handle on it
        if isinstance(middleware, AsyncSingleTeamAuthorization):
            if middleware.auth_test_result is None:
                try:
                    middleware.auth_test_result = await app.client.auth_test()
                except Exception as exc:  # noqa: BLE001 - the lazy path still works
                    log.warning("auth.test at start failed (%s); asking again", exc)
                    return False
            if app in _WARM:
                _WARM[app].ready.set()
            return True
    return False


async def keep_warming(app: AsyncApp, *, first: float = 0.5, cap: float = 30.0) -> None:
    """``warm_authorization`` until it succeeds (Slack down or answering 429 at start):
    a bot started on the worst day still takes its first request without asking Slack."""
    warmth = _WARM.get(app)
    if warmth is not None:
        warmth.asking = True  # requests meanwhile wait for the answer (WARM_WAIT at most)
    wait = first
    while not await warm_authorization(app):
        await asyncio.sleep(wait)
        wait = min(cap, wait * 2)


def web_app(
    app: AsyncApp,
    *,
    readiness: Readiness | None = None,
    metrics: Metrics | None = None,
    now: Callable[[], datetime] = lambda: datetime.now(UTC),
    routes: Sequence[Callable[[web.Application], None]] = (),
) -> web.Application:
    """aiohttp application serving ``POST /slack/events``, health, readiness and metrics;
    each of ``routes`` adds its own (the alert webhooks)."""

    async def events(request: web.Request) -> web.Response:
        bolt_request = await to_bolt_request(request)
        bolt_response = await app.async_dispatch(bolt_request)
        response: web.Response = await to_aiohttp_response(bolt_response)
        return response

    async def health(_request: web.Request) -> web.Response:
        return web.Response(text="ok")

    application = web.Application()
    application.router.add_post(EVENTS_PATH, events)
    application.router.add_get(HEALTH_PATH, health)

    if readiness is not None:
        checks = readiness

        async def ready(_request: web.Request) -> web.Response:
            ok, body = await checks.check()
            return web.Response(
                text=json.dumps(body),
                status=200 if ok else 503,
                content_type="application/json",
            )

        application.router.add_get(READY_PATH, ready)

    if metrics is not None:
        registry = metrics

        async def scrape(_request: web.Request) -> web.Response:
            text = await registry.render(now=now())
            return web.Response(
                body=text, headers={"Content-Type": CONTENT_TYPE_LATEST}
            )

        application.router.add_get(METRICS_PATH, scrape)
    for add_routes in routes:
        add_routes(application)
    return application
