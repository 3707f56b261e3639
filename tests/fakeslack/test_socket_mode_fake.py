"""Socket Mode on the fake, driven by slack_sdk's own aiohttp Socket Mode client."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator

import aiohttp
import pytest
from slack_sdk.errors import SlackApiError
from slack_sdk.socket_mode.aiohttp import SocketModeClient
from slack_sdk.socket_mode.request import SocketModeRequest
from slack_sdk.socket_mode.response import SocketModeResponse
from slack_sdk.web.async_client import AsyncWebClient

from epbot.fakeslack import FakeSlack
from epbot.fakeslack.signing import JSON, block_actions, event_callback, slash_command
from epbot.fakeslack.socket_mode import envelope_payload


@pytest.fixture
async def socket_client(fake: FakeSlack) -> AsyncIterator[tuple[SocketModeClient, list[str]]]:
    """A connected client that acks every envelope, answering slash commands with text."""
    web_client = AsyncWebClient(base_url=fake.url)
    client = SocketModeClient(app_token=fake.socket.app_token, web_client=web_client)
    seen: list[str] = []

    async def listener(sm: SocketModeClient, request: SocketModeRequest) -> None:
        seen.append(request.type)
        payload = {"text": "got it"} if request.type == "slash_commands" else None
        await sm.send_socket_mode_response(
            SocketModeResponse(envelope_id=request.envelope_id, payload=payload)
        )

    client.socket_mode_request_listeners.append(listener)  # type: ignore[arg-type]
    await client.connect()  # type: ignore[no-untyped-call]
    yield client, seen
    await client.close()  # type: ignore[no-untyped-call]
    await fake.socket.wait_disconnected()


async def test_connections_open_needs_an_app_token_in_the_header(fake: FakeSlack) -> None:
    app = AsyncWebClient(base_url=fake.url)
    answer = await app.apps_connections_open(app_token=fake.socket.app_token)
    assert answer["url"].startswith(f"ws://{fake.url.split('//')[1].split('/')[0]}/socket/")
    assert fake.calls_to("apps.connections.open")[-1].ok

    for token, code in [(fake.bot_token, "not_allowed_token_type"), ("xapp-1-x", "invalid_auth")]:
        with pytest.raises(SlackApiError) as refused:
            await app.apps_connections_open(app_token=token)
        assert refused.value.response["error"] == code

    # An app-level token posted as a form field is refused, as Slack now does.
    async with (
        aiohttp.ClientSession() as session,
        session.post(
            fake.url + "apps.connections.open", data={"token": fake.socket.app_token}
        ) as response,
    ):
        assert (await response.json()) == {"ok": False, "error": "invalid_auth"}


async def test_a_ticket_opens_one_connection_only(fake: FakeSlack) -> None:
    url = (
        await AsyncWebClient(base_url=fake.url).apps_connections_open(
            app_token=fake.socket.app_token
        )
    )["url"]
    async with aiohttp.ClientSession() as session:
        async with session.ws_connect(url) as ws:
            hello = await ws.receive_json(timeout=2)
            assert hello["type"] == "hello"
            assert hello["num_connections"] == 1
            assert hello["connection_info"]["app_id"] == fake.socket.app_id
        with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
            await session.ws_connect(url)
        assert refused.value.status == 401


async def test_envelopes_are_acked_with_their_id_and_payload(
    fake: FakeSlack, socket_client: tuple[SocketModeClient, list[str]]
) -> None:
    _client, seen = socket_client
    await fake.socket.wait_connected()
    body = slash_command(text="db-crash", user_id="U0ALICE", channel_id="C1")
    ack = await fake.socket.send_request(body)
    envelope = fake.socket.envelopes[-1]
    assert ack.envelope_id == envelope["envelope_id"]
    assert ack.type == "slash_commands"
    assert ack.payload == {"text": "got it"}
    assert envelope["accepts_response_payload"] is True
    assert envelope["payload"]["command"] == "/incident"
    assert envelope["payload"]["text"] == "db-crash"

    click = block_actions(
        user_id="U0ALICE", action_id="x", value="1", channel_id="C1", message_ts="1.000001"
    )
    ack = await fake.socket.send_request(click)
    assert ack.type == "interactive"
    assert ack.payload is None
    assert fake.socket.envelopes[-1]["accepts_response_payload"] is False

    await fake.socket.send_request(event_callback({"type": "app_mention", "text": "hi"}), JSON)
    event = fake.socket.envelopes[-1]
    assert (event["type"], event["retry_attempt"], event["retry_reason"]) == ("events_api", 0, "")
    assert seen == ["slash_commands", "interactive", "events_api"]
    assert [a.envelope_id for a in fake.socket.acks] == [
        e["envelope_id"] for e in fake.socket.envelopes
    ]


async def test_no_ack_is_a_timeout(fake: FakeSlack) -> None:
    url = (
        await AsyncWebClient(base_url=fake.url).apps_connections_open(
            app_token=fake.socket.app_token
        )
    )["url"]
    async with aiohttp.ClientSession() as session, session.ws_connect(url) as ws:
        await ws.receive_json(timeout=2)
        with pytest.raises(TimeoutError, match="no ack for events_api"):
            await fake.socket.send("events_api", {"type": "event_callback"}, within=0.2)
        # A late ack is still recorded (a test can see the app was slow).
        late = await ws.receive_json(timeout=2)
        await ws.send_str(json.dumps({"envelope_id": late["envelope_id"]}))
        for _ in range(100):
            if fake.socket.acks:
                break
            await asyncio.sleep(0.01)
        assert fake.socket.acks[-1].envelope_id == late["envelope_id"]


async def test_disconnect_makes_the_client_reconnect(
    fake: FakeSlack, socket_client: tuple[SocketModeClient, list[str]]
) -> None:
    first = await fake.socket.wait_connected()
    await fake.socket.disconnect()
    for _ in range(200):
        if fake.socket.opened == 2 and first not in fake.socket.connections:
            break
        await asyncio.sleep(0.02)
    assert fake.socket.opened == 2
    assert len(fake.calls_to("apps.connections.open")) == 2
    ack = await fake.socket.send_request(slash_command(text="", user_id="U0ALICE", channel_id="C1"))
    assert ack.payload == {"text": "got it"}


def test_envelope_payload_refuses_non_objects() -> None:
    with pytest.raises(ValueError, match="JSON object"):
        envelope_payload("[1, 2]", JSON)
