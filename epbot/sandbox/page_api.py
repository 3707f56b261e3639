"""The page and its API under ``/sandbox/``: the page itself, its configuration, a person's
view of the workspace (JSON), workspace changes as server-sent events, and the JSON posts
through which the page acts (as a person, or on the sandbox's clock and language)."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

import aiohttp
from aiohttp import web

from epbot.sandbox.client import COMMANDS, BadRequest
from epbot.sandbox.seed import GENERAL, default_person
from epbot.sandbox.snapshot import ReadMarks, latest_ts, pending_people, people_json, snapshot

if TYPE_CHECKING:
    from epbot.sandbox.server import Sandbox

Json = dict[str, Any]
STATIC_DIR = Path(__file__).parent / "static"
_STOP: Json = {"type": "_stop"}
_NO_CACHE = {"Cache-Control": "no-store"}
_EVENT_FIELDS = ("type", "channel", "ts", "user", "view_id")


class PageApi:
    """The page's HTTP routes; :meth:`mount` them on the server's application."""

    def __init__(self, sandbox: Sandbox) -> None:
        self.sandbox = sandbox
        self.workspace = sandbox.workspace
        self._streams: list[asyncio.Queue[Json]] = []
        self.read: ReadMarks = {}  # user -> channel -> newest ts that person has seen

    def mount(self, app: web.Application) -> None:
        app.router.add_get("/", self._index)
        app.router.add_static("/static/", STATIC_DIR, append_version=False)
        app.router.add_get("/sandbox/config", self._config)
        app.router.add_get("/sandbox/state", self._state)
        app.router.add_get("/sandbox/events", self._events)
        app.router.add_post("/sandbox/{verb}", self._post)
        app.on_shutdown.append(self._end_streams)

    async def _end_streams(self, _app: web.Application) -> None:
        for queue in list(self._streams):
            queue.put_nowait(_STOP)

    async def _index(self, _request: web.Request) -> web.StreamResponse:
        return web.FileResponse(STATIC_DIR / "index.html", headers=_NO_CACHE)

    async def _config(self, _request: web.Request) -> web.Response:
        sandbox = self.sandbox
        settings = sandbox.settings
        matrix = sandbox.bot.library.matrix
        general = self.workspace.channel_by_name(GENERAL)
        return web.json_response(
            {
                "people": people_json(sandbox.people, matrix),
                "locale": settings.locale,
                "timezone": settings.timezone,
                "announce": settings.incidents_channel,
                "commands": list(COMMANDS),
                "default_user": default_person(sandbox.people, matrix),
                "general": general.id if general is not None else None,
                "clock": sandbox.clock_json(),
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
        data["clock"] = self.sandbox.clock_json()
        data["pending"] = pending_people(self.workspace, [p.user_id for p in self.sandbox.people])
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
        queue = self.sandbox.fake.subscribe()
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
            self.sandbox.fake.unsubscribe(queue)
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
        client = self.sandbox.client
        user = _str(body, "user")
        if verb == "command":
            return await client.command(
                user_id=user,
                channel_id=_str(body, "channel"),
                text=_str(body, "text"),
                thread_ts=_str(body, "thread_ts") or None,
            )
        if verb == "action":
            return await client.action(
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
            return await client.submit(
                user_id=user, view_id=_str(body, "view_id"), values=_dict(body, "values")
            )
        if verb == "close":
            return client.close_view(user_id=user, view_id=_str(body, "view_id"))
        if verb == "home":
            return await client.open_home(user_id=user)
        if verb == "clock":
            return await self.sandbox.fast_forward(_int(body, "minutes"))
        if verb == "locale":
            return self.sandbox.set_language(_str(body, "locale"))
        raise BadRequest(f"unknown request {verb!r}")


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
