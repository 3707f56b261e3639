"""The emulated Slack client: what a person does in the page (types a message or a slash
command, clicks a button, submits or closes a modal, opens the Home tab) becomes the
request Slack would send, signed with the sandbox's signing secret and posted to the
bot's ``/slack/events`` over HTTP, so Bolt verifies it exactly as it verifies Slack."""

from __future__ import annotations

import asyncio
import contextlib
import json
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import aiohttp

from epbot.adapters.slack.app import EVENTS_PATH
from epbot.fakeslack import Channel, Message, View, Workspace
from epbot.fakeslack.responses import ResponseTarget, handle_response_url
from epbot.fakeslack.signing import FORM, JSON, post_signed
from epbot.sandbox import payloads

if TYPE_CHECKING:
    from epbot.sandbox.server import Sandbox

Json = dict[str, Any]
# The slash commands the app's manifest (manifest.yaml) registers; Slack sends only these.
COMMANDS = ("/incident",)
REPORT_CALLBACK = "incident.report"
ROOM_WAIT = 10.0  # seconds the page waits for the bot to make the incident channel
# A sandbox note, not a bot text: in Slack the reporter finds the channel in the sidebar.
ROOM_LINK_ZH = "📣 已提交报告。事件频道：<#{room}>（点击进入）。"
ROOM_LINK_EN = "📣 Report submitted. The incident channel: <#{room}> (click to open)."


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


class EmulatedClient:
    """A person's Slack client in the sandbox: :meth:`open` it once the server runs."""

    def __init__(self, sandbox: Sandbox, secret: str) -> None:
        self.sandbox = sandbox
        self.workspace = sandbox.workspace
        self._secret = secret
        self._session: aiohttp.ClientSession | None = None

    async def open(self) -> None:
        self._session = aiohttp.ClientSession()

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def _send(self, body: str, content_type: str = FORM) -> BotAnswer:
        assert self._session is not None
        url = f"{self.sandbox.fake.url.removesuffix('/api/')}{EVENTS_PATH}"
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
        response_url = self.sandbox.fake.new_response_url(channel_id=channel.id, user_id=user_id)
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
            response_url = self.sandbox.fake.new_response_url(
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
        bot = self.sandbox.bot
        await bot.listeners.wait_idle(ROOM_WAIT)  # the service kicked delivery as it committed
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

    # -- what the person may see ----------------------------------------------------------

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
