"""chat.* through a real slack_sdk AsyncWebClient."""

from __future__ import annotations

from typing import Any

import pytest
from slack_sdk.errors import SlackApiError
from slack_sdk.models.blocks import ActionsBlock, ButtonElement, SectionBlock
from slack_sdk.web.async_client import AsyncWebClient

from epbot.fakeslack import FakeSlack


async def _channel(client: AsyncWebClient, name: str = "inc-1") -> str:
    created = await client.conversations_create(name=name)
    return str(created["channel"]["id"])


async def test_post_message_returns_the_documented_shape(
    client: AsyncWebClient, fake: FakeSlack
) -> None:
    channel = await _channel(client)
    response = await client.chat_postMessage(channel=channel, text="hello")
    assert response["ok"] is True
    assert response["channel"] == channel
    message = response["message"]
    assert message["text"] == "hello"
    assert message["ts"] == response["ts"]
    assert message["bot_id"] == fake.workspace.bot_id
    assert message["user"] == fake.workspace.bot.id
    assert fake.calls_to("chat.postMessage")[0].args == {"channel": channel, "text": "hello"}


async def test_ts_is_strictly_increasing(client: AsyncWebClient) -> None:
    channel = await _channel(client)
    stamps = [(await client.chat_postMessage(channel=channel, text=str(i)))["ts"] for i in range(5)]
    assert stamps == sorted(stamps, key=float)
    assert len(set(stamps)) == 5


async def test_blocks_from_sdk_models_are_accepted_and_stored(
    client: AsyncWebClient, fake: FakeSlack
) -> None:
    channel = await _channel(client)
    blocks = [
        SectionBlock(text="*Incident* declared"),
        ActionsBlock(elements=[ButtonElement(text="Ack", action_id="ack", value="inc-1")]),
    ]
    response = await client.chat_postMessage(channel=channel, text="fallback", blocks=blocks)
    stored = fake.workspace.find_message(channel, response["ts"])
    assert stored is not None
    assert stored.blocks is not None
    assert stored.blocks[1]["elements"][0]["action_id"] == "ack"


async def test_form_encoded_blocks_string_is_decoded(
    client: AsyncWebClient, fake: FakeSlack
) -> None:
    channel = await _channel(client)
    # api_call with params= sends a form/query body where blocks is a JSON string.
    response = await client.api_call(
        "chat.postMessage",
        params={"channel": channel, "blocks": '[{"type": "divider"}]'},
    )
    assert response["message"]["blocks"] == [{"type": "divider"}]
    assert fake.calls_to("chat.postMessage")[-1].args["blocks"] == [{"type": "divider"}]


async def test_no_text(client: AsyncWebClient) -> None:
    channel = await _channel(client)
    # api_call skips slack_sdk's own (warning-only) text check.
    with pytest.raises(SlackApiError) as raised:
        await client.api_call("chat.postMessage", json={"channel": channel})
    assert raised.value.response["error"] == "no_text"


async def test_not_in_channel_and_unknown_channel(client: AsyncWebClient, fake: FakeSlack) -> None:
    general = fake.workspace.add_channel("general", members=["U0ALICE"])
    with pytest.raises(SlackApiError) as raised:
        await client.chat_postMessage(channel=general.id, text="hi")
    assert raised.value.response["error"] == "not_in_channel"
    with pytest.raises(SlackApiError) as raised:
        await client.chat_postMessage(channel="C404", text="hi")
    assert raised.value.response["error"] == "channel_not_found"
    await client.conversations_join(channel=general.id)
    assert (await client.chat_postMessage(channel="#general", text="hi"))["ok"]


async def test_private_channel_of_others_is_invisible(
    client: AsyncWebClient, fake: FakeSlack
) -> None:
    secret = fake.workspace.add_channel("secret", is_private=True, members=["U0ALICE"])
    with pytest.raises(SlackApiError) as raised:
        await client.chat_postMessage(channel=secret.id, text="hi")
    assert raised.value.response["error"] == "channel_not_found"


async def test_archived_channel(client: AsyncWebClient, fake: FakeSlack) -> None:
    channel = await _channel(client)
    fake.workspace.channels[channel].is_archived = True
    with pytest.raises(SlackApiError) as raised:
        await client.chat_postMessage(channel=channel, text="hi")
    assert raised.value.response["error"] == "is_archived"


async def test_too_many_blocks(client: AsyncWebClient) -> None:
    channel = await _channel(client)
    blocks = [{"type": "divider"}] * 51
    with pytest.raises(SlackApiError) as raised:
        await client.chat_postMessage(channel=channel, text="x", blocks=blocks)
    body = raised.value.response
    assert body["error"] == "invalid_blocks"
    assert body["response_metadata"]["messages"] == [
        "[ERROR] no more than 50 items allowed [json-pointer:/blocks]"
    ]


