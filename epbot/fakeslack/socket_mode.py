"""Socket Mode on the fake: ``apps.connections.open``, the WebSocket, envelopes and acks.

As Slack does it: the app calls ``apps.connections.open`` with its app-level token
(``xapp-...``, in the ``Authorization`` header) and gets a single-use WebSocket URL. On
connecting it receives ``{"type": "hello", ...}``; then each request Slack would have
POSTed arrives as an envelope ``{"envelope_id", "type": "slash_commands" | "interactive" |
"events_api", "payload", "accepts_response_payload"}`` (events also carry
``retry_attempt`` / ``retry_reason``), and the app answers ``{"envelope_id"[, "payload"]}``
within 3 seconds. ``{"type": "disconnect", "reason": ...}`` asks the app to reconnect.

Tests push envelopes with :meth:`SocketMode.send` (or :meth:`SocketMode.send_request`,
which takes a body built by :mod:`epbot.fakeslack.signing`) and get the app's :class:`Ack`.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl

from aiohttp import WSCloseCode, WSMsgType, web

from epbot.fakeslack.handlers.common import Ctx, Handler, ok

Json = dict[str, Any]
DEFAULT_APP_TOKEN = "xapp-1-A00000001-1-fakeapptoken"
DEFAULT_APP_ID = "A00000001"
SOCKET_PATH = "/socket/{ticket}"
ACK_TIMEOUT = 3.0  # Slack shows the user an error when the app has not acked by then
APP_LEVEL_METHODS = frozenset({"apps.connections.open"})
# Interactive payloads whose ack may carry an answer (response_action, options).
_ANSWERABLE = frozenset({"view_submission", "block_suggestion"})
_FORM = "application/x-www-form-urlencoded"


@dataclass(frozen=True)
class Ack:
    """The app's answer to one envelope."""

    envelope_id: str
    type: str  # the envelope's type: slash_commands, interactive, events_api
    payload: Json | None
    seconds: float  # from sending the envelope to receiving the ack


@dataclass(eq=False)
class Connection:
    """One open WebSocket, and every message the app sent on it."""

    ticket: str
    ws: web.WebSocketResponse
    received: list[Json] = field(default_factory=list)


