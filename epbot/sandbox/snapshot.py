"""What one person sees in the sandbox page, as JSON: channels, messages, modal, Home tab."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from epbot.domain.matrix import Matrix
from epbot.fakeslack import Channel, Ephemeral, Message, View, Workspace
from epbot.sandbox.seed import Person

Json = dict[str, Any]
ReadMarks = dict[str, dict[str, str]]  # user -> channel -> newest ts read
# Buttons that wait for this person: a page to acknowledge, an approval to decide.
PENDING_ACTIONS = {"incident.ack": "page", "approval.approve": "approval"}


def _kind(channel: Channel) -> str:
    if channel.is_im:
        return "im"
    return "mpim" if channel.is_mpim else "channel"


def _visible(channel: Channel, user_id: str) -> bool:
    """Public channels for everyone; DMs, group DMs and private channels for members."""
    if channel.is_im:
        return channel.im_user == user_id
    return not channel.is_private or user_id in channel.members


def _latest(ws: Workspace, channel: Channel) -> str:
    messages = ws.history(channel.id)
    return max((m.ts for m in messages), default="")


def _seen_by(ws: Workspace, channel: Channel, user_id: str) -> list[str]:
    """The ts of what ``user_id`` sees in the channel's main view (not thread replies)."""
    found = [m.ts for m in ws.history(channel.id) if not m.is_reply or m.reply_broadcast]
    found += [e.ts for e in ws.ephemerals if e.channel == channel.id and e.user == user_id]
    return found


def latest_ts(ws: Workspace, channel: Channel, user_id: str) -> str:
    """The newest thing ``user_id`` can see in the channel ("" when empty)."""
    return max(_seen_by(ws, channel, user_id), key=float, default="")


def _unread(ws: Workspace, channel: Channel, user_id: str, read: dict[str, str]) -> int:
    """How many messages by others arrived since the person last looked at the channel."""
    mark = float(read.get(channel.id) or 0)
    others = [m for m in ws.history(channel.id) if m.user != user_id]
    count = sum(1 for m in others if (not m.is_reply or m.reply_broadcast) and float(m.ts) > mark)
    count += sum(
        1
        for e in ws.ephemerals
        if e.channel == channel.id and e.user == user_id and float(e.ts) > mark
    )
    return count


def _channel_json(
    ws: Workspace, channel: Channel, user_id: str, read: dict[str, str] | None = None
) -> Json:
    return {
        "id": channel.id,
        "name": channel.name,
        "kind": _kind(channel),
        "is_private": channel.is_private,
        "is_archived": channel.is_archived,
        "is_member": user_id in channel.members,
        "latest_ts": _latest(ws, channel),
        "unread": _unread(ws, channel, user_id, read or {})
        if user_id in channel.members or channel.is_im
        else 0,
    }


def pending_people(ws: Workspace, user_ids: Sequence[str]) -> dict[str, list[str]]:
    """Who has a page or an approval waiting: its buttons are still in their DM with the app."""
    out: dict[str, list[str]] = {}
    for user_id in user_ids:
        dm_id = ws.ims.get(user_id)
        if dm_id is None:
            continue
        kinds: list[str] = []
        for message in ws.history(dm_id):
            for action in _action_ids(message.blocks or []):
                kind = PENDING_ACTIONS.get(action)
                if kind is not None and kind not in kinds:
                    kinds.append(kind)
        if kinds:
            out[user_id] = kinds
    return out


def _action_ids(blocks: list[Any]) -> list[str]:
    found = []
    for block in blocks:
        if not isinstance(block, dict):
            continue
        elements = list(block.get("elements") or [])
        if isinstance(block.get("accessory"), dict):
            elements.append(block["accessory"])
        found += [str(e.get("action_id")) for e in elements if isinstance(e, dict)]
    return found


def _message(ws: Workspace, message: Message, pinned: set[str]) -> Json:
    data: Json = {
        "ts": message.ts,
        "user": message.user,
        "is_bot": message.bot_id is not None,
        "text": message.text,
        "blocks": message.blocks,
        "edited": message.edited is not None,
        "pinned": message.ts in pinned,
        "thread_ts": message.thread_ts,
        "reply_broadcast": message.reply_broadcast,
        "reactions": [{"name": n, "count": len(u)} for n, u in message.reactions.items()],
    }
    if not message.is_reply:
        replies = ws.replies(message.channel, message.ts)
        data["reply_count"] = len(replies)
        data["latest_reply"] = replies[-1].ts if replies else None
    return data


