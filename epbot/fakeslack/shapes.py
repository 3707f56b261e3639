"""Workspace objects rendered in the JSON shapes Slack's Web API documents."""

from __future__ import annotations

import mimetypes
from datetime import UTC, datetime
from pathlib import PurePosixPath
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from epbot.fakeslack.workspace import Channel, File, Message, User, View, Workspace

Json = dict[str, Any]


def _tz_fields(tz: str) -> Json:
    try:
        zone = ZoneInfo(tz)
    except (ZoneInfoNotFoundError, ValueError):
        zone = ZoneInfo("UTC")
    now = datetime.now(tz=UTC).astimezone(zone)
    offset = now.utcoffset()
    return {
        "tz": tz,
        "tz_label": now.tzname() or tz,
        "tz_offset": int(offset.total_seconds()) if offset is not None else 0,
    }


def user_json(ws: Workspace, user: User, *, include_locale: bool = False) -> Json:
    """A user object as users.info / users.list return it."""
    profile: Json = {
        "real_name": user.real_name,
        "real_name_normalized": user.real_name,
        "display_name": user.name,
        "display_name_normalized": user.name,
        "image_48": f"https://avatars.slack-edge.com/fake/{user.id}_48.png",
        "team": ws.team_id,
    }
    if user.email:
        profile["email"] = user.email
    if user.bot_id:
        profile["bot_id"] = user.bot_id
        profile["api_app_id"] = ws.app_id
    data: Json = {
        "id": user.id,
        "team_id": ws.team_id,
        "name": user.name,
        "deleted": user.deleted,
        "real_name": user.real_name,
        **_tz_fields(user.tz),
        "profile": profile,
        "is_admin": user.is_admin,
        "is_owner": False,
        "is_primary_owner": False,
        "is_restricted": False,
        "is_ultra_restricted": False,
        "is_bot": user.is_bot,
        "is_app_user": False,
        "updated": ws.now(),
    }
    if include_locale:
        data["locale"] = user.locale
    return data


def channel_json(ws: Workspace, channel: Channel, *, num_members: bool = False) -> Json:
    """A conversation object as conversations.info / create / list return it."""
    if channel.is_im:
        return {
            "id": channel.id,
            "created": channel.created,
            "is_im": True,
            "is_org_shared": False,
            "user": channel.im_user,
            "is_user_deleted": False,
            "priority": 0,
        }
    data: Json = {
        "id": channel.id,
        "name": channel.name,
        "is_channel": not channel.is_private,
        "is_group": channel.is_private and not channel.is_mpim,
        "is_im": False,
        "is_mpim": channel.is_mpim,
        "is_private": channel.is_private,
        "created": channel.created,
        "is_archived": channel.is_archived,
        "is_general": False,
        "unlinked": 0,
        "name_normalized": channel.name,
        "is_shared": False,
        "is_org_shared": False,
        "is_ext_shared": False,
        "is_pending_ext_shared": False,
        "pending_shared": [],
        "is_member": ws.bot.id in channel.members,
        "creator": channel.creator,
        "topic": {
            "value": channel.topic,
            "creator": channel.topic_creator,
            "last_set": channel.topic_last_set,
        },
        "purpose": {
            "value": channel.purpose,
            "creator": channel.purpose_creator,
            "last_set": channel.purpose_last_set,
        },
        "previous_names": [],
    }
    if num_members:
        data["num_members"] = len(channel.members)
    return data


def message_json(ws: Workspace, message: Message) -> Json:
    """A message object as chat.postMessage / conversations.history return it."""
    data: Json = {"type": "message", "ts": message.ts, "text": message.text, "user": message.user}
    if message.bot_id:
        data["bot_id"] = message.bot_id
        data["app_id"] = ws.app_id
        data["team"] = ws.team_id
        data["bot_profile"] = {
            "id": message.bot_id,
            "app_id": ws.app_id,
            "name": ws.bot.name,
            "deleted": False,
            "team_id": ws.team_id,
        }
    if message.blocks is not None:
        data["blocks"] = message.blocks
    if message.attachments is not None:
        data["attachments"] = message.attachments
    if message.metadata is not None:
        data["metadata"] = message.metadata
    if message.edited is not None:
        data["edited"] = dict(message.edited)
    if message.files:
        data["files"] = [file_json(ws, ws.files[f]) for f in message.files if f in ws.files]
        data["upload"] = True
        data["display_as_bot"] = False
    if message.reactions:
        data["reactions"] = [
            {"name": name, "users": list(users), "count": len(users)}
            for name, users in message.reactions.items()
        ]
    if message.is_reply:
        data["thread_ts"] = message.thread_ts
        data["parent_user_id"] = _parent_user(ws, message)
        if message.reply_broadcast:
            data["subtype"] = "thread_broadcast"
    else:
        data.update(_thread_summary(ws, message))
    return data


