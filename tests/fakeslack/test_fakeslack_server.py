"""Protocol behaviour: unknown methods, auth, missing arguments, failures, rate limits, events."""

from __future__ import annotations

import asyncio
import time

import aiohttp
import pytest
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry.builtin_async_handlers import AsyncRateLimitErrorRetryHandler
from slack_sdk.web.async_client import AsyncWebClient

from epbot.fakeslack import NO_ANSWER, FakeSlack, ManualClock, Workspace


async def test_unknown_method(client: AsyncWebClient, fake: FakeSlack) -> None:
    with pytest.raises(SlackApiError) as raised:
        await client.api_call("chat.postMessages", json={"channel": "C1", "text": "x"})
    assert raised.value.response.status_code == 200
    assert raised.value.response["error"] == "unknown_method"
    assert fake.calls[-1].method == "chat.postMessages"


async def test_documented_but_unimplemented_method(client: AsyncWebClient) -> None:
    with pytest.raises(SlackApiError) as raised:
        await client.api_call("bookmarks.list", params={"channel_id": "C1"})
    assert raised.value.response["error"] == "not_implemented_in_fake"


async def test_missing_required_argument(client: AsyncWebClient) -> None:
    with pytest.raises(SlackApiError) as raised:
        await client.api_call("users.lookupByEmail", http_verb="GET", params={})
    assert raised.value.response["error"] == "invalid_arguments"
    with pytest.raises(SlackApiError) as raised:
        await client.api_call("chat.postMessage", json={"text": "x"})
    assert raised.value.response["error"] == "channel_not_found"


async def test_tokens(fake: FakeSlack) -> None:
    anonymous = AsyncWebClient(base_url=fake.url)
    with pytest.raises(SlackApiError) as raised:
        await anonymous.auth_test()
    assert raised.value.response["error"] == "not_authed"
    wrong = AsyncWebClient(token="xoxb-wrong", base_url=fake.url)
    with pytest.raises(SlackApiError) as raised:
        await wrong.auth_test()
    assert raised.value.response["error"] == "invalid_auth"
    as_arg = await anonymous.api_call("auth.test", params={"token": fake.bot_token})
    assert as_arg["user_id"] == fake.workspace.bot.id
    assert as_arg["bot_id"] == fake.workspace.bot_id


async def test_injected_500_then_recovery(client: AsyncWebClient, fake: FakeSlack) -> None:
    fake.inject_failure("auth.test", status=500)
    with pytest.raises(SlackApiError) as raised:
        await client.auth_test()
    assert raised.value.response.status_code == 500
    assert (await client.auth_test())["ok"]
    assert [c.status for c in fake.calls_to("auth.test")] == [500, 200]


async def test_injected_error_code_on_any_method(client: AsyncWebClient, fake: FakeSlack) -> None:
    fake.inject_failure("*", status="fatal_error", times=2)
    for _ in range(2):
        with pytest.raises(SlackApiError) as raised:
            await client.auth_test()
        assert raised.value.response["error"] == "fatal_error"
    assert (await client.auth_test())["ok"]


async def test_injected_429_without_retry_handler(client: AsyncWebClient, fake: FakeSlack) -> None:
    fake.inject_failure("auth.test", status=429, retry_after=7)
    with pytest.raises(SlackApiError) as raised:
        await client.auth_test()
    assert raised.value.response.status_code == 429
    assert raised.value.response.headers["Retry-After"] == "7"
    assert raised.value.response["error"] == "ratelimited"


async def test_retry_handler_honours_injected_429(fake: FakeSlack) -> None:
    client = AsyncWebClient(
        token=fake.bot_token,
        base_url=fake.url,
        retry_handlers=[AsyncRateLimitErrorRetryHandler(max_retry_count=1)],
    )
    fake.inject_failure("auth.test", status=429, retry_after=0)
    assert (await client.auth_test())["ok"]
    assert [c.status for c in fake.calls_to("auth.test")] == [429, 200]


async def test_injected_timeout(fake: FakeSlack) -> None:
    client = AsyncWebClient(token=fake.bot_token, base_url=fake.url, timeout=1)
    fake.inject_failure("chat.postMessage", status="timeout")
    started = time.monotonic()
    with pytest.raises(asyncio.TimeoutError):
        await client.chat_postMessage(channel="C1", text="x")
    assert time.monotonic() - started < 4
    assert fake.calls_to("chat.postMessage")[0].status == NO_ANSWER