def _ephemeral(ephemeral: Ephemeral) -> Json:
    return {
        "ts": ephemeral.ts,
        "user": "",
        "is_bot": True,
        "ephemeral": True,
        "text": ephemeral.text,
        "blocks": ephemeral.blocks,
        "thread_ts": ephemeral.thread_ts,
        "reactions": [],
    }


def _view(view: View | None) -> Json | None:
    if view is None:
        return None
    return {"id": view.id, "hash": view.hash, "type": view.type, "view": view.payload}


def open_modal(ws: Workspace, user_id: str) -> View | None:
    """The top of the person's modal stack (the most recently opened view not closed)."""
    stack = [v for v in ws.views.values() if v.user_id == user_id and v.type != "home"]
    open_views = [v for v in stack if not v.closed]
    return open_views[-1] if open_views else None


def _channel_detail(
    ws: Workspace, channel: Channel, user_id: str, thread: str | None, read: dict[str, str]
) -> Json:
    pins = [p for p in ws.pins if p.channel == channel.id]
    pinned = {p.ts for p in pins}
    history = ws.history(channel.id)
    messages = [_message(ws, m, pinned) for m in history if not m.is_reply or m.reply_broadcast]
    mine = [e for e in ws.ephemerals if e.channel == channel.id and e.user == user_id]
    messages += [_ephemeral(e) for e in mine if not e.thread_ts]
    messages.sort(key=lambda m: float(m["ts"]))
    detail: Json = {
        **_channel_json(ws, channel, user_id, read),
        "topic": channel.topic,
        "purpose": channel.purpose,
        "members": len(channel.members),
        "im_user": channel.im_user,
        "messages": messages,
        "pins": [
            _message(ws, m, pinned)
            for p in reversed(pins)
            if (m := ws.find_message(channel.id, p.ts)) is not None
        ],
        "thread": None,
    }
    parent = ws.find_message(channel.id, thread) if thread else None
    if parent is not None:
        replies = [_message(ws, m, pinned) for m in ws.replies(channel.id, parent.ts)]
        replies += [_ephemeral(e) for e in mine if e.thread_ts == parent.ts]
        replies.sort(key=lambda m: float(m["ts"]))
        detail["thread"] = {"parent": _message(ws, parent, pinned), "replies": replies}
    return detail


def people_json(people: Sequence[Person], matrix: Matrix) -> list[Json]:
    """The person switcher: name, user id and role names in both languages."""
    out = []
    for person in people:
        roles = [matrix.role(r).name for r in person.roles]
        out.append(
            {
                "id": person.user_id,
                "ref": person.ref,
                "name": person.name,
                "roles": [{"zh-CN": r.zh_CN, "en": r.en} for r in roles],
            }
        )
    return out


def snapshot(
    ws: Workspace,
    *,
    user_id: str,
    channel_id: str | None,
    thread: str | None,
    read: dict[str, str] | None = None,
) -> Json:
    """Everything the page shows for ``user_id`` with ``channel_id`` open."""
    read = read or {}
    channels = [c for c in ws.channels.values() if _visible(c, user_id)]
    channels.sort(key=lambda c: (_kind(c) != "channel", c.name))
    chosen = ws.channels.get(channel_id or "")
    detail = (
        _channel_detail(ws, chosen, user_id, thread, read)
        if chosen is not None and _visible(chosen, user_id)
        else None
    )
    home = ws.views.get(ws.home_views.get(user_id, ""))
    return {
        "me": user_id,
        "bot": ws.bot.id,
        "app_dm": ws.ims.get(user_id),
        "users": {
            u.id: {"name": u.name, "real_name": u.real_name, "is_bot": u.is_bot}
            for u in ws.users.values()
        },
        "channels": [_channel_json(ws, c, user_id, read) for c in channels],
        "channel": detail,
        "modal": _view(open_modal(ws, user_id)),
        "home": _view(home),
    }