def _parent_user(ws: Workspace, reply: Message) -> str:
    parent = ws.find_message(reply.channel, reply.thread_ts or "")
    return parent.user if parent is not None else ""


def _thread_summary(ws: Workspace, parent: Message) -> Json:
    replies = ws.replies(parent.channel, parent.ts)
    if not replies:
        return {}
    users = list(dict.fromkeys(r.user for r in replies))
    return {
        "thread_ts": parent.ts,
        "reply_count": len(replies),
        "reply_users": users[:5],
        "reply_users_count": len(users),
        "latest_reply": replies[-1].ts,
    }


def view_json(ws: Workspace, view: View) -> Json:
    """A view object as views.open / update / push / publish return it."""
    payload = view.payload
    data: Json = {
        "id": view.id,
        "team_id": ws.team_id,
        "type": view.type,
        "blocks": payload.get("blocks", []),
        "private_metadata": payload.get("private_metadata", ""),
        "callback_id": payload.get("callback_id", ""),
        "state": {"values": {}},
        "hash": view.hash,
        "title": payload.get("title"),
        "clear_on_close": bool(payload.get("clear_on_close", False)),
        "notify_on_close": bool(payload.get("notify_on_close", False)),
        "close": payload.get("close"),
        "submit": payload.get("submit"),
        "previous_view_id": view.previous_view_id,
        "root_view_id": view.root_view_id,
        "app_id": ws.app_id,
        "external_id": view.external_id,
        "app_installed_team_id": ws.team_id,
        "bot_id": ws.bot_id,
    }
    return data


def file_json(ws: Workspace, file: File) -> Json:
    """A file object as files.completeUploadExternal and message ``files`` carry it."""
    suffix = PurePosixPath(file.name).suffix.lstrip(".").lower()
    mimetype = mimetypes.guess_type(file.name)[0] or "application/octet-stream"
    private = f"https://files.slack.com/files-pri/{ws.team_id}-{file.id}/{file.name}"
    public = [c for c in file.channels if not ws.channels[c].is_private]
    private_channels = [c for c in file.channels if ws.channels[c].is_private]
    return {
        "id": file.id,
        "created": file.created,
        "timestamp": file.created,
        "name": file.name,
        "title": file.title or file.name,
        "mimetype": mimetype,
        "filetype": file.snippet_type or suffix or "binary",
        "pretty_type": (suffix or "binary").upper(),
        "user": file.user,
        "user_team": ws.team_id,
        "editable": bool(file.snippet_type),
        "size": len(file.content) if file.content is not None else file.length,
        "mode": "snippet" if file.snippet_type else "hosted",
        "is_external": False,
        "external_type": "",
        "is_public": bool(public),
        "public_url_shared": False,
        "display_as_bot": False,
        "username": "",
        "url_private": private,
        "url_private_download": private.replace("/files-pri/", "/files-pri/download/", 1),
        "permalink": f"{ws.url}files/{file.user}/{file.id}/{file.name}",
        "channels": [c for c in public if not ws.channels[c].is_im],
        "groups": [c for c in private_channels if not ws.channels[c].is_im],
        "ims": [c for c in file.channels if ws.channels[c].is_im],
        "shares": _shares(ws, file),
        "alt_txt": file.alt_txt or None,
        "comments_count": 0,
        "has_rich_preview": False,
        "file_access": "visible",
    }


def _shares(ws: Workspace, file: File) -> Json:
    shares: dict[str, Json] = {}
    for channel_id, stamps in file.shares.items():
        kind = "private" if ws.channels[channel_id].is_private else "public"
        shares.setdefault(kind, {})[channel_id] = [
            {"ts": ts, "channel_name": ws.channels[channel_id].name, "team_id": ws.team_id}
            for ts in stamps
        ]
    return shares
