"""auth.test, pins.*, reactions.add."""

from __future__ import annotations

from epbot.fakeslack.args import SlackError, get_str
from epbot.fakeslack.handlers.common import Ctx, Handler, Json, ok, resolve_channel
from epbot.fakeslack.shapes import message_json
from epbot.fakeslack.workspace import Pin

MAX_PINS = 100


def auth_test(ctx: Ctx) -> Json:
    """auth.test, as answered for a bot token."""
    ws = ctx.ws
    return ok(
        url=ws.url,
        team=ws.team_name,
        user=ws.bot.name,
        team_id=ws.team_id,
        user_id=ws.bot.id,
        bot_id=ws.bot_id,
        is_enterprise_install=False,
    )


def pins_add(ctx: Ctx) -> Json:
    """pins.add: messages only."""
    ws = ctx.ws
    channel = resolve_channel(ctx, must_be_member=True)
    ts = get_str(ctx.args, "timestamp")
    if ws.find_message(channel.id, ts) is None:
        raise SlackError("message_not_found")
    pinned = [p for p in ws.pins if p.channel == channel.id]
    if any(p.ts == ts for p in pinned):
        raise SlackError("already_pinned")
    if len(pinned) >= MAX_PINS:
        raise SlackError("too_many_pins")
    ws.pins.append(Pin(channel=channel.id, ts=ts, created_by=ws.bot.id, created=ws.now()))
    ws.emit("message_pinned", channel=channel.id, ts=ts)
    return ok()


def pins_list(ctx: Ctx) -> Json:
    """pins.list, newest pin first."""
    ws = ctx.ws
    channel = resolve_channel(ctx, allow_archived=True)
    items = []
    for pin in reversed([p for p in ws.pins if p.channel == channel.id]):
        message = ws.find_message(channel.id, pin.ts)
        if message is None:
            continue
        items.append(
            {
                "type": "message",
                "created": pin.created,
                "created_by": pin.created_by,
                "channel": channel.id,
                "message": message_json(ws, message),
            }
        )
    return ok(items=items)


def reactions_add(ctx: Ctx) -> Json:
    """reactions.add: ``name`` with or without colons."""
    ws = ctx.ws
    channel = resolve_channel(ctx)
    name = get_str(ctx.args, "name").strip(":")
    if not name or any(c.isspace() or c == ":" for c in name):
        raise SlackError("invalid_name")
    message = ws.find_message(channel.id, get_str(ctx.args, "timestamp"))
    if message is None:
        raise SlackError("message_not_found")
    users = message.reactions.setdefault(name, [])
    if ws.bot.id in users:
        raise SlackError("already_reacted")
    users.append(ws.bot.id)
    ws.emit("reaction_added", channel=channel.id, ts=message.ts, name=name)
    return ok()


HANDLERS: dict[str, Handler] = {
    "auth.test": auth_test,
    "pins.add": pins_add,
    "pins.list": pins_list,
    "reactions.add": reactions_add,
}
