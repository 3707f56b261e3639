"""Requests to the bot signed exactly as Slack signs them, and the payloads Slack sends.

Signature: ``v0=`` + hex HMAC-SHA256 of ``v0:{timestamp}:{body}`` with the signing secret
(the algorithm ``slack_sdk.signature.SignatureVerifier`` checks), sent in
``X-Slack-Request-Timestamp`` / ``X-Slack-Signature``. Slash commands and interactivity are
form bodies (interactivity as ``payload=<json>``); the Events API sends JSON.
"""

from __future__ import annotations

import hashlib
import hmac
import itertools
import json
import time
from typing import Any
from urllib.parse import urlencode

import aiohttp

FORM = "application/x-www-form-urlencoded"
JSON = "application/json"
DEFAULT_TEAM_ID = "T0FAKE0001"
_ids = itertools.count(1)


def signature(secret: str, timestamp: int | str, body: str | bytes) -> str:
    """``v0=<hex>`` for a body sent at ``timestamp``."""
    raw = body.decode("utf-8") if isinstance(body, bytes) else body
    base = f"v0:{timestamp}:{raw}".encode()
    return "v0=" + hmac.new(secret.encode(), base, hashlib.sha256).hexdigest()


def signed_headers(
    secret: str,
    body: str | bytes,
    *,
    content_type: str = FORM,
    timestamp: int | None = None,
    retry_num: int | None = None,
    retry_reason: str = "http_timeout",
) -> dict[str, str]:
    """The headers Slack sends with ``body``; add retry headers for a redelivery."""
    ts = int(time.time()) if timestamp is None else timestamp
    headers = {
        "Content-Type": content_type,
        "X-Slack-Request-Timestamp": str(ts),
        "X-Slack-Signature": signature(secret, ts, body),
    }
    if retry_num is not None:
        headers["X-Slack-Retry-Num"] = str(retry_num)
        headers["X-Slack-Retry-Reason"] = retry_reason
    return headers


async def post_signed(
    session: aiohttp.ClientSession,
    url: str,
    body: str,
    content_type: str,
    secret: str,
    timestamp: int | None = None,
    retry_num: int | None = None,
) -> aiohttp.ClientResponse:
    """POST a signed body to the bot; the caller reads (or releases) the response."""
    headers = signed_headers(
        secret, body, content_type=content_type, timestamp=timestamp, retry_num=retry_num
    )
    return await session.post(url, data=body.encode("utf-8"), headers=headers)


def _trigger_id() -> str:
    return f"{int(time.time())}.{next(_ids)}.fa4e5c0ffee"


def slash_command(
    *,
    command: str = "/incident",
    text: str = "",
    user_id: str,
    channel_id: str,
    trigger_id: str | None = None,
    team_id: str = DEFAULT_TEAM_ID,
    response_url: str = "https://hooks.slack.com/commands/T0FAKE0001/1/fake",
    user_name: str = "",
    channel_name: str = "",
    api_app_id: str = "A00000001",
) -> str:
    """A slash-command form body."""
    return urlencode(
        {
            "token": "deprecated-verification-token",
            "team_id": team_id,
            "team_domain": "epbot-fake",
            "channel_id": channel_id,
            "channel_name": channel_name or channel_id,
            "user_id": user_id,
            "user_name": user_name or user_id,
            "command": command,
            "text": text,
            "api_app_id": api_app_id,
            "is_enterprise_install": "false",
            "response_url": response_url,
            "trigger_id": trigger_id or _trigger_id(),
        }
    )


def interactivity_body(payload: dict[str, Any]) -> str:
    """Interactivity requests are ``payload=<json>`` form bodies."""
    return urlencode({"payload": json.dumps(payload, separators=(",", ":"))})


