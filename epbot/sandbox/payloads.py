"""The request bodies Slack would send for what a person did in the sandbox page."""

from __future__ import annotations

import time
from typing import Any

from epbot.fakeslack import View, Workspace
from epbot.fakeslack.shapes import message_json, view_json
from epbot.fakeslack.signing import event_callback, interactivity_body, slash_command

Json = dict[str, Any]

# Element fields the browser may send back as the element's new state (as Slack does).
_STATE_FIELDS = (
    "value",
    "selected_option",
    "selected_options",
    "selected_user",
    "selected_users",
    "selected_conversation",
    "selected_channel",
    "selected_date",
    "selected_time",
    "selected_date_time",
)


def _user(ws: Workspace, user_id: str) -> Json:
    user = ws.users.get(user_id)
    name = user.name if user is not None else user_id
    return {"id": user_id, "username": name, "name": name, "team_id": ws.team_id}


def _team(ws: Workspace) -> Json:
    return {"id": ws.team_id, "domain": ws.domain}


def command_body(
    ws: Workspace,
    *,
    command: str,
    text: str,
    user_id: str,
    channel_id: str,
    trigger_id: str,
    response_url: str,
) -> str:
    """A slash-command form body, with the workspace's names and the app's id."""
    channel = ws.channels.get(channel_id)
    user = ws.users.get(user_id)
    return slash_command(
        command=command,
        text=text,
        user_id=user_id,
        channel_id=channel_id,
        trigger_id=trigger_id,
        team_id=ws.team_id,
        response_url=response_url,
        user_name=user.name if user is not None else user_id,
        channel_name=("directmessage" if channel.is_im else channel.name) if channel else "",
        api_app_id=ws.app_id,
    )


def action_element(element: Json, chosen: Json, block_id: str) -> Json:
    """The ``actions[0]`` entry: the clicked element's identity plus its chosen value."""
    action: Json = {
        "type": element.get("type", "button"),
        "action_id": element.get("action_id", ""),
        "block_id": block_id,
        "action_ts": f"{time.time():.6f}",
    }
    if action["type"] == "button":
        action["text"] = element.get("text")
        if "value" in element:
            action["value"] = element["value"]
        if element.get("style"):
            action["style"] = element["style"]
    for field in _STATE_FIELDS:
        if field in chosen:
            action[field] = chosen[field]
    return action


def message_action_body(
    ws: Workspace,
    *,
    user_id: str,
    channel_id: str,
    message: Json,
    is_ephemeral: bool,
    action: Json,
    trigger_id: str,
    response_url: str,
) -> str:
    """``block_actions`` from an element in a message."""
    channel = ws.channels.get(channel_id)
    payload: Json = {
        "type": "block_actions",
        "user": _user(ws, user_id),
        "api_app_id": ws.app_id,
        "token": "deprecated-verification-token",
        "container": {
            "type": "message",
            "message_ts": message.get("ts"),
            "channel_id": channel_id,
            "is_ephemeral": is_ephemeral,
        },
        "trigger_id": trigger_id,
        "team": _team(ws),
        "enterprise": None,
        "is_enterprise_install": False,
        "channel": {"id": channel_id, "name": channel.name if channel else channel_id},
        "state": {"values": {}},
        "response_url": response_url,
        "actions": [action],
    }
    if not is_ephemeral:
        payload["message"] = message
    return interactivity_body(payload)


def view_state_json(ws: Workspace, view: View, values: Json) -> Json:
    """The view as Slack sends it back: its current blocks plus ``state.values``."""
    data = view_json(ws, view)
    data["state"] = {"values": values}
    return data


def view_action_body(
    ws: Workspace, *, user_id: str, view: View, values: Json, action: Json, trigger_id: str
) -> str:
    """``block_actions`` from an element in a modal or the Home tab."""
    payload: Json = {
        "type": "block_actions",
        "user": _user(ws, user_id),
        "api_app_id": ws.app_id,
        "token": "deprecated-verification-token",
        "container": {"type": "view", "view_id": view.id},
        "trigger_id": trigger_id,
        "team": _team(ws),
        "enterprise": None,
        "is_enterprise_install": False,
        "view": view_state_json(ws, view, values),
        "actions": [action],
    }
    return interactivity_body(payload)


def view_submission_body(
    ws: Workspace, *, user_id: str, view: View, values: Json, trigger_id: str
) -> str:
    """``view_submission`` of a modal with the values the person entered."""
    payload: Json = {
        "type": "view_submission",
        "team": _team(ws),
        "user": _user(ws, user_id),
        "api_app_id": ws.app_id,
        "token": "deprecated-verification-token",
        "trigger_id": trigger_id,
        "view": view_state_json(ws, view, values),
        "response_urls": [],
        "is_enterprise_install": False,
        "enterprise": None,
    }
    return interactivity_body(payload)


def home_opened_body(ws: Workspace, *, user_id: str, channel_id: str, view: View | None) -> str:
    """The ``app_home_opened`` event for the Home tab."""
    event: Json = {
        "type": "app_home_opened",
        "user": user_id,
        "channel": channel_id,
        "tab": "home",
        "event_ts": f"{time.time():.6f}",
    }
    if view is not None:
        event["view"] = view_json(ws, view)
    return event_callback(event, team_id=ws.team_id, api_app_id=ws.app_id)


def message_for_payload(ws: Workspace, channel_id: str, ts: str) -> Json | None:
    """A channel message as a ``block_actions`` payload carries it."""
    message = ws.find_message(channel_id, ts)
    return message_json(ws, message) if message is not None else None
