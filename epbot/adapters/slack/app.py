"""The Bolt app: signature check, retry de-duplication, listeners; served over aiohttp.

``process_before_response=False``: a listener's ``ack()`` answers Slack at once and the
rest of the listener (service call, Web API calls) runs after, so the 3-second limit
holds whatever the database or Slack are doing.
"""

from __future__ import annotations

import logging
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web
from slack_bolt.adapter.aiohttp import to_aiohttp_response, to_bolt_request
from slack_bolt.async_app import AsyncApp
from slack_bolt.request.async_request import AsyncBoltRequest
from slack_bolt.response import BoltResponse

from epbot.adapters.slack.client import SlackClient

log = logging.getLogger(__name__)

EVENTS_PATH = "/slack/events"


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


def build_app(*, client: SlackClient, signing_secret: str) -> AsyncApp:
    """A Bolt app whose client talks to ``client``'s base URL (Slack, or a fake)."""
    app = AsyncApp(
        signing_secret=signing_secret,
        client=client.web,  # its token and base_url (Slack, or a fake) are used
        process_before_response=False,
        ssl_check_enabled=True,
    )
    app.use(dedup_middleware(SeenRequests()))
    return app


def web_app(app: AsyncApp) -> web.Application:
    """aiohttp application serving ``POST /slack/events`` (and a health check)."""

    async def events(request: web.Request) -> web.Response:
        bolt_request = await to_bolt_request(request)
        bolt_response = await app.async_dispatch(bolt_request)
        response: web.Response = await to_aiohttp_response(bolt_response)
        return response

    async def health(_request: web.Request) -> web.Response:
        return web.Response(text="ok")

    application = web.Application()
    application.router.add_post(EVENTS_PATH, events)
    application.router.add_get("/healthz", health)
    return application