async def test_button_text_over_75_characters(client: AsyncWebClient) -> None:
    channel = await _channel(client)
    button = {
        "type": "button",
        "text": {"type": "plain_text", "text": "x" * 76},
        "action_id": "ack",
    }
    with pytest.raises(SlackApiError) as raised:
        await client.chat_postMessage(
            channel=channel, text="x", blocks=[{"type": "actions", "elements": [button]}]
        )
    assert raised.value.response["error"] == "invalid_blocks"
    assert "/blocks/0/elements/0/text/text" in raised.value.response["errors"][0]


@pytest.mark.parametrize(
    ("blocks", "pointer"),
    [
        ([{"type": "carousel-of-doom"}], "/blocks/0/type"),
        ([{"type": "section", "text": {"type": "mrkdwn", "text": "x" * 3001}}], "/blocks/0/text"),
        (
            [
                {
                    "type": "actions",
                    "elements": [
                        {
                            "type": "button",
                            "action_id": "a",
                            "text": {"type": "plain_text", "text": "ok"},
                            "value": "v" * 2001,
                        }
                    ],
                }
            ],
            "/blocks/0/elements/0/value",
        ),
        ([{"type": "divider", "block_id": "b" * 256}], "/blocks/0/block_id"),
        (
            [
                {
                    "type": "actions",
                    "elements": [
                        {
                            "type": "button",
                            "action_id": f"a{i}",
                            "text": {"type": "plain_text", "text": "ok"},
                        }
                        for i in range(26)
                    ],
                }
            ],
            "/blocks/0/elements",
        ),
        ([{"type": "section"}], "/blocks/0"),
        ([{"type": "actions", "elements": [{"type": "laser"}]}], "/blocks/0/elements/0/type"),
    ],
)
async def test_documented_block_limits(
    client: AsyncWebClient, blocks: list[dict[str, Any]], pointer: str
) -> None:
    channel = await _channel(client)
    with pytest.raises(SlackApiError) as raised:
        await client.chat_postMessage(channel=channel, text="x", blocks=blocks)
    assert raised.value.response["error"] == "invalid_blocks"
    assert any(
        f"[json-pointer:{pointer}" in m
        for m in raised.value.response["response_metadata"]["messages"]
    )


async def test_thread_replies(client: AsyncWebClient) -> None:
    channel = await _channel(client)
    parent = (await client.chat_postMessage(channel=channel, text="parent"))["ts"]
    first = (await client.chat_postMessage(channel=channel, text="r1", thread_ts=parent))["ts"]
    # A reply to a reply is filed under the parent, as Slack does.
    await client.chat_postMessage(channel=channel, text="r2", thread_ts=first)
    replies = await client.conversations_replies(channel=channel, ts=parent)
    assert [m["text"] for m in replies["messages"]] == ["parent", "r1", "r2"]
    assert replies["messages"][0]["reply_count"] == 2
    assert all(m["thread_ts"] == parent for m in replies["messages"])
    history = await client.conversations_history(channel=channel)
    assert [m["text"] for m in history["messages"]] == ["parent"]
    with pytest.raises(SlackApiError) as raised:
        await client.conversations_replies(channel=channel, ts="1.000001")
    assert raised.value.response["error"] == "thread_not_found"


async def test_update_keeps_unsent_fields_and_marks_edited(
    client: AsyncWebClient, fake: FakeSlack
) -> None:
    channel = await _channel(client)
    ts = (await client.chat_postMessage(channel=channel, text="v1", blocks=[{"type": "divider"}]))[
        "ts"
    ]
    updated = await client.chat_update(channel=channel, ts=ts, text="v2")
    assert updated["text"] == "v2"
    assert updated["message"]["blocks"] == [{"type": "divider"}]
    assert "edited" in updated["message"]
    with pytest.raises(SlackApiError) as raised:
        await client.chat_update(channel=channel, ts="1.000001", text="x")
    assert raised.value.response["error"] == "message_not_found"


async def test_ephemeral_delete_and_permalink(client: AsyncWebClient, fake: FakeSlack) -> None:
    channel = await _channel(client)
    with pytest.raises(SlackApiError) as raised:
        await client.chat_postEphemeral(channel=channel, user="U0ALICE", text="psst")
    assert raised.value.response["error"] == "user_not_in_channel"
    await client.conversations_invite(channel=channel, users="U0ALICE")
    sent = await client.chat_postEphemeral(channel=channel, user="U0ALICE", text="psst")
    assert fake.workspace.ephemerals[-1].ts == sent["message_ts"]
    ts = (await client.chat_postMessage(channel=channel, text="bye"))["ts"]
    link = await client.chat_getPermalink(channel=channel, message_ts=ts)
    assert link["permalink"].endswith(f"/archives/{channel}/p{ts.replace('.', '')}")
    await client.chat_delete(channel=channel, ts=ts)
    assert fake.workspace.find_message(channel, ts) is None


async def test_post_to_a_user_id_lands_in_the_dm(client: AsyncWebClient, fake: FakeSlack) -> None:
    response = await client.chat_postMessage(channel="U0ALICE", text="you are on call")
    assert response["channel"].startswith("D")
    assert fake.workspace.ims["U0ALICE"] == response["channel"]
