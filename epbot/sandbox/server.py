"""``epbot sandbox``: the real bot, an emulated Slack workspace and a Slack-like web page.

One aiohttp server hosts (a) the fake Web API the bot calls (``/api/{method}``), (b) the
bot's own ``/slack/events``, and (c) the page plus a small JSON/SSE API under
``/sandbox/``. What a person does in the page becomes the request Slack would send, signed
with the sandbox's signing secret and posted to ``/slack/events`` over HTTP, so Bolt
verifies it exactly as it verifies Slack. Workspace changes stream to the page as
server-sent events.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import secrets
import socket
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any, TextIO

import aiohttp
from aiohttp import web
from pydantic import SecretStr

from epbot.adapters.clock import OffsetClock
from epbot.adapters.slack.app import EVENTS_PATH
from epbot.config import Settings
from epbot.fakeslack import Channel, FakeSlack, Message, View, Workspace
from epbot.fakeslack.responses import ResponseTarget, handle_response_url
from epbot.fakeslack.signing import FORM, JSON, post_signed
from epbot.sandbox import payloads
from epbot.sandbox.seed import GENERAL, Person, default_person, seed, slack_locale
from epbot.sandbox.snapshot import ReadMarks, latest_ts, pending_people, people_json, snapshot
from epbot.wiring import Bot, build

Json = dict[str, Any]
STATIC_DIR = Path(__file__).parent / "static"
SANDBOX_DATABASE_URL = "sqlite+aiosqlite:///./epbot-sandbox.db"
DEFAULT_ANNOUNCE = "ep-incidents"
# The slash commands the app's manifest (manifest.yaml) registers; Slack sends only these.
COMMANDS = ("/incident",)
MAX_FAST_FORWARD = 7 * 24 * 60  # minutes
REPORT_CALLBACK = "incident.report"
LANGUAGES = ("zh-CN", "en")
ROOM_WAIT = 10.0  # seconds the page waits for the bot to make the incident channel
# A sandbox note, not a bot text: in Slack the reporter finds the channel in the sidebar.
ROOM_LINK_ZH = "📣 已提交报告。事件频道：<#{room}>（点击进入）。"
ROOM_LINK_EN = "📣 Report submitted. The incident channel: <#{room}> (click to open)."
_STOP: Json = {"type": "_stop"}


class BadRequest(Exception):
    """A sandbox API call the page should not have made."""


@dataclass(frozen=True)
class BotAnswer:
    status: int
    body: str

    def json(self) -> Json:
        """The answer as Slack reads it: a JSON object, or a plain-text body as ``text``."""
        if not self.body.strip():
            return {}
        try:
            data = json.loads(self.body)
        except ValueError:
            data = None
        return data if isinstance(data, dict) else {"text": self.body}


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
        self._session: aiohttp.ClientSession | None = None
        self._streams: list[asyncio.Queue[Json]] = []
        self.read: ReadMarks = {}  # user -> channel -> newest ts that person has seen
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
        self._add_routes(app)
        app.on_shutdown.append(self._end_streams)
        self._session = aiohttp.ClientSession()
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
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def __aenter__(self) -> Sandbox:
        await self.start()
        return self

    async def __aexit__(self, *_exc: object) -> None:
        await self.stop()

    async def _end_streams(self, _app: web.Application) -> None:
        for queue in list(self._streams):
            queue.put_nowait(_STOP)

    # -- talking to the bot like Slack does --------------------------------------------

    async def _send(self, body: str, content_type: str = FORM) -> BotAnswer:
        assert self._session is not None
        url = f"{self.fake.url.removesuffix('/api/')}{EVENTS_PATH}"
        response = await post_signed(self._session, url, body, content_type, self._secret)
        async with response:
            return BotAnswer(response.status, await response.text())

    async def command(
        self, *, user_id: str, channel_id: str, text: str, thread_ts: str | None = None
    ) -> Json:
        """Someone typed ``text`` in a channel: a slash command to the bot, or a message."""
        ws = self.workspace
        self._check_user(user_id)
        channel = self._channel(channel_id, user_id)
        text = text.strip()
        if not text:
            raise BadRequest("empty message")
        if not text.startswith("/"):
            if user_id not in channel.members:
                channel.members.append(user_id)  # posting joins a public channel
            ws.add_message(
                _user_message(
                    ws, channel_id=channel.id, user_id=user_id, text=text, thread=thread_ts
                )
            )
            return {"ok": True}
        command, _, rest = text.partition(" ")
        if command not in COMMANDS:
            return {"ok": False, "error": "unknown_command", "command": command}
        response_url = self.fake.new_response_url(channel_id=channel.id, user_id=user_id)
        body = payloads.command_body(
            ws,
            command=command,
            text=rest.strip(),
            user_id=user_id,
            channel_id=channel.id,
            trigger_id=ws.issue_trigger(user_id),
            response_url=response_url,
        )
        answer = await self._send(body)
        if answer.status != 200:
            return {"ok": False, "error": "dispatch_failed", "status": answer.status}
        reply = answer.json()
        if reply.get("text") or reply.get("blocks"):
            # Slack shows an immediate command answer like a response_url answer.
            handle_response_url(ws, ResponseTarget(channel.id, user_id), reply)
        return {"ok": True}

    async def action(
        self,
        *,
        user_id: str,
        block_index: int,
        action_id: str,
        chosen: Json,
        channel_id: str | None = None,
        message_ts: str | None = None,
        view_id: str | None = None,
        values: Json | None = None,
    ) -> Json:
        """Someone clicked a button or picked a value in a message or a view."""
        ws = self.workspace
        self._check_user(user_id)
        trigger = ws.issue_trigger(user_id)
        if view_id is not None:
            view = self._view(view_id, user_id)
            blocks = view.payload.get("blocks") or []
            element, block_id = _find_element(blocks, block_index, action_id)
            action = payloads.action_element(element, chosen, block_id)
            body = payloads.view_action_body(
                ws,
                user_id=user_id,
                view=view,
                values=values or {},
                action=action,
                trigger_id=trigger,
            )
        else:
            channel = self._channel(channel_id or "", user_id)
            message, ephemeral, blocks = self._message(channel.id, message_ts or "", user_id)
            element, block_id = _find_element(blocks, block_index, action_id)
            action = payloads.action_element(element, chosen, block_id)
            response_url = self.fake.new_response_url(
                channel_id=channel.id,
                user_id=user_id,
                message_ts="" if ephemeral else message["ts"],
            )
            body = payloads.message_action_body(
                ws,
                user_id=user_id,
                channel_id=channel.id,
                message=message,
                is_ephemeral=ephemeral,
                action=action,
                trigger_id=trigger,
                response_url=response_url,
            )
        answer = await self._send(body)
        if answer.status != 200:
            return {"ok": False, "error": "dispatch_failed", "status": answer.status}
        return {"ok": True}

    async def submit(self, *, user_id: str, view_id: str, values: Json) -> Json:
        """Someone pressed a modal's submit button."""
        ws = self.workspace
        self._check_user(user_id)
        view = self._view(view_id, user_id)
        body = payloads.view_submission_body(
            ws, user_id=user_id, view=view, values=values, trigger_id=ws.issue_trigger(user_id)
        )
        answer = await self._send(body)
        if answer.status != 200:
            return {"ok": False, "error": "dispatch_failed", "status": answer.status}
        reply = answer.json()
        kind = reply.get("response_action")
        if kind == "errors":
            errors = reply.get("errors")
            return {"ok": False, "errors": errors if isinstance(errors, dict) else {}}
        if kind == "update" and isinstance(reply.get("view"), dict):
            view.payload = reply["view"]
            ws.emit("view_updated", view_id=view.id, user=user_id)
        elif kind == "push" and isinstance(reply.get("view"), dict):
            pushed = View(
                id=ws.new_id("V"),
                type="modal",
                user_id=user_id,
                payload=reply["view"],
                hash=f"{ws.now()}.{ws.new_id('h').lower()}",
                root_view_id=view.root_view_id,
                previous_view_id=view.id,
            )
            ws.views[pushed.id] = pushed
            ws.emit("view_pushed", view_id=pushed.id, user=user_id)
        elif kind == "clear":
            self._close(view, whole_stack=True)
        else:
            self._close(view)
            if view.payload.get("callback_id") == REPORT_CALLBACK:
                room = await self._point_to_new_room(view, user_id, before=set(ws.channels))
                return {"ok": True, "channel": room}
        return {"ok": True}

    async def _point_to_new_room(self, view: View, user_id: str, *, before: set[str]) -> str | None:
        """After a report: once the bot has made the incident channel, tell the reporter
        privately where it is, in the channel the report was started from."""
        bot = self.bot
        await bot.listeners.wait_idle(ROOM_WAIT)
        bot.delivery.kick()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(bot.delivery.wait_idle(), ROOM_WAIT)
        ws = self.workspace
        rooms = [
            c
            for c in ws.channels.values()
            if c.id not in before and not c.is_im and not c.is_mpim and user_id in c.members
        ]
        if not rooms:
            return None
        room = rooms[-1]
        try:
            origin = str(json.loads(view.payload.get("private_metadata") or "{}").get("channel"))
        except ValueError:
            origin = ""
        if origin not in ws.channels:
            origin = ws.open_im(user_id).id
        lang = ws.users[user_id].locale
        text = (ROOM_LINK_ZH if lang.startswith("zh") else ROOM_LINK_EN).format(room=room.id)
        handle_response_url(ws, ResponseTarget(origin, user_id), {"text": text})
        return room.id

    def close_view(self, *, user_id: str, view_id: str) -> Json:
        """Someone pressed a modal's close button (the app did not ask to be told)."""
        self._check_user(user_id)
        self._close(self._view(view_id, user_id))
        return {"ok": True}

    async def open_home(self, *, user_id: str) -> Json:
        """Someone opened the app's Home tab."""
        ws = self.workspace
        self._check_user(user_id)
        dm = ws.open_im(user_id)
        home = ws.views.get(ws.home_views.get(user_id, ""))
        body = payloads.home_opened_body(ws, user_id=user_id, channel_id=dm.id, view=home)
        answer = await self._send(body, JSON)
        return {"ok": answer.status == 200}

    async def fast_forward(self, minutes: int) -> Json:
        """Move the engine's clock, then fire (and deliver) what became due."""
        if not 0 < minutes <= MAX_FAST_FORWARD:
            raise BadRequest(f"minutes must be between 1 and {MAX_FAST_FORWARD}")
        bot = self.bot
        self.clock.advance(timedelta(minutes=minutes))
        fired = await bot.service.tick()
        bot.delivery.kick()
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

    # -- helpers ------------------------------------------------------------------------

    def _check_user(self, user_id: str) -> None:
        user = self.workspace.users.get(user_id)
        if user is None or user.is_bot:
            raise BadRequest("unknown user")

    def _channel(self, channel_id: str, user_id: str) -> Channel:
        channel = self.workspace.channels.get(channel_id)
        if channel is None or (channel.is_im and channel.im_user != user_id):
            raise BadRequest("unknown channel")
        if channel.is_private and not channel.is_im and user_id not in channel.members:
            raise BadRequest("unknown channel")
        return channel

    def _view(self, view_id: str, user_id: str) -> View:
        view = self.workspace.views.get(view_id)
        if view is None or view.user_id != user_id or view.closed:
            raise BadRequest("unknown view")
        return view

    def _message(self, channel_id: str, ts: str, user_id: str) -> tuple[Json, bool, list[Any]]:
        ws = self.workspace
        found = payloads.message_for_payload(ws, channel_id, ts)
        if found is not None:
            return found, False, list(found.get("blocks") or [])
        for eph in ws.ephemerals:
            if eph.channel == channel_id and eph.ts == ts and eph.user == user_id:
                return {"type": "message", "ts": eph.ts, "text": eph.text}, True, eph.blocks or []
        raise BadRequest("unknown message")

    def _close(self, view: View, *, whole_stack: bool = False) -> None:
        ws = self.workspace
        targets = [view]
        if whole_stack:
            targets = [v for v in ws.views.values() if v.root_view_id == view.root_view_id]
        for target in targets:
            target.closed = True
        ws.emit("view_closed", view_id=view.id, user=view.user_id)

    # -- HTTP ---------------------------------------------------------------------------

    def _add_routes(self, app: web.Application) -> None:
        app.router.add_get("/", self._index)
        app.router.add_static("/static/", STATIC_DIR, append_version=False)
        app.router.add_get("/sandbox/config", self._config)
        app.router.add_get("/sandbox/state", self._state)
        app.router.add_get("/sandbox/events", self._events)
        app.router.add_post("/sandbox/{verb}", self._post)

    async def _index(self, _request: web.Request) -> web.StreamResponse:
        return web.FileResponse(STATIC_DIR / "index.html", headers=_NO_CACHE)

    async def _config(self, _request: web.Request) -> web.Response:
        settings = self.settings
        matrix = self.bot.library.matrix
        general = self.workspace.channel_by_name(GENERAL)
        return web.json_response(
            {
                "people": people_json(self.people, matrix),
                "locale": settings.locale,
                "timezone": settings.timezone,
                "announce": settings.incidents_channel,
                "commands": list(COMMANDS),
                "default_user": default_person(self.people, matrix),
                "general": general.id if general is not None else None,
                "clock": self.clock_json(),
            },
            headers=_NO_CACHE,
        )

    async def _state(self, request: web.Request) -> web.Response:
        query = request.query
        user_id = query.get("user", "")
        if user_id not in self.workspace.users:
            raise web.HTTPBadRequest(text="unknown user")
        channel = query.get("channel") or None
        if channel == "app":  # the app's Messages tab: the person's DM with the bot
            channel = self.workspace.open_im(user_id).id
        if channel in self.workspace.channels:  # looking at a channel reads it
            marks = self.read.setdefault(user_id, {})
            marks[channel] = latest_ts(self.workspace, self.workspace.channels[channel], user_id)
        data = snapshot(
            self.workspace,
            user_id=user_id,
            channel_id=channel,
            thread=query.get("thread") or None,
            read=self.read.get(user_id, {}),
        )
        data["clock"] = self.clock_json()
        data["pending"] = pending_people(self.workspace, [p.user_id for p in self.people])
        return web.json_response(data, headers=_NO_CACHE)

    async def _events(self, request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse(
            headers={
                "Content-Type": "text/event-stream",
                "Cache-Control": "no-cache",
                "X-Accel-Buffering": "no",
            }
        )
        await response.prepare(request)
        queue = self.fake.subscribe()
        self._streams.append(queue)
        try:
            await response.write(b"retry: 1000\n\n")
            while True:
                try:
                    event = await asyncio.wait_for(queue.get(), 15)
                except TimeoutError:
                    await response.write(b": keep-alive\n\n")
                    continue
                if event is _STOP or event.get("type") == "_stop":
                    break
                data = json.dumps(_public_event(event), ensure_ascii=False)
                await response.write(f"event: change\ndata: {data}\n\n".encode())
        except (ConnectionResetError, aiohttp.ClientConnectionResetError):
            pass
        finally:
            self.fake.unsubscribe(queue)
            self._streams.remove(queue)
        return response

    async def _post(self, request: web.Request) -> web.Response:
        # JSON only: a cross-site form cannot post here without a CORS preflight we never allow.
        if request.content_type != "application/json":
            raise web.HTTPUnsupportedMediaType(text="send application/json")
        try:
            body = await request.json()
        except ValueError:
            raise web.HTTPBadRequest(text="invalid JSON") from None
        if not isinstance(body, dict):
            raise web.HTTPBadRequest(text="expected a JSON object")
        verb = request.match_info["verb"]
        try:
            result = await self._dispatch(verb, body)
        except BadRequest as exc:
            return web.json_response({"ok": False, "error": str(exc)}, status=400)
        return web.json_response(result)

    async def _dispatch(self, verb: str, body: Json) -> Json:
        user = _str(body, "user")
        if verb == "command":
            return await self.command(
                user_id=user,
                channel_id=_str(body, "channel"),
                text=_str(body, "text"),
                thread_ts=_str(body, "thread_ts") or None,
            )
        if verb == "action":
            return await self.action(
                user_id=user,
                block_index=_int(body, "block_index"),
                action_id=_str(body, "action_id"),
                chosen=_dict(body, "chosen"),
                channel_id=_str(body, "channel") or None,
                message_ts=_str(body, "message_ts") or None,
                view_id=_str(body, "view_id") or None,
                values=_dict(body, "values"),
            )
        if verb == "submit":
            return await self.submit(
                user_id=user, view_id=_str(body, "view_id"), values=_dict(body, "values")
            )
        if verb == "close":
            return self.close_view(user_id=user, view_id=_str(body, "view_id"))
        if verb == "home":
            return await self.open_home(user_id=user)
        if verb == "clock":
            return await self.fast_forward(_int(body, "minutes"))
        if verb == "locale":
            return self.set_language(_str(body, "locale"))
        raise BadRequest(f"unknown request {verb!r}")


_NO_CACHE = {"Cache-Control": "no-store"}
_EVENT_FIELDS = ("type", "channel", "ts", "user", "view_id")


def _public_event(event: Json) -> Json:
    """What the page needs to know to refresh: the kind and where (not the content)."""
    return {k: event[k] for k in _EVENT_FIELDS if k in event}


def _str(body: Json, key: str) -> str:
    value = body.get(key)
    if value is None:
        return ""
    if not isinstance(value, str):
        raise BadRequest(f"{key} must be a string")
    return value


def _int(body: Json, key: str) -> int:
    value = body.get(key)
    if not isinstance(value, int) or isinstance(value, bool):
        raise BadRequest(f"{key} must be a whole number")
    return value


def _dict(body: Json, key: str) -> Json:
    value = body.get(key)
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise BadRequest(f"{key} must be an object")
    return value


def _find_element(blocks: list[Any], index: int, action_id: str) -> tuple[Json, str]:
    """The element ``action_id`` in the ``index``-th block, and that block's id.

    Slack gives blocks sent without a ``block_id`` a generated one; the sandbox names
    them by position.
    """
    block = blocks[index] if 0 <= index < len(blocks) else None
    if isinstance(block, dict):
        candidates = list(block.get("elements") or [])
        for key in ("accessory", "element"):
            if isinstance(block.get(key), dict):
                candidates.append(block[key])
        for element in candidates:
            if isinstance(element, dict) and element.get("action_id") == action_id:
                return element, str(block.get("block_id") or f"sandbox-{index}")
    raise BadRequest("no such element")


def _user_message(
    ws: Workspace, *, channel_id: str, user_id: str, text: str, thread: str | None
) -> Message:
    if thread is not None and ws.find_message(channel_id, thread) is None:
        raise BadRequest("unknown thread")
    return Message(channel=channel_id, ts=ws.next_ts(), text=text, user=user_id, thread_ts=thread)


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
