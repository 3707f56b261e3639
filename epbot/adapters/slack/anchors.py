"""Audit anchors read back from Slack's record of an incident channel (issue 17).

The closing report and every ``/incident report`` upload state the chain's length and head
in the incident channel. Slack keeps those messages outside epbot's database, so the last one
pins the timeline: ``epbot audit verify --from-slack`` checks the table against it.

Only the bot's own messages count (anyone in the channel could type an anchor line; no one
but the bot can post or edit as the bot), top-level ones and thread replies alike.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from typing import Any

from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry.builtin_async_handlers import AsyncRateLimitErrorRetryHandler
from slack_sdk.web.async_client import AsyncWebClient

from epbot.adapters.db.engine import make_engine
from epbot.adapters.db.store import SqlStore
from epbot.config import Settings
from epbot.domain.anchor import Anchor, find_anchors
from epbot.services.incidents import incident_number
from epbot.services.reports import UnknownIncident, find_incident

PAGE = 200  # messages per conversations.history / replies call


class SlackAnchorError(Exception):
    """Slack could not be asked (no token, no channel, refused): one line for the CLI."""


def web_client(settings: Settings) -> AsyncWebClient:
    """A Web API client from the settings, for one-off commands (429s are waited out)."""
    if settings.slack_bot_token is None:
        raise SlackAnchorError("reading anchors from Slack needs SLACK_BOT_TOKEN")
    return AsyncWebClient(
        token=settings.slack_bot_token.get_secret_value(),
        base_url=settings.slack_api_url,
        retry_handlers=[AsyncRateLimitErrorRetryHandler(max_retry_count=5)],
    )


async def latest_anchor_from_slack(
    client: AsyncWebClient, channel: str, *, number: str | None = None
) -> Anchor | None:
    """The anchor pinning the longest chain among the bot's messages in ``channel`` (of
    incident ``number`` when given), or None when there is none.

    Raises SlackAnchorError when Slack refuses (not_in_channel, missing_scope, ...).
    """
    try:
        me = await client.auth_test()
        ours = {me.get("bot_id"), me.get("user_id")} - {None, ""}
        anchors: list[Anchor] = []
        async for message in _messages(client, channel):
            if message.get("bot_id") in ours or message.get("user") in ours:
                anchors += find_anchors("\n".join(_texts(message)))
    except SlackApiError as exc:
        error = exc.response.get("error") or f"HTTP {exc.response.status_code}"
        raise SlackAnchorError(f"cannot read channel {channel} from Slack: {error}") from None
    if number is not None:
        anchors = [a for a in anchors if a.number.upper() == number.upper()]
    return max(anchors, key=lambda a: a.entries, default=None)


async def _messages(client: AsyncWebClient, channel: str) -> AsyncIterator[dict[str, Any]]:
    """Every message of the channel: history, newest first, each thread's replies after it."""
    cursor: str | None = None
    while True:
        page = await client.conversations_history(channel=channel, limit=PAGE, cursor=cursor)
        for message in page.get("messages") or []:
            yield message
            if message.get("reply_count"):
                async for reply in _replies(client, channel, str(message["ts"])):
                    yield reply
        cursor = (page.get("response_metadata") or {}).get("next_cursor") or None
        if not page.get("has_more") or cursor is None:
            return


async def _replies(
    client: AsyncWebClient, channel: str, thread_ts: str
) -> AsyncIterator[dict[str, Any]]:
    cursor: str | None = None
    while True:
        page = await client.conversations_replies(
            channel=channel, ts=thread_ts, limit=PAGE, cursor=cursor
        )
        for message in page.get("messages") or []:
            if message.get("ts") != thread_ts:  # the parent came with the history
                yield message
        cursor = (page.get("response_metadata") or {}).get("next_cursor") or None
        if not page.get("has_more") or cursor is None:
            return


def _texts(value: Any) -> Iterator[str]:
    """The message's text, and every text of its blocks and attachments."""
    if isinstance(value, dict):
        for key, item in value.items():
            if key == "text" and isinstance(item, str):
                yield item
            elif key in ("text", "blocks", "attachments", "elements", "fields", "fallback"):
                yield from _texts(item)
    elif isinstance(value, list):
        for item in value:
            yield from _texts(item)
    elif isinstance(value, str):
        yield value


async def anchors_from_slack(settings: Settings, incident: str) -> list[Anchor]:
    """For ``epbot audit verify --from-slack``: the latest anchor in the incident's channel
    (``[]`` when there is none, or no such incident: verify says so)."""
    engine = make_engine(settings.database_url)
    try:
        row = await SqlStore(engine).read(lambda tx: find_incident(tx, incident))
    except UnknownIncident:
        return []
    finally:
        await engine.dispose()
    number = incident_number(row.year, row.seq, row.drill)
    if not row.channel_id:
        raise SlackAnchorError(f"incident {number} has no Slack channel")
    anchor = await latest_anchor_from_slack(web_client(settings), row.channel_id, number=number)
    return [] if anchor is None else [anchor]
