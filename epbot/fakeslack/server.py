"""FakeSlack: an aiohttp server that answers Slack Web API calls from the method reference."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import random
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aiohttp import BodyPartReader, web

from epbot.fakeslack.args import (
    Args,
    SlackError,
    decode_json_args,
    first_missing,
    get_str,
    missing_argument_error,
)
from epbot.fakeslack.handlers import HANDLERS, Ctx
from epbot.fakeslack.handlers.files import UPLOAD_PATH, receive_upload
from epbot.fakeslack.ratelimit import Clock, RateLimiter
from epbot.fakeslack.reference import Reference
from epbot.fakeslack.responses import ResponseTarget, handle_response_url
from epbot.fakeslack.socket_mode import APP_LEVEL_METHODS, SocketMode
from epbot.fakeslack.workspace import Event, Workspace

Json = dict[str, Any]
FailureKind = int | str  # an HTTP status, "timeout", or a Slack error code
DEFAULT_BOT_TOKEN = "xoxb-fake-bot-token"
NO_ANSWER = 0  # Call.status of a call the fake never answered (injected timeout)


@dataclass
class Call:
    """One request the fake received, and what it answered."""

    method: str
    args: Args
    time: float
    status: int
    response: Json

    @property
    def ok(self) -> bool:
        """True when the answer was ``{"ok": true, ...}``."""
        return self.response.get("ok") is True

    @property
    def error(self) -> str | None:
        """The Slack error code answered, if any."""
        error = self.response.get("error")
        return error if isinstance(error, str) else None


@dataclass
class _Failure:
    method: str  # "*" matches every method
    kind: FailureKind
    remaining: int
    retry_after: int
    channel: str | None = None  # only calls with this ``channel`` argument
    thread_ts: str | None = None  # only calls with this ``thread_ts`` argument


@dataclass
class Chaos:
    """Random faults for storms and benchmarks: each call fails with these odds."""

    server_errors: float = 0.0  # answered 500/502/503
    rate_limited: float = 0.0  # answered 429 with Retry-After
    retry_after: int = 1
    seed: int = 0
    rng: random.Random = field(init=False)

    def __post_init__(self) -> None:
        self.rng = random.Random(self.seed)  # noqa: S311 - a test double's dice

    def roll(self, method: str) -> _Failure | None:
        dice = self.rng.random()
        if dice < self.server_errors:
            return _Failure(method, self.rng.choice((500, 502, 503)), 1, self.retry_after)
        if dice < self.server_errors + self.rate_limited:
            return _Failure(method, 429, 1, self.retry_after)
        return None


@dataclass
class _Answer:
    status: int
    body: Json
    headers: dict[str, str] = field(default_factory=dict)


class FakeSlack:
    """A local Slack Web API; point a client at :attr:`url` (``base_url=fake.url``)."""

    def __init__(
        self,
        *,
        workspace: Workspace | None = None,
        reference: Reference | None = None,
        reference_dir: Path | str | None = None,
        bot_token: str = DEFAULT_BOT_TOKEN,
        rate_limits: bool = True,
        rate_limit_scale: float = 1.0,
        clock: Clock = time.monotonic,
        hang_seconds: float = 30.0,
        latency: float = 0.0,
    ) -> None:
        self.workspace = workspace if workspace is not None else Workspace()
        self.reference = reference if reference is not None else Reference.load(reference_dir)
        self.bot_token = bot_token
        self.valid_tokens: set[str] = {bot_token}
        self.clock = clock
        self.limiter = RateLimiter(clock=clock, enabled=rate_limits, scale=rate_limit_scale)
        self.hang_seconds = hang_seconds
        self.latency = latency  # seconds before each Web API answer (a real network's)
        self.chaos: Chaos | None = None
        self.calls: list[Call] = []
        self._failures: list[_Failure] = []
        self._subscribers: list[asyncio.Queue[Event]] = []
        self._response_targets: dict[str, ResponseTarget] = {}
        self._response_ids = itertools.count(1)
        self._closing = asyncio.Event()
        self._runner: web.AppRunner | None = None
        self._base = ""
        self.workspace.listeners.append(self._publish)
        self.socket = SocketMode(base=lambda: self._base)  # Socket Mode: apps.connections.open
        self._handlers = {**HANDLERS, **self.socket.handlers()}

    # -- lifecycle ----------------------------------------------------------------------

    async def start(self, host: str = "127.0.0.1", port: int = 0) -> None:
        """Listen on ``host:port`` (0 = a free port)."""
        app = web.Application()
        self.add_routes(app)
        self._closing.clear()
        self._runner = web.AppRunner(app, shutdown_timeout=1.0)
        await self._runner.setup()
        site = web.TCPSite(self._runner, host, port)
        await site.start()
        bound_port = self._runner.addresses[0][1]
        self._base = f"http://{host}:{bound_port}"

    def add_routes(self, app: web.Application) -> None:
        """Serve ``/api/{method}`` and ``/response/{id}`` from ``app`` (not yet started)."""
        app.router.add_route("*", "/api/{method}", self._handle_api)
        app.router.add_post("/response/{response_id}", self._handle_response_url)
        app.router.add_post(UPLOAD_PATH, self._handle_upload)
        self.socket.add_routes(app)

    def mount(self, app: web.Application, base: str) -> None:
        """Serve from another server's ``app``, reachable at ``base`` (``http://host:port``).

        That server's owner starts and stops it; :meth:`close` releases hung calls.
        """
        self.add_routes(app)
        self._closing.clear()
        self._base = base.rstrip("/")

    def close(self) -> None:
        """Release calls hung by an injected timeout (the server itself is stopped elsewhere)."""
        self._closing.set()

    async def stop(self) -> None:
        """Stop listening; calls hung by an injected timeout are released first."""
        self._closing.set()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> FakeSlack:
        await self.start()
        return self

    async def __aexit__(self, *_exc: object) -> None:
        await self.stop()

    @property
    def url(self) -> str:
        """The Web API base URL, ending in ``/api/``."""
        if not self._base:
            raise RuntimeError("FakeSlack is not started")
        return f"{self._base}/api/"

    # -- test controls ------------------------------------------------------------------

    def calls_to(self, method: str) -> list[Call]:
        """The recorded calls of one method, oldest first."""
        return [call for call in self.calls if call.method == method]

    def inject_failure(
        self,
        method: str,
        *,
        status: FailureKind = 500,
        times: int = 1,
        retry_after: int = 1,
        channel: str | None = None,
        thread_ts: str | None = None,
    ) -> None:
        """Make the next ``times`` calls of ``method`` ("*" = any) fail.

        ``status``: an HTTP status (429 answers ``ratelimited`` with ``Retry-After:
        retry_after``), ``"timeout"`` (no answer until the client gives up), or a Slack error
        code answered as ``{"ok": false, "error": status}`` with HTTP 200. ``channel``: only
        calls with that ``channel`` argument fail; ``thread_ts``: only replies in that thread.
        """
        self._failures.append(_Failure(method, status, times, retry_after, channel, thread_ts))

    def reset(self) -> None:
        """Forget recorded calls, pending failures and rate-limit windows (not the workspace)."""
        self.calls.clear()
        self._failures.clear()
        self.limiter.reset()

    def subscribe(self) -> asyncio.Queue[Event]:
        """A queue that receives every workspace event (message posted, view opened, ...)."""
        queue: asyncio.Queue[Event] = asyncio.Queue()
        self._subscribers.append(queue)
        return queue

    def unsubscribe(self, queue: asyncio.Queue[Event]) -> None:
        """Stop feeding a queue returned by :meth:`subscribe`."""
        with contextlib.suppress(ValueError):
            self._subscribers.remove(queue)

    def new_response_url(
        self, *, channel_id: str = "", user_id: str = "", message_ts: str = ""
    ) -> str:
        """A ``response_url`` for a payload; answers to it are recorded as ``response_url``."""
        response_id = str(next(self._response_ids))
        self._response_targets[response_id] = ResponseTarget(channel_id, user_id, message_ts)
        return f"{self._base}/response/{response_id}"

    def _publish(self, event: Event) -> None:
        for queue in self._subscribers:
            queue.put_nowait(dict(event))

    # -- HTTP ---------------------------------------------------------------------------

    async def _handle_api(self, request: web.Request) -> web.StreamResponse:
        method = request.match_info["method"]
        args, token = await _read_args(request)
        bearer = request.headers.get("Authorization", "").startswith("Bearer ")
        if self.latency > 0:
            await asyncio.sleep(self.latency)
        failure = self._take_failure(
            method, get_str(args, "channel") or None, get_str(args, "thread_ts") or None
        )
        if failure is None and self.chaos is not None and method in self.reference:
            failure = self.chaos.roll(method)
        if failure is not None and failure.kind == "timeout":
            self._record(method, args, NO_ANSWER, {"ok": False, "error": "timeout"})
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._closing.wait(), self.hang_seconds)
            return web.json_response({"ok": False, "error": "timeout"}, status=504)
        answer = (
            _failure_answer(failure)
            if failure is not None
            else self._answer(method, args, token, bearer=bearer)
        )
        self._record(method, args, answer.status, answer.body)
        return web.json_response(answer.body, status=answer.status, headers=answer.headers)

    async def _handle_response_url(self, request: web.Request) -> web.StreamResponse:
        response_id = request.match_info["response_id"]
        body: Any = await request.json() if request.can_read_body else {}
        payload: Json = body if isinstance(body, dict) else {}
        target = self._response_targets.get(response_id, ResponseTarget())
        handle_response_url(self.workspace, target, payload)
        self._record("response_url", {"response_url_id": response_id, **payload}, 200, {"ok": True})
        return web.json_response({"ok": True})

    async def _handle_upload(self, request: web.Request) -> web.StreamResponse:
        """The upload URL files.getUploadURLExternal hands out: raw bytes or a multipart file.

        Recorded as ``upload_url``; ``inject_failure("upload_url", status=...)`` fails it.
        """
        ticket = request.match_info["ticket"]
        data = await _upload_body(request)
        failure = self._take_failure("upload_url", None)
        if failure is not None and isinstance(failure.kind, int):
            status, text = failure.kind, "upload failed"
        else:
            status, text = receive_upload(self.workspace, ticket, data)
        file = self.workspace.file_by_ticket(ticket)
        args: Args = {"file_id": file.id if file else "", "bytes": len(data)}
        self._record("upload_url", args, status, {"ok": status == 200, "text": text})
        return web.Response(status=status, text=text, content_type="text/plain")

    def _record(self, method: str, args: Args, status: int, response: Json) -> None:
        self.calls.append(Call(method, args, self.clock(), status, response))

    def _take_failure(
        self, method: str, channel: str | None, thread_ts: str | None = None
    ) -> _Failure | None:
        for failure in self._failures:
            if (
                failure.method in (method, "*")
                and failure.channel in (None, channel)
                and failure.thread_ts in (None, thread_ts)
            ):
                failure.remaining -= 1
                if failure.remaining <= 0:
                    self._failures.remove(failure)
                return failure
        return None

    def _answer(self, method: str, args: Args, token: str | None, *, bearer: bool) -> _Answer:
        ref = self.reference.get(method)
        if ref is None:
            return _Answer(200, {"ok": False, "error": "unknown_method", "req_method": method})
        if ref.needs_token:
            if not token:
                return _Answer(200, {"ok": False, "error": "not_authed"})
            refused = self._token_error(method, token, bearer=bearer)
            if refused is not None:
                return _Answer(200, {"ok": False, "error": refused})
        channel = get_str(args, "channel") or None
        retry_after = self.limiter.hit(method, ref.rate_tier, channel=channel)
        if retry_after is not None:
            return _Answer(
                429, {"ok": False, "error": "ratelimited"}, {"Retry-After": str(retry_after)}
            )
        handler = self._handlers.get(method)
        if handler is None:
            return _Answer(200, {"ok": False, "error": "not_implemented_in_fake"})
        try:
            missing = first_missing(ref, args)
            if missing is not None:
                raise missing_argument_error(ref, missing)
            body = handler(Ctx(self.workspace, args, ref, self._base))
        except SlackError as error:
            return _Answer(error.status, error.body())
        return _Answer(200, body)

    def _token_error(self, method: str, token: str, *, bearer: bool) -> str | None:
        if method in APP_LEVEL_METHODS:
            return self.socket.token_error(token, bearer=bearer, bot_tokens=self.valid_tokens)
        return None if token in self.valid_tokens else "invalid_auth"


def _failure_answer(failure: _Failure) -> _Answer:
    if isinstance(failure.kind, str):
        return _Answer(200, {"ok": False, "error": failure.kind})
    if failure.kind == 429:
        return _Answer(
            429, {"ok": False, "error": "ratelimited"}, {"Retry-After": str(failure.retry_after)}
        )
    return _Answer(failure.kind, {"ok": False, "error": "internal_error"})


async def _upload_body(request: web.Request) -> bytes:
    """The bytes POSTed to an upload URL: the body, or the first file of a multipart form."""
    if request.content_type.startswith("multipart/"):
        reader = await request.multipart()
        async for part in reader:
            if isinstance(part, BodyPartReader) and part.filename is not None:
                return bytes(await part.read())
        return b""
    return await request.read()


async def _read_args(request: web.Request) -> tuple[Args, str | None]:
    """Query string, then form or JSON body, merged; the token from header or ``token`` arg."""
    args: Args = dict(request.query)
    if request.can_read_body:
        if request.content_type == "application/json":
            try:
                body = await request.json()
            except ValueError:
                body = None
            if isinstance(body, dict):
                args.update(body)
        else:
            form = await request.post()
            for key, value in form.items():
                args[key] = value if isinstance(value, str) else getattr(value, "filename", "")
    token_arg = args.pop("token", None)
    token = token_arg if isinstance(token_arg, str) else None
    header = request.headers.get("Authorization", "")
    if header.startswith("Bearer "):
        token = header.removeprefix("Bearer ").strip()
    return decode_json_args(args), token
