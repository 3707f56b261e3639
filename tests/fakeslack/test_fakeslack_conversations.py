"""conversations.*, pins.*, reactions.add, users.* through a real AsyncWebClient."""

from __future__ import annotations

import pytest
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from epbot.fakeslack import FakeSlack


async def _error(call: object) -> str:
    with pytest.raises(SlackApiError) as raised:
        await call  # type: ignore[misc]
    return str(raised.value.response["error"])


@pytest.mark.parametrize(
    ("name", "code"),
    [
        ("Inc-1", "invalid_name_specials"),
        ("inc 1", "invalid_name_specials"),
        ("inc.1", "invalid_name_specials"),
        ("x" * 81, "invalid_name_maxlength"),
        ("---", "invalid_name_punctuation"),
    ],
)
async def test_invalid_channel_names(client: AsyncWebClient, name: str, code: str) -> None:
    assert await _error(client.conversations_create(name=name)) == code


async def test_create_accepts_valid_names_and_refuses_taken_ones(
    client: AsyncWebClient, fake: FakeSlack
) -> None:
    created = await client.conversations_create(name="inc-2024_001-应急", is_private=True)
    channel = created["channel"]
    assert channel["name"] == "inc-2024_001-应急"
    assert channel["is_private"] is True
    assert channel["is_member"] is True
    assert channel["id"].startswith("C")
    assert await _error(client.conversations_create(name="inc-2024_001-应急")) == "name_taken"
    assert (
        await _error(client.api_call("conversations.create", params={"name": ""}))
        == "invalid_name_required"
    )


async def test_topic_purpose_info_and_members(client: AsyncWebClient) -> None:
    channel = (await client.conversations_create(name="inc-3"))["channel"]["id"]
    await client.conversations_setTopic(channel=channel, topic="Fire drill")
    await client.conversations_setPurpose(channel=channel, purpose="Drill 2024")
    info = await client.conversations_info(channel=channel, include_num_members=True)
    assert info["channel"]["topic"]["value"] == "Fire drill"
    assert info["channel"]["purpose"]["value"] == "Drill 2024"
    assert info["channel"]["num_members"] == 1
    assert await _error(client.conversations_setTopic(channel=channel, topic="x" * 251)) == (
        "too_long"
    )
    await client.conversations_invite(channel=channel, users="U0ALICE,U0BOB")
    members = await client.conversations_members(channel=channel)
    assert set(members["members"]) == {"U0ALICE", "U0BOB", info["channel"]["creator"]}


async def test_invite_errors(client: AsyncWebClient, fake: FakeSlack) -> None:
    channel = (await client.conversations_create(name="inc-4"))["channel"]["id"]
    await client.conversations_invite(channel=channel, users="U0ALICE")
    assert await _error(client.conversations_invite(channel=channel, users="U0ALICE")) == (
        "already_in_channel"
    )
    bot = fake.workspace.bot.id
    assert await _error(client.conversations_invite(channel=channel, users=bot)) == (
        "cant_invite_self"
    )
    assert await _error(client.conversations_invite(channel=channel, users="U404")) == (
        "user_not_found"
    )
    forced = await client.conversations_invite(channel=channel, users="U404,U0BOB", force=True)
    assert forced["errors"] == [{"user": "U404", "ok": False, "error": "user_not_found"}]
    general = fake.workspace.add_channel("general")
    assert await _error(client.conversations_invite(channel=general.id, users="U0BOB")) == (
        "not_in_channel"
    )


async def test_list_open_and_join(client: AsyncWebClient, fake: FakeSlack) -> None:
    fake.workspace.add_channel("general")
    fake.workspace.add_channel("hidden", is_private=True)
    await client.conversations_create(name="mine", is_private=True)
    listed = await client.conversations_list(types="public_channel,private_channel")
    assert {c["name"] for c in listed["channels"]} == {"general", "mine"}
    page = await client.conversations_list(types="public_channel,private_channel", limit=1)
    assert len(page["channels"]) == 1
    assert page["response_metadata"]["next_cursor"]
    dm = await client.conversations_open(users="U0ALICE")
    assert dm["channel"]["id"].startswith("D")
    again = await client.conversations_open(users="U0ALICE", return_im=True)
    assert again["channel"]["id"] == dm["channel"]["id"]
    assert again["already_open"] is True
    assert await _error(client.conversations_open(users="U404")) == "user_not_found"
    general = fake.workspace.channel_by_name("general")
    assert general is not None
    joined = await client.conversations_join(channel=general.id)
    assert joined["channel"]["is_member"] is True
    history = await client.conversations_history(channel=general.id)
    assert history["messages"] == []


async def test_pins_and_reactions(client: AsyncWebClient) -> None:
    channel = (await client.conversations_create(name="inc-5"))["channel"]["id"]
    ts = (await client.chat_postMessage(channel=channel, text="runbook"))["ts"]
    await client.pins_add(channel=channel, timestamp=ts)
    assert await _error(client.pins_add(channel=channel, timestamp=ts)) == "already_pinned"
    pins = await client.pins_list(channel=channel)
    assert [item["message"]["ts"] for item in pins["items"]] == [ts]
    await client.reactions_add(channel=channel, name=":eyes:", timestamp=ts)
    assert await _error(client.reactions_add(channel=channel, name="eyes", timestamp=ts)) == (
        "already_reacted"
    )
    history = await client.conversations_history(channel=channel)
    assert history["pin_count"] == 1
    assert history["messages"][0]["reactions"][0]["name"] == "eyes"


async def test_users(client: AsyncWebClient) -> None:
    alice = await client.users_info(user="U0ALICE", include_locale=True)
    assert alice["user"]["locale"] == "zh-CN"
    assert alice["user"]["tz"] == "Asia/Shanghai"
    assert alice["user"]["tz_offset"] == 8 * 3600
    assert "locale" not in (await client.users_info(user="U0ALICE"))["user"]
    found = await client.users_lookupByEmail(email="ALICE@example.com")
    assert found["user"]["id"] == "U0ALICE"
    assert found["user"]["profile"]["email"] == "alice@example.com"
    assert await _error(client.users_lookupByEmail(email="nobody@example.com")) == (
        "users_not_found"
    )
    assert await _error(client.users_info(user="U404")) == "user_not_found"
    listed = await client.users_list()
    assert {"U0ALICE", "U0BOB"} <= {m["id"] for m in listed["members"]}