def block_actions(
    *,
    user_id: str,
    action_id: str,
    value: str = "",
    channel_id: str | None = None,
    message_ts: str | None = None,
    view_id: str | None = None,
    trigger_id: str | None = None,
    block_id: str = "actions",
    team_id: str = DEFAULT_TEAM_ID,
    response_url: str | None = None,
    api_app_id: str = "A00000001",
) -> str:
    """A button click (``block_actions``) in a message or, with ``view_id``, in a view."""
    payload: dict[str, Any] = {
        "type": "block_actions",
        "user": {"id": user_id, "username": user_id, "name": user_id, "team_id": team_id},
        "api_app_id": api_app_id,
        "token": "deprecated-verification-token",
        "container": {},
        "trigger_id": trigger_id or _trigger_id(),
        "team": {"id": team_id, "domain": "epbot-fake"},
        "enterprise": None,
        "is_enterprise_install": False,
        "actions": [
            {
                "type": "button",
                "action_id": action_id,
                "block_id": block_id,
                "text": {"type": "plain_text", "text": action_id, "emoji": True},
                "value": value,
                "action_ts": f"{time.time():.6f}",
            }
        ],
    }
    if view_id is not None:
        payload["container"] = {"type": "view", "view_id": view_id}
        payload["view"] = {
            "id": view_id,
            "type": "modal",
            "state": {"values": {}},
            "private_metadata": "",
            "callback_id": "",
            "hash": "0.0",
        }
    else:
        payload["container"] = {
            "type": "message",
            "message_ts": message_ts,
            "channel_id": channel_id,
            "is_ephemeral": False,
        }
        payload["channel"] = {"id": channel_id, "name": channel_id}
        payload["message"] = {"type": "message", "ts": message_ts, "text": ""}
        payload["response_url"] = response_url or (
            f"https://hooks.slack.com/actions/{team_id}/1/fake"
        )
    return interactivity_body(payload)


def view_submission(
    *,
    user_id: str,
    callback_id: str,
    view_id: str = "V00000001",
    state_values: dict[str, Any] | None = None,
    private_metadata: str = "",
    team_id: str = DEFAULT_TEAM_ID,
    trigger_id: str | None = None,
    api_app_id: str = "A00000001",
) -> str:
    """A modal submission; ``state_values`` is ``{block_id: {action_id: {type, value}}}``."""
    payload = {
        "type": "view_submission",
        "team": {"id": team_id, "domain": "epbot-fake"},
        "user": {"id": user_id, "username": user_id, "name": user_id, "team_id": team_id},
        "api_app_id": api_app_id,
        "token": "deprecated-verification-token",
        "trigger_id": trigger_id or _trigger_id(),
        "view": {
            "id": view_id,
            "team_id": team_id,
            "type": "modal",
            "callback_id": callback_id,
            "private_metadata": private_metadata,
            "state": {"values": state_values or {}},
            "hash": "0.0",
            "title": {"type": "plain_text", "text": "epbot"},
            "blocks": [],
            "root_view_id": view_id,
            "app_id": api_app_id,
            "bot_id": "B00000001",
        },
        "response_urls": [],
        "is_enterprise_install": False,
        "enterprise": None,
    }
    return interactivity_body(payload)


def event_callback(
    event: dict[str, Any],
    *,
    event_id: str | None = None,
    team_id: str = DEFAULT_TEAM_ID,
    api_app_id: str = "A00000001",
    event_time: int | None = None,
) -> str:
    """An Events API ``event_callback`` JSON body wrapping ``event``."""
    return json.dumps(
        {
            "token": "deprecated-verification-token",
            "team_id": team_id,
            "api_app_id": api_app_id,
            "event": event,
            "type": "event_callback",
            "event_id": event_id or f"Ev{next(_ids):010d}",
            "event_time": int(time.time()) if event_time is None else event_time,
            "authorizations": [
                {
                    "enterprise_id": None,
                    "team_id": team_id,
                    "user_id": "U00000001",
                    "is_bot": True,
                    "is_enterprise_install": False,
                }
            ],
            "is_ext_shared_channel": False,
        }
    )
