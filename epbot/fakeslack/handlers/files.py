"""files.getUploadURLExternal, the upload URL, files.completeUploadExternal (files.uploadV2).

Slack's upload flow, which slack_sdk's ``files_upload_v2`` follows: getUploadURLExternal
(filename, length) answers an ``upload_url`` and a ``file_id``; the client POSTs the bytes to
that URL (no token: the URL is the ticket); completeUploadExternal (``files=[{id, title}]``,
``channel_id`` or ``channels``, ``initial_comment``, ``thread_ts``) finishes the upload and
shares the file in a message. A file whose bytes never arrived, or that was completed before,
is ``file_not_found``.
"""

from __future__ import annotations

import secrets
from typing import Any

from epbot.fakeslack.args import SlackError, get_int, get_list, get_str, invalid_arguments
from epbot.fakeslack.blocks import message_block_problems
from epbot.fakeslack.handlers.common import Ctx, Handler, Json, ok
from epbot.fakeslack.shapes import file_json
from epbot.fakeslack.workspace import Channel, File, Message, Workspace

UPLOAD_PATH = "/upload/v1/{ticket}"
MAX_ALT_TXT = 1000
MAX_SNIPPET_BYTES = 1024 * 1024  # snippets are limited to 1 MB
MAX_CHANNELS = 100
MAX_HIGHLIGHT_TYPE = 10
# A few of the snippet types Slack knows; any other is unknown_snippet_type.
SNIPPET_TYPES = frozenset(
    {
        "auto", "text", "c", "cpp", "csharp", "css", "csv", "diff", "go", "html", "java",
        "javascript", "json", "kotlin", "markdown", "php", "python", "ruby", "rust", "shell",
        "sql", "swift", "typescript", "xml", "yaml",
    }
)  # fmt: skip


def get_upload_url(ctx: Ctx) -> Json:
    """files.getUploadURLExternal: a file id and the URL to POST its bytes to."""
    ws = ctx.ws
    if ws.file_uploads_disabled:
        raise SlackError("file_uploads_disabled")
    length = get_int(ctx.args, "length", 0)
    if length < 1:
        raise SlackError("missing_argument")  # what Slack answers a length of 0
    if length > ws.max_file_bytes:
        raise SlackError("file_upload_size_restricted")
    alt_txt = get_str(ctx.args, "alt_txt")
    if len(alt_txt) > MAX_ALT_TXT:
        raise SlackError("alt_txt_too_large")
    snippet_type = get_str(ctx.args, "snippet_type")
    if snippet_type and snippet_type not in SNIPPET_TYPES:
        raise SlackError("unknown_snippet_type")
    if snippet_type and length > MAX_SNIPPET_BYTES:
        raise SlackError("snippet_too_large")
    file = File(
        id=ws.new_id("F"),
        name=get_str(ctx.args, "filename"),
        length=length,
        user=ws.bot.id,
        created=ws.now(),
        ticket=secrets.token_urlsafe(24),
        alt_txt=alt_txt,
        snippet_type=snippet_type,
    )
    ws.files[file.id] = file
    return ok(upload_url=ctx.base + UPLOAD_PATH.format(ticket=file.ticket), file_id=file.id)


def receive_upload(ws: Workspace, ticket: str, data: bytes) -> tuple[int, str]:
    """The upload URL: (HTTP status, text/plain body). Slack answers ``OK - <bytes>``.

    A body whose size differs from the length declared to getUploadURLExternal is refused
    (400), so a client that declares one thing and sends another fails in tests.
    """
    file = ws.file_by_ticket(ticket)
    if file is None or file.completed:
        return 404, "Not Found"
    if len(data) != file.length:
        return 400, f"length mismatch: declared {file.length} bytes, received {len(data)}"
    file.content = data
    ws.emit("file_uploaded", file_id=file.id, size=len(data))
    return 200, f"OK - {len(data)}"


