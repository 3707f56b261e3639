"""chat.* methods."""

from __future__ import annotations

from typing import Any

from epbot.fakeslack.args import SlackError, get_bool, get_str, is_missing
from epbot.fakeslack.blocks import message_block_problems
from epbot.fakeslack.handlers.common import Ctx, Handler, Json, ok, resolve_channel
from epbot.fakeslack.shapes import message_json
from epbot.fakeslack.workspace import Ephemeral, Message

MAX_TEXT = 40_000


def _blocks(ctx: Ctx) -> list[Any] | None:
    """The validated ``blocks`` argument, or None when absent."""
    if "blocks" not in ctx.args or ctx.args["blocks"] in (None, ""):
        return None
    blocks = ctx.args["blocks"]
    if isinstance(blocks, str):
        raise SlackError("invalid_blocks_format")
    problems = message_block_problems(blocks)
    if problems:
        raise SlackError(
            "invalid_blocks",
            errors=[p.removeprefix("[ERROR] ") for p in problems],
            response_metadata={"messages": problems},
        )
    assert isinstance(blocks, list)  # message_block_problems rejects anything else
    return blocks


def _attachments(ctx: Ctx) -> list[Any] | None:
    value = ctx.args.get("attachments")
    if value in (None, ""):
        return None
    if not isinstance(value, list):
        raise SlackError("invalid_attachments")
    if len(value) > 100:
        raise SlackError("too_many_attachments")
    return value


def _text(ctx: Ctx) -> str:
    text = get_str(ctx.args, "text") or get_str(ctx.args, "markdown_text")
    if len(text) > MAX_TEXT and "msg_too_long" in ctx.method.errors:
        raise SlackError("msg_too_long")
    return text


def _content(ctx: Ctx) -> tuple[str, list[Any] | None, list[Any] | None]:
    """text, blocks, attachments; ``no_text`` when all three are empty."""
    text, blocks, attachments = _text(ctx), _blocks(ctx), _attachments(ctx)
    if not text and not blocks and not attachments:
        raise SlackError("no_text")
    return text, blocks, attachments


def post_message(ctx: Ctx) -> Json:
    """chat.postMessage: the bot must be a member; replies go to the thread's parent."""
    ws = ctx.ws
    channel = resolve_channel(ctx, must_be_member=True, allow_names=True)
    text, blocks, attachments = _content(ctx)
    thread_ts = get_str(ctx.args, "thread_ts") or None
    if thread_ts is not None:
        parent = ws.find_message(channel.id, thread_ts)
        if parent is not None and parent.is_reply:
            thread_ts = parent.thread_ts  # Slack files a reply-to-a-reply under the parent
    message = Message(
        channel=channel.id,
        ts=ws.next_ts(),
        text=text,
        user=ws.bot.id,
        bot_id=ws.bot_id,
        blocks=blocks,
        attachments=attachments,
        thread_ts=thread_ts,
        reply_broadcast=thread_ts is not None and get_bool(ctx.args, "reply_broadcast"),
        metadata=ctx.args.get("metadata"),
    )
    ws.add_message(message)
    return ok(channel=channel.id, ts=message.ts, message=message_json(ws, message))


def _own_message(ctx: Ctx, channel_id: str, ts: str, not_yours: str) -> Message:
    message = ctx.ws.find_message(channel_id, ts)
    if message is None:
        raise SlackError("message_not_found")
    if message.bot_id != ctx.ws.bot_id:
        raise SlackError(not_yours)
    return message


def update(ctx: Ctx) -> Json:
    """chat.update: fields left out keep their old value, as Slack documents."""
    ws = ctx.ws
    channel = resolve_channel(ctx)
    message = _own_message(ctx, channel.id, get_str(ctx.args, "ts"), "cant_update_message")
    if all(is_missing(ctx.args, n) for n in ("text", "blocks", "attachments", "markdown_text")):
        raise SlackError("no_text")
    if not is_missing(ctx.args, "text") or not is_missing(ctx.args, "markdown_text"):
        message.text = _text(ctx)
    if "blocks" in ctx.args:
        message.blocks = _blocks(ctx) or None
    if "attachments" in ctx.args:
        message.attachments = _attachments(ctx)
    message.edited = {"user": ws.bot.id, "ts": ws.next_ts()}
    ws.emit("message_updated", channel=channel.id, ts=message.ts, text=message.text)
    body = message_json(ws, message)
    return ok(channel=channel.id, ts=message.ts, text=message.text, message=body)


def post_ephemeral(ctx: Ctx) -> Json:
    """chat.postEphemeral: the target user must be in the conversation."""
    ws = ctx.ws
    channel = resolve_channel(ctx, must_be_member=True, allow_names=True)
    user = get_str(ctx.args, "user")
    if user not in channel.members:
        raise SlackError("user_not_in_channel")
    text, blocks, _ = _content(ctx)
    ts = ws.next_ts()
    thread_ts = get_str(ctx.args, "thread_ts") or None
    ws.ephemerals.append(Ephemeral(channel.id, user, ts, text, blocks, thread_ts))
    ws.emit("ephemeral_posted", channel=channel.id, user=user, ts=ts, text=text)
    return ok(message_ts=ts)


def delete(ctx: Ctx) -> Json:
    """chat.delete: only the bot's own messages."""
    ws = ctx.ws
    channel = resolve_channel(ctx)
    message = _own_message(ctx, channel.id, get_str(ctx.args, "ts"), "cant_delete_message")
    ws.history(channel.id).remove(message)
    ws.emit("message_deleted", channel=channel.id, ts=message.ts)
    return ok(channel=channel.id, ts=message.ts)


def get_permalink(ctx: Ctx) -> Json:
    """chat.getPermalink."""
    ws = ctx.ws
    channel = resolve_channel(ctx, allow_archived=True)
    message = ws.find_message(channel.id, get_str(ctx.args, "message_ts"))
    if message is None:
        raise SlackError("message_not_found")
    link = f"{ws.url}archives/{channel.id}/p{message.ts.replace('.', '')}"
    if message.is_reply:
        link += f"?thread_ts={message.thread_ts}&cid={channel.id}"
    return ok(channel=channel.id, permalink=link)


HANDLERS: dict[str, Handler] = {
    "chat.postMessage": post_message,
    "chat.update": update,
    "chat.postEphemeral": post_ephemeral,
    "chat.delete": delete,
    "chat.getPermalink": get_permalink,
}