async def test_rate_limit_by_tier_on_a_manual_clock() -> None:
    clock = ManualClock()
    async with FakeSlack(clock=clock) as fake:
        client = AsyncWebClient(token=fake.bot_token, base_url=fake.url)
        for index in range(20):  # conversations.create is tier 2: 20 a minute
            await client.conversations_create(name=f"inc-{index}")
        with pytest.raises(SlackApiError) as raised:
            await client.conversations_create(name="inc-20")
        assert raised.value.response.status_code == 429
        assert raised.value.response.headers["Retry-After"] == "60"
        assert raised.value.response["error"] == "ratelimited"
        clock.advance(60)
        assert (await client.conversations_create(name="inc-20"))["ok"]


async def test_post_message_limit_is_per_channel_with_burst() -> None:
    clock = ManualClock()
    async with FakeSlack(clock=clock) as fake:
        client = AsyncWebClient(token=fake.bot_token, base_url=fake.url)
        fake.limiter.enabled = False
        one = (await client.conversations_create(name="one"))["channel"]["id"]
        two = (await client.conversations_create(name="two"))["channel"]["id"]
        fake.limiter.enabled = True
        for _ in range(3):
            await client.chat_postMessage(channel=one, text="burst")
        with pytest.raises(SlackApiError) as raised:
            await client.chat_postMessage(channel=one, text="too fast")
        assert raised.value.response.status_code == 429
        assert raised.value.response.headers["Retry-After"] == "3"
        assert (await client.chat_postMessage(channel=two, text="other channel"))["ok"]
        clock.advance(3)  # three in any three seconds: one a second on average
        assert (await client.chat_postMessage(channel=one, text="later"))["ok"]


async def test_scale_loosens_limits() -> None:
    clock = ManualClock()
    async with FakeSlack(clock=clock, rate_limit_scale=2) as fake:
        client = AsyncWebClient(token=fake.bot_token, base_url=fake.url)
        for index in range(40):
            await client.conversations_create(name=f"inc-{index}")
        with pytest.raises(SlackApiError):
            await client.conversations_create(name="inc-40")


async def test_retry_handler_honours_real_throttling() -> None:
    """The real limiter (real clock) and slack_sdk's retry handler agree on Retry-After."""
    async with FakeSlack() as fake:
        fake.limiter.enabled = False
        client = AsyncWebClient(
            token=fake.bot_token,
            base_url=fake.url,
            retry_handlers=[AsyncRateLimitErrorRetryHandler(max_retry_count=2)],
        )
        channel = (await client.conversations_create(name="inc"))["channel"]["id"]
        fake.limiter.enabled = True
        for index in range(4):
            await client.chat_postMessage(channel=channel, text=str(index))
        statuses = [c.status for c in fake.calls_to("chat.postMessage")]
        assert statuses.count(429) >= 1
        assert statuses.count(200) == 4


async def test_rate_limits_off(fake: FakeSlack, client: AsyncWebClient) -> None:
    channel = (await client.conversations_create(name="inc"))["channel"]["id"]
    for index in range(30):
        await client.chat_postMessage(channel=channel, text=str(index))
    assert all(c.ok for c in fake.calls)


async def test_subscribe_streams_workspace_events(client: AsyncWebClient, fake: FakeSlack) -> None:
    queue = fake.subscribe()
    channel = (await client.conversations_create(name="inc"))["channel"]["id"]
    ts = (await client.chat_postMessage(channel=channel, text="hi"))["ts"]
    await client.chat_update(channel=channel, ts=ts, text="hi again")
    kinds = [queue.get_nowait()["type"] for _ in range(queue.qsize())]
    assert kinds == ["channel_created", "message_posted", "message_updated"]
    fake.unsubscribe(queue)
    await client.chat_postMessage(channel=channel, text="unseen")
    assert queue.empty()


async def test_response_url_is_recorded(fake: FakeSlack, workspace: Workspace) -> None:
    channel = workspace.add_channel("inc", members=["U0ALICE"], bot_is_member=True)
    url = fake.new_response_url(channel_id=channel.id, user_id="U0ALICE")
    async with aiohttp.ClientSession() as session:
        async with session.post(url, json={"text": "only you"}) as response:
            assert response.status == 200
        async with session.post(url, json={"text": "all", "response_type": "in_channel"}) as r:
            assert (await r.json())["ok"] is True
    recorded = fake.calls_to("response_url")
    assert [c.args["text"] for c in recorded] == ["only you", "all"]
    assert workspace.ephemerals[-1].text == "only you"
    assert workspace.history(channel.id)[-1].text == "all"


async def test_reset_forgets_calls_and_failures(client: AsyncWebClient, fake: FakeSlack) -> None:
    fake.inject_failure("auth.test")
    fake.reset()
    assert (await client.auth_test())["ok"]
    fake.reset()
    assert fake.calls == []


async def test_url_before_start_is_an_error() -> None:
    with pytest.raises(RuntimeError, match="not started"):
        _ = FakeSlack().url
