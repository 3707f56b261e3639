"""conversations.* methods."""

from __future__ import annotations

import string
from typing import Any

from epbot.fakeslack.args import SlackError, get_bool, get_list, get_str
from epbot.fakeslack.handlers.common import Ctx, Handler, Json, ok, paginate, resolve_channel
from epbot.fakeslack.shapes import channel_json, message_json
from epbot.fakeslack.workspace import Channel, Message

MAX_NAME = 80
MAX_TOPIC = 250
_NAME_SEPARATORS = frozenset("-_")
_FORBIDDEN = frozenset(string.punctuation) - _NAME_SEPARATORS
_TYPES = frozenset({"public_channel", "private_channel", "mpim", "im"})


def name_error(name: str) -> str | None:
    """Slack's channel-name rules: lower case, no spaces or punctuation but - and _, <= 80."""
    if not name:
        return "invalid_name_required"
    if len(name) > MAX_NAME:
        return "invalid_name_maxlength"
    if any(c.isspace() or c in _FORBIDDEN or c != c.lower() for c in name):
        return "invalid_name_specials"
    if all(c in _NAME_SEPARATORS for c in name):
        return "invalid_name_punctuation"
    return None


def create(ctx: Ctx) -> Json:
    """conversations.create: the bot creates and joins the channel."""
    ws = ctx.ws
    name = get_str(ctx.args, "name")
    problem = name_error(name)
    if problem is not None:
        raise SlackError(problem)
    if ws.channel_by_name(name) is not None:
        raise SlackError("name_taken")
    channel = ws.add_channel(name, is_private=get_bool(ctx.args, "is_private"), bot_is_member=True)
    return ok(channel=channel_json(ws, channel))


def _set_text(ctx: Ctx, field: str) -> Json:
    channel = resolve_channel(ctx, must_be_member=True)
    value = get_str(ctx.args, field)
    if len(value) > MAX_TOPIC:
        raise SlackError("too_long")
    setattr(channel, field, value)
    setattr(channel, f"{field}_creator", ctx.ws.bot.id)
    setattr(channel, f"{field}_last_set", ctx.ws.now())
    ctx.ws.emit("channel_updated", channel=channel.id, **{field: value})
    return ok(channel=channel_json(ctx.ws, channel))


def set_topic(ctx: Ctx) -> Json:
    """conversations.setTopic."""
    return _set_text(ctx, "topic")


def set_purpose(ctx: Ctx) -> Json:
    """conversations.setPurpose."""
    return _set_text(ctx, "purpose")


def _invite_error(ctx: Ctx, channel: Channel, user: str) -> str | None:
    if user == ctx.ws.bot.id:
        return "cant_invite_self"
    if user not in ctx.ws.users or ctx.ws.users[user].deleted:
        return "user_not_found"
    if user in channel.members:
        return "already_in_channel"
    return None


def invite(ctx: Ctx) -> Json:
    """conversations.invite: all-or-nothing unless ``force``, with per-user ``errors``."""
    channel = resolve_channel(ctx, must_be_member=True)
    if channel.is_im or channel.is_mpim:
        raise SlackError("method_not_supported_for_channel_type")
    users = get_list(ctx.args, "users")
    failures: list[dict[str, Any]] = []
    valid: list[str] = []
    for user in users:
        problem = _invite_error(ctx, channel, user)
        if problem is None:
            valid.append(user)
        else:
            failures.append({"user": user, "ok": False, "error": problem})
    if failures and (not get_bool(ctx.args, "force") or not valid):
        raise SlackError(failures[0]["error"], errors=failures)
    for user in valid:
        channel.members.append(user)
    ctx.ws.emit("members_invited", channel=channel.id, users=valid)
    body = ok(channel=channel_json(ctx.ws, channel))
    if failures:
        body["errors"] = failures
    return body


def join(ctx: Ctx) -> Json:
    """conversations.join: public channels only; joining twice is a warning, not an error."""
    channel = resolve_channel(ctx)
    if channel.is_private:
        raise SlackError("method_not_supported_for_channel_type")
    bot = ctx.ws.bot.id
    if bot in channel.members:
        return ok(
            channel=channel_json(ctx.ws, channel),
            warning="already_in_channel",
            response_metadata={"warnings": ["already_in_channel"]},
        )
    channel.members.append(bot)
    ctx.ws.emit("channel_joined", channel=channel.id)
    return ok(channel=channel_json(ctx.ws, channel))


def info(ctx: Ctx) -> Json:
    """conversations.info."""
    channel = resolve_channel(ctx, allow_archived=True)
    return ok(
        channel=channel_json(ctx.ws, channel, num_members=get_bool(ctx.args, "include_num_members"))
    )