class SocketMode:
    """Socket Mode for a :class:`~epbot.fakeslack.FakeSlack` (its ``socket`` attribute)."""

    def __init__(
        self,
        *,
        base: Callable[[], str],
        app_token: str = DEFAULT_APP_TOKEN,
        app_id: str = DEFAULT_APP_ID,
    ) -> None:
        self._base = base  # the server's http://host:port, known once it is started
        self.app_token = app_token
        self.app_tokens: set[str] = {app_token}
        self.app_id = app_id
        self.connections: list[Connection] = []  # open now, oldest first
        self.opened = 0  # connections ever accepted
        self.envelopes: list[Json] = []  # every envelope sent, oldest first
        self.acks: list[Ack] = []  # every ack received, oldest first
        self._tickets: set[str] = set()
        self._pending: dict[str, tuple[asyncio.Future[Ack], Json, float]] = {}
        self._changed = asyncio.Condition()
        self._ids = itertools.count(1)

    # -- wiring into the fake's server ----------------------------------------------------

    def add_routes(self, app: web.Application) -> None:
        """Serve the WebSocket from ``app``; close the sockets when ``app`` shuts down."""
        app.router.add_get(SOCKET_PATH, self._handle_socket)
        app.on_shutdown.append(self._on_shutdown)

    def handlers(self) -> dict[str, Handler]:
        """Web API methods answered here."""
        return {"apps.connections.open": self._connections_open}

    def token_error(self, token: str, *, bearer: bool, bot_tokens: set[str]) -> str | None:
        """Why ``apps.connections.open`` refuses ``token``, or None when it accepts it."""
        if token in bot_tokens or token.startswith(("xoxb-", "xoxp-")):
            return "not_allowed_token_type"  # what Slack answers a bot or user token
        if token not in self.app_tokens or not bearer:
            # Slack no longer accepts an app-level token as a form/query ``token``.
            return "invalid_auth"
        return None

    def _connections_open(self, _ctx: Ctx) -> Json:
        ticket = uuid.uuid4().hex
        self._tickets.add(ticket)
        base = self._base()
        ws_base = "ws" + base.removeprefix("http")  # http -> ws, https -> wss
        return ok(url=f"{ws_base}{SOCKET_PATH.format(ticket=ticket)}?app_id={self.app_id}")

    # -- test controls -------------------------------------------------------------------

    async def wait_connected(self, within: float = 10.0) -> Connection:
        """The newest open connection, waiting up to ``within`` seconds for one."""
        async with asyncio.timeout(within), self._changed:
            await self._changed.wait_for(lambda: bool(self.connections))
            return self.connections[-1]

    async def wait_disconnected(self, within: float = 10.0) -> None:
        """Wait until no connection is open."""
        async with asyncio.timeout(within), self._changed:
            await self._changed.wait_for(lambda: not self.connections)

    async def send(
        self,
        kind: str,
        payload: Json,
        *,
        accepts_response_payload: bool | None = None,
        retry_attempt: int | None = None,
        retry_reason: str = "",
        within: float = ACK_TIMEOUT,
    ) -> Ack:
        """Send one envelope on the newest connection and wait for its ack.

        Raises TimeoutError when the app does not ack within ``within`` seconds (Slack's
        limit is 3). ``accepts_response_payload`` defaults to what Slack sets for ``kind``.
        """
        connection = await self.wait_connected()
        envelope_id = f"{uuid.uuid4()}-{next(self._ids)}"
        if accepts_response_payload is None:
            accepts_response_payload = kind == "slash_commands" or (
                kind == "interactive" and payload.get("type") in _ANSWERABLE
            )
        envelope: Json = {
            "envelope_id": envelope_id,
            "type": kind,
            "payload": payload,
            "accepts_response_payload": accepts_response_payload,
        }
        if kind == "events_api":
            envelope["retry_attempt"] = retry_attempt or 0
            envelope["retry_reason"] = retry_reason
        future: asyncio.Future[Ack] = asyncio.get_running_loop().create_future()
        self._pending[envelope_id] = (future, envelope, time.monotonic())
        self.envelopes.append(envelope)
        try:
            await connection.ws.send_str(json.dumps(envelope))
            async with asyncio.timeout(within):
                return await future
        except TimeoutError:
            raise TimeoutError(
                f"no ack for {kind} envelope {envelope_id} within {within} s"
            ) from None
        finally:
            self._pending.pop(envelope_id, None)

    async def send_request(
        self,
        body: str,
        content_type: str = _FORM,
        *,
        retry_attempt: int | None = None,
        within: float = ACK_TIMEOUT,
    ) -> Ack:
        """Send, as an envelope, a request body built for HTTP by :mod:`~.signing`."""
        kind, payload = envelope_payload(body, content_type)
        return await self.send(kind, payload, retry_attempt=retry_attempt, within=within)

    async def disconnect(self, reason: str = "refresh_requested") -> None:
        """Ask every connected app to reconnect, as Slack does before it drops a socket."""
        message = {"type": "disconnect", "reason": reason, "debug_info": {"host": "fakeslack"}}
        for connection in list(self.connections):
            with contextlib.suppress(ConnectionError):
                await connection.ws.send_str(json.dumps(message))

    # -- the WebSocket -------------------------------------------------------------------

    async def _handle_socket(self, request: web.Request) -> web.StreamResponse:
        ticket = request.match_info["ticket"]
        if ticket not in self._tickets:
            raise web.HTTPUnauthorized(text="invalid or already used ticket")
        self._tickets.discard(ticket)  # each URL opens one connection
        ws = web.WebSocketResponse(autoping=True)  # answers the client's pings
        await ws.prepare(request)
        connection = Connection(ticket, ws)
        async with self._changed:
            self.connections.append(connection)
            self.opened += 1
            self._changed.notify_all()
        try:
            await ws.send_str(json.dumps(self._hello()))
            async for message in ws:
                if message.type == WSMsgType.TEXT:
                    self._receive(connection, message.data)
        finally:
            async with self._changed:
                self.connections.remove(connection)
                self._changed.notify_all()
        return ws

    def _hello(self) -> Json:
        return {
            "type": "hello",
            "num_connections": len(self.connections),
            "debug_info": {
                "host": "fakeslack",
                "build_number": 1,
                "approximate_connection_time": 18060,
            },
            "connection_info": {"app_id": self.app_id},
        }

    def _receive(self, connection: Connection, data: str) -> None:
        try:
            message = json.loads(data)
        except ValueError:
            message = {"unparsed": data}
        if not isinstance(message, dict):
            message = {"unparsed": data}
        connection.received.append(message)
        envelope_id = message.get("envelope_id")
        if not isinstance(envelope_id, str):
            return
        pending = self._pending.get(envelope_id)
        payload = message.get("payload")
        kind = pending[1]["type"] if pending else ""
        started = pending[2] if pending else time.monotonic()
        ack = Ack(
            envelope_id,
            kind,
            payload if isinstance(payload, dict) else None,
            time.monotonic() - started,
        )
        self.acks.append(ack)
        if pending is not None and not pending[0].done():
            pending[0].set_result(ack)

    async def _on_shutdown(self, _app: web.Application) -> None:
        for connection in list(self.connections):
            await connection.ws.close(code=WSCloseCode.GOING_AWAY, message=b"server shutdown")


def envelope_payload(body: str, content_type: str = _FORM) -> tuple[str, Json]:
    """The envelope type and payload Socket Mode carries for an HTTP request ``body``.

    JSON bodies are Events API callbacks; ``payload=<json>`` forms are interactivity; other
    forms are slash commands, whose fields stay strings as in the form.
    """
    if content_type.startswith("application/json"):
        return "events_api", _object(json.loads(body))
    form = dict(parse_qsl(body, keep_blank_values=True))
    if "payload" in form:
        return "interactive", _object(json.loads(form["payload"]))
    return "slash_commands", dict(form)


def _object(value: Any) -> Json:
    if not isinstance(value, dict):
        raise ValueError("a Socket Mode payload is a JSON object")
    return value
