"""latest_anchor_from_slack: the longest anchor among the bot's own messages in a channel,
threads included, across pages."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from slack_sdk.web.async_client import AsyncWebClient

from epbot.adapters.slack import anchors as slack_anchors
from epbot.adapters.slack.anchors import SlackAnchorError, latest_anchor_from_slack
from epbot.domain.anchor import Anchor
from epbot.fakeslack import FakeSlack, Message

HEAD = "ab" * 32
OTHER = "cd" * 32


def line(number: str, entries: int, head: str = HEAD) -> str:
    return f"audit anchor: {number} entries={entries} head={head}"


@pytest.fixture
async def fake() -> AsyncIterator[FakeSlack]:
    server = FakeSlack(rate_limits=False)
    await server.start()
    yield server
    await server.stop()


@pytest.fixture
def client(fake: FakeSlack) -> AsyncWebClient:
    return AsyncWebClient(token=fake.bot_token, base_url=fake.url)


async def _channel(client: AsyncWebClient) -> str:
    return str((await client.conversations_create(name="inc-anchors"))["channel"]["id"])


def _say_as(fake: FakeSlack, user: str, channel: str, text: str, thread: str | None = None) -> None:
    ws = fake.workspace
    ws.add_message(
        Message(channel=channel, ts=ws.next_ts(), text=text, user=user, thread_ts=thread)
    )


async def test_the_longest_of_the_bots_anchors_counts_threads_too(
    client: AsyncWebClient, fake: FakeSlack
) -> None:
    channel = await _channel(client)
    assert await latest_anchor_from_slack(client, channel) is None
    closing = [
        {"type": "section", "text": {"type": "mrkdwn", "text": "*Closing report*"}},
        {
            "type": "section",
            "text": {"type": "mrkdwn", "text": f"Audit: `{line('2026-0007', 40)}`"},
        },
    ]
    card = await client.chat_postMessage(channel=channel, text="Closing report", blocks=closing)
    assert await latest_anchor_from_slack(client, channel) == Anchor("2026-0007", 40, HEAD)
    # A later stage line in the card's thread, in Chinese, pins more entries.
    reply = f"阶段开始\n审计锚点：2026-0007 条目数=43 链头={OTHER}"
    await client.chat_postMessage(channel=channel, text=reply, thread_ts=card["ts"])
    # People can type anything, but only the bot's messages are anchors.
    user = fake.workspace.add_user("mallory").id
    _say_as(fake, user, channel, line("2026-0007", 99))
    _say_as(fake, user, channel, line("2026-0007", 98), thread=card["ts"])
    # Another incident's anchor quoted in this channel is not this incident's.
    await client.chat_postMessage(channel=channel, text=line("2026-0008", 500))

    assert await latest_anchor_from_slack(client, channel, number="2026-0007") == Anchor(
        "2026-0007", 43, OTHER
    )
    assert await latest_anchor_from_slack(client, channel) == Anchor("2026-0008", 500, HEAD)
    assert await latest_anchor_from_slack(client, channel, number="DRILL-2026-0001") is None


async def test_every_page_of_history_and_replies_is_read(
    client: AsyncWebClient, fake: FakeSlack, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(slack_anchors, "PAGE", 2)
    channel = await _channel(client)
    parent = await client.chat_postMessage(channel=channel, text=line("2026-0001", 1))
    for n in range(2, 6):
        await client.chat_postMessage(channel=channel, text=line("2026-0001", n * 10))
    for n in range(1, 6):
        await client.chat_postMessage(
            channel=channel, text=line("2026-0001", n * 11), thread_ts=parent["ts"]
        )
    assert await latest_anchor_from_slack(client, channel) == Anchor("2026-0001", 55, HEAD)
    assert len(fake.calls_to("conversations.history")) == 3
    assert len(fake.calls_to("conversations.replies")) == 3  # 6 messages, parent included


async def test_a_channel_the_bot_cannot_read_is_an_error(
    client: AsyncWebClient, fake: FakeSlack
) -> None:
    outside = fake.workspace.add_channel("not-joined")
    with pytest.raises(SlackAnchorError, match=f"cannot read channel {outside.id}.*not_in_channel"):
        await latest_anchor_from_slack(client, outside.id)