def _kind(channel: Channel) -> str:
    if channel.is_im:
        return "im"
    if channel.is_mpim:
        return "mpim"
    return "private_channel" if channel.is_private else "public_channel"


def list_(ctx: Ctx) -> Json:
    """conversations.list: private conversations only when the bot is a member."""
    types = set(get_list(ctx.args, "types") or ["public_channel"])
    if not types <= _TYPES:
        raise SlackError("invalid_types")
    exclude_archived = get_bool(ctx.args, "exclude_archived")
    bot = ctx.ws.bot.id
    visible = [
        c
        for c in ctx.ws.channels.values()
        if _kind(c) in types
        and (not c.is_private or bot in c.members)
        and not (exclude_archived and c.is_archived)
    ]
    page, cursor = paginate(ctx, visible)
    return ok(
        channels=[channel_json(ctx.ws, c) for c in page], response_metadata={"next_cursor": cursor}
    )


def _in_range(ctx: Ctx, message: Message) -> bool:
    inclusive = get_bool(ctx.args, "inclusive")
    ts = float(message.ts)
    oldest, latest = get_str(ctx.args, "oldest"), get_str(ctx.args, "latest")
    if oldest and (ts < float(oldest) or (ts == float(oldest) and not inclusive)):
        return False
    return not (latest and (ts > float(latest) or (ts == float(latest) and not inclusive)))


def history(ctx: Ctx) -> Json:
    """conversations.history: top-level messages (and broadcast replies), newest first."""
    channel = resolve_channel(ctx, must_be_member=True, allow_archived=True)
    try:
        shown = [
            m
            for m in reversed(ctx.ws.history(channel.id))
            if (not m.is_reply or m.reply_broadcast) and _in_range(ctx, m)
        ]
    except ValueError:
        raise SlackError("invalid_ts_latest") from None
    page, cursor = paginate(ctx, shown, max_limit=999)
    pins = sum(1 for p in ctx.ws.pins if p.channel == channel.id)
    return ok(
        messages=[message_json(ctx.ws, m) for m in page],
        has_more=bool(cursor),
        pin_count=pins,
        response_metadata={"next_cursor": cursor},
    )


def replies(ctx: Ctx) -> Json:
    """conversations.replies: the parent then its replies, oldest first."""
    channel = resolve_channel(ctx, allow_archived=True)
    ts = get_str(ctx.args, "ts")
    parent = ctx.ws.find_message(channel.id, ts)
    if parent is None:
        raise SlackError("thread_not_found")
    thread = [parent] if parent.is_reply else [parent, *ctx.ws.replies(channel.id, ts)]
    page, cursor = paginate(ctx, thread, default_limit=1000)
    return ok(
        messages=[message_json(ctx.ws, m) for m in page],
        has_more=bool(cursor),
        response_metadata={"next_cursor": cursor},
    )


def open_(ctx: Ctx) -> Json:
    """conversations.open: a DM (``D…``) for one user, a group DM for several."""
    ws = ctx.ws
    users = get_list(ctx.args, "users")
    existed: bool
    if users:
        for user in users:
            if user not in ws.users:
                raise SlackError("user_not_found")
        others = [u for u in users if u != ws.bot.id]
        if not others:
            raise SlackError("not_enough_users")
        if len(others) > 8:
            raise SlackError("too_many_users")
        existed = len(others) == 1 and others[0] in ws.ims
        channel = ws.open_im(others[0]) if len(others) == 1 else ws.open_mpim(others)
    elif get_str(ctx.args, "channel"):
        channel = resolve_channel(ctx)
        if not (channel.is_im or channel.is_mpim):
            raise SlackError("method_not_supported_for_channel_type")
        existed = True
    else:
        raise SlackError("users_list_not_supplied")
    if get_bool(ctx.args, "return_im"):
        return ok(no_op=existed, already_open=existed, channel=channel_json(ws, channel))
    return ok(channel={"id": channel.id})


def members(ctx: Ctx) -> Json:
    """conversations.members."""
    channel = resolve_channel(ctx, allow_archived=True)
    page, cursor = paginate(ctx, channel.members)
    return ok(members=page, response_metadata={"next_cursor": cursor})


HANDLERS: dict[str, Handler] = {
    "conversations.create": create,
    "conversations.setTopic": set_topic,
    "conversations.setPurpose": set_purpose,
    "conversations.invite": invite,
    "conversations.join": join,
    "conversations.info": info,
    "conversations.list": list_,
    "conversations.history": history,
    "conversations.replies": replies,
    "conversations.open": open_,
    "conversations.members": members,
}