def _file_items(ctx: Ctx) -> list[dict[str, Any]]:
    items = ctx.args.get("files")
    if not isinstance(items, list) or not items:
        raise invalid_arguments("[ERROR] invalid type for field: files")
    for n, item in enumerate(items):
        if not isinstance(item, dict) or not isinstance(item.get("id"), str) or not item["id"]:
            raise invalid_arguments(f"[ERROR] missing required field: id [json-pointer:/{n}]")
        if "title" in item and not isinstance(item["title"], str):
            raise invalid_arguments(f"[ERROR] invalid type for field: title [json-pointer:/{n}]")
        if len(str(item.get("highlight_type") or "")) > MAX_HIGHLIGHT_TYPE:
            raise invalid_arguments(
                f"[ERROR] must be at most {MAX_HIGHLIGHT_TYPE} characters "
                f"[json-pointer:/{n}/highlight_type]"
            )
    return items


def _target(ctx: Ctx, ref: str) -> Channel:
    """A conversation to share in: a channel id, or a user id (the app's DM with them)."""
    ws = ctx.ws
    if ref in ws.users and not ws.users[ref].is_bot:
        return ws.open_im(ref)
    channel = ws.channels.get(ref)
    member = channel is not None and ws.bot.id in channel.members
    if channel is None or (channel.is_private and not member):
        raise SlackError("channel_not_found")
    if channel.is_archived:
        raise SlackError("invalid_channel")
    if not member:
        raise SlackError("not_in_channel")
    return channel


def _targets(ctx: Ctx) -> list[Channel]:
    refs = [get_str(ctx.args, "channel_id")] if get_str(ctx.args, "channel_id") else []
    refs += [r for r in get_list(ctx.args, "channels") if r not in refs]
    if len(refs) > MAX_CHANNELS:
        raise SlackError("channels_limit_exceeded")
    if get_str(ctx.args, "thread_ts") and len(refs) != 1:
        raise invalid_arguments("[ERROR] thread_ts needs exactly one channel")
    return [_target(ctx, ref) for ref in refs]


def _comment_blocks(ctx: Ctx) -> list[Any] | None:
    """``blocks``, used only without ``initial_comment``."""
    blocks = ctx.args.get("blocks")
    if get_str(ctx.args, "initial_comment") or blocks in (None, ""):
        return None
    problems = message_block_problems(blocks)
    if problems:
        raise SlackError("invalid_blocks", response_metadata={"messages": problems})
    assert isinstance(blocks, list)  # message_block_problems rejects anything else
    return blocks


def complete_upload(ctx: Ctx) -> Json:
    """files.completeUploadExternal: finish the uploads and share them in one message."""
    ws = ctx.ws
    items = _file_items(ctx)
    files: list[File] = []
    for item in items:
        file = ws.files.get(item["id"])
        if file is None or file.completed or file.content is None:
            raise SlackError("file_not_found")
        files.append(file)
    targets = _targets(ctx)
    blocks = _comment_blocks(ctx)
    for file, item in zip(files, items, strict=True):
        file.completed = True
        file.title = str(item.get("title") or file.name)
    thread_ts = get_str(ctx.args, "thread_ts") or None
    for channel in targets:
        thread = thread_ts
        parent = ws.find_message(channel.id, thread_ts) if thread_ts else None
        if parent is not None and parent.is_reply:
            thread = parent.thread_ts  # as chat.postMessage: a reply's reply joins the thread
        message = Message(
            channel=channel.id,
            ts=ws.next_ts(),
            text=get_str(ctx.args, "initial_comment"),
            user=ws.bot.id,
            bot_id=ws.bot_id,
            blocks=blocks,
            thread_ts=thread,
            files=[f.id for f in files],
        )
        ws.add_message(message)
        for file in files:
            file.channels.append(channel.id)
            file.shares.setdefault(channel.id, []).append(message.ts)
    for file in files:
        ws.emit("file_shared", file_id=file.id, channels=list(file.channels))
    return ok(files=[file_json(ws, f) for f in files])


HANDLERS: dict[str, Handler] = {
    "files.getUploadURLExternal": get_upload_url,
    "files.completeUploadExternal": complete_upload,
}
