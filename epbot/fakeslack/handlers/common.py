"""What every method handler shares: its context, channel resolution, pagination."""

from __future__ import annotations

import base64
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from epbot.fakeslack.args import Args, SlackError, get_int, get_str
from epbot.fakeslack.reference import MethodRef
from epbot.fakeslack.workspace import Channel, Workspace

Json = dict[str, Any]
T = TypeVar("T")


@dataclass(frozen=True)
class Ctx:
    """One call: the workspace, the decoded arguments, the method's reference entry."""

    ws: Workspace
    args: Args
    method: MethodRef
    base: str = ""  # the server's http://host:port, for URLs it hands out (upload URLs)

    def error(self, code: str, **extra: Any) -> SlackError:
        """A Slack error; the code should be one the method documents."""
        return SlackError(code, **extra)


Handler = Callable[[Ctx], Json]


def resolve_channel(
    ctx: Ctx,
    *,
    arg: str = "channel",
    must_be_member: bool = False,
    allow_archived: bool = False,
    allow_names: bool = False,
) -> Channel:
    """The conversation named by ``args[arg]``, with Slack's visibility and membership rules."""
    ws = ctx.ws
    ref = get_str(ctx.args, arg)
    channel = ws.channels.get(ref)
    if channel is None and allow_names:
        if ref in ws.users and not ws.users[ref].is_bot:
            channel = ws.open_im(ref)  # posting to a user id lands in the app's DM
        else:
            channel = ws.channel_by_name(ref)
    if channel is None:
        raise SlackError("channel_not_found")
    is_member = ws.bot.id in channel.members
    if channel.is_private and not is_member:
        raise SlackError("channel_not_found")  # private conversations are invisible to outsiders
    if channel.is_archived and not allow_archived:
        raise SlackError("is_archived")
    if must_be_member and not is_member:
        raise SlackError("not_in_channel")
    return channel


def _encode_cursor(offset: int) -> str:
    return base64.b64encode(f"offset:{offset}".encode()).decode()


def _decode_cursor(cursor: str) -> int:
    try:
        prefix, _, number = base64.b64decode(cursor.encode(), validate=True).decode().partition(":")
        if prefix != "offset":
            raise ValueError(cursor)
        return int(number)
    except ValueError:
        raise SlackError("invalid_cursor") from None


def paginate(
    ctx: Ctx, items: Sequence[T], *, default_limit: int = 100, max_limit: int = 1000
) -> tuple[list[T], str]:
    """A page of ``items`` by ``cursor``/``limit``, and the next cursor ("" on the last page)."""
    cursor = get_str(ctx.args, "cursor")
    offset = _decode_cursor(cursor) if cursor else 0
    limit = get_int(ctx.args, "limit", default_limit)
    if limit <= 0:
        limit = default_limit
    limit = min(limit, max_limit)
    page = list(items[offset : offset + limit])
    next_cursor = _encode_cursor(offset + limit) if offset + limit < len(items) else ""
    return page, next_cursor


def ok(**fields: Any) -> Json:
    """A successful answer."""
    return {"ok": True, **fields}
