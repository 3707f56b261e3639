"""Signed inbound requests, checked with slack_sdk's own verifier."""

from __future__ import annotations

import json
import time
from urllib.parse import parse_qs

import aiohttp
from aiohttp import web
from slack_sdk.signature import SignatureVerifier

from epbot.fakeslack import signing

SECRET = "8f742231b10e8888abcd99yyyzzz85a5"


def test_signature_matches_slack_sdk() -> None:
    body = signing.slash_command(text="declare fire", user_id="U1", channel_id="C1")
    headers = signing.signed_headers(SECRET, body)
    assert SignatureVerifier(SECRET).is_valid_request(body, headers)
    assert not SignatureVerifier("other-secret").is_valid_request(body, headers)
    stale = signing.signed_headers(SECRET, body, timestamp=int(time.time()) - 600)
    assert not SignatureVerifier(SECRET).is_valid_request(body, stale)


def test_known_vector() -> None:
    # Slack's documented example request.
    body = (
        "token=xyzz0WbapA4vBCDEFasx0q6G&team_id=T1DC2JH3J&team_domain=testteamnow&"
        "channel_id=G8PSS9T3V&channel_name=foobar&user_id=U2CERLKJA&user_name=roadrunner&"
        "command=%2Fwebhook-collect&text=&response_url=https%3A%2F%2Fhooks.slack.com%2F"
        "commands%2FT1DC2JH3J%2F397700885554%2F96rGlfmibIGlgcZRskXaIFfN&"
        "trigger_id=398738663015.47445629121.803a0bc887a14d10d2c447fce8b6703c"
    )
    assert signing.signature(SECRET, 1531420618, body) == (
        "v0=a2114d57b48eac39b9ad189dd8316235a7b4a8d21a10bd27519666489c69b503"
    )


def test_retry_headers() -> None:
    headers = signing.signed_headers(SECRET, "{}", content_type=signing.JSON, retry_num=1)
    assert headers["X-Slack-Retry-Num"] == "1"
    assert headers["X-Slack-Retry-Reason"] == "http_timeout"
    assert headers["Content-Type"] == "application/json"


def test_payload_builders() -> None:
    command = parse_qs(
        signing.slash_command(text="fire B2", user_id="U1", channel_id="C1", trigger_id="1.2.3")
    )
    assert command["command"] == ["/incident"]
    assert command["text"] == ["fire B2"]
    assert command["trigger_id"] == ["1.2.3"]

    click = parse_qs(
        signing.block_actions(
            user_id="U1", action_id="ack", value="inc-1", channel_id="C1", message_ts="1.000001"
        )
    )
    payload = json.loads(click["payload"][0])
    assert payload["type"] == "block_actions"
    assert payload["actions"][0]["value"] == "inc-1"
    assert payload["container"]["message_ts"] == "1.000001"

    in_view = json.loads(
        parse_qs(signing.block_actions(user_id="U1", action_id="pick", view_id="V1"))["payload"][0]
    )
    assert in_view["view"]["id"] == "V1"

    submission = json.loads(
        parse_qs(
            signing.view_submission(
                user_id="U1",
                callback_id="declare",
                view_id="V9",
                private_metadata="inc-1",
                state_values={"summary": {"value": {"type": "plain_text_input", "value": "fire"}}},
            )
        )["payload"][0]
    )
    assert submission["view"]["callback_id"] == "declare"
    assert submission["view"]["state"]["values"]["summary"]["value"]["value"] == "fire"

    event = json.loads(
        signing.event_callback({"type": "app_mention", "text": "hi"}, event_id="Ev1")
    )
    assert event["type"] == "event_callback"
    assert event["event_id"] == "Ev1"


async def test_post_signed_reaches_a_verifying_endpoint() -> None:
    seen: list[bool] = []

    async def endpoint(request: web.Request) -> web.Response:
        body = await request.text()
        seen.append(SignatureVerifier(SECRET).is_valid_request(body, dict(request.headers)))
        seen.append(request.headers.get("X-Slack-Retry-Num") == "2")
        return web.Response(text="")

    app = web.Application()
    app.router.add_post("/slack/events", endpoint)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    try:
        body = signing.event_callback({"type": "app_home_opened", "user": "U1"})
        async with aiohttp.ClientSession() as session:
            response = await signing.post_signed(
                session,
                f"http://127.0.0.1:{port}/slack/events",
                body,
                signing.JSON,
                SECRET,
                retry_num=2,
            )
            assert response.status == 200
            response.release()
    finally:
        await runner.cleanup()
    assert seen == [True, True]
