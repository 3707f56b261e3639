"""views.* through a real AsyncWebClient."""

from __future__ import annotations

from typing import Any

import pytest
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from epbot.fakeslack import FakeSlack


def _modal(title: str = "Declare incident", **extra: Any) -> dict[str, Any]:
    return {
        "type": "modal",
        "callback_id": "declare",
        "title": {"type": "plain_text", "text": title},
        "submit": {"type": "plain_text", "text": "Declare"},
        "blocks": [
            {
                "type": "input",
                "block_id": "summary",
                "label": {"type": "plain_text", "text": "Summary"},
                "element": {"type": "plain_text_input", "action_id": "value"},
            }
        ],
        **extra,
    }


async def test_open_update_push(client: AsyncWebClient, fake: FakeSlack) -> None:
    trigger = fake.workspace.issue_trigger("U0ALICE")
    opened = await client.views_open(trigger_id=trigger, view=_modal(private_metadata="inc-1"))
    view = opened["view"]
    assert view["id"].startswith("V")
    assert view["root_view_id"] == view["id"]
    assert view["private_metadata"] == "inc-1"
    assert view["callback_id"] == "declare"
    assert fake.workspace.views[view["id"]].user_id == "U0ALICE"
    with pytest.raises(SlackApiError) as raised:
        await client.views_open(trigger_id=trigger, view=_modal())
    assert raised.value.response["error"] == "exchanged_trigger_id"

    updated = await client.views_update(
        view_id=view["id"], view=_modal(title="Updated"), hash=view["hash"]
    )
    assert updated["view"]["title"]["text"] == "Updated"
    with pytest.raises(SlackApiError) as raised:
        await client.views_update(view_id=view["id"], view=_modal(), hash=view["hash"])
    assert raised.value.response["error"] == "hash_conflict"

    pushed = await client.views_push(
        trigger_id=fake.workspace.issue_trigger("U0ALICE"), view=_modal(title="Step 2")
    )
    assert pushed["view"]["previous_view_id"] == view["id"]
    assert pushed["view"]["root_view_id"] == view["id"]


@pytest.mark.parametrize(
    ("view", "pointer"),
    [
        (_modal(title="x" * 25), "/view/title/text"),
        (_modal(private_metadata="m" * 3001), "/view/private_metadata"),
        ({**_modal(), "blocks": [{"type": "divider"}] * 101}, "/view/blocks"),
        ({**_modal(), "title": None}, "/view"),
    ],
)
async def test_invalid_views(
    client: AsyncWebClient, fake: FakeSlack, view: dict[str, Any], pointer: str
) -> None:
    with pytest.raises(SlackApiError) as raised:
        await client.views_open(trigger_id=fake.workspace.issue_trigger("U0ALICE"), view=view)
    body = raised.value.response
    assert body["error"] == "invalid_arguments"
    assert any(f"[json-pointer:{pointer}]" in m for m in body["response_metadata"]["messages"])


async def test_missing_view_and_trigger(client: AsyncWebClient) -> None:
    with pytest.raises(SlackApiError) as raised:
        await client.api_call("views.open", json={"trigger_id": "1.2.3"})
    assert raised.value.response["response_metadata"]["messages"] == [
        "[ERROR] missing required field: view"
    ]
    with pytest.raises(SlackApiError) as raised:
        await client.api_call("views.open", json={"view": _modal()})
    assert raised.value.response["error"] == "invalid_arguments"


async def test_strict_triggers(client: AsyncWebClient, fake: FakeSlack) -> None:
    fake.workspace.strict_triggers = True
    with pytest.raises(SlackApiError) as raised:
        await client.views_open(trigger_id="123.456.made-up", view=_modal())
    assert raised.value.response["error"] == "invalid_trigger_id"


async def test_publish_keeps_one_home_per_user(client: AsyncWebClient, fake: FakeSlack) -> None:
    home = {
        "type": "home",
        "blocks": [{"type": "section", "text": {"type": "mrkdwn", "text": "On call"}}],
    }
    first = await client.views_publish(user_id="U0ALICE", view=home)
    second = await client.views_publish(user_id="U0ALICE", view=home)
    assert first["view"]["id"] == second["view"]["id"]
    assert fake.workspace.home_views["U0ALICE"] == first["view"]["id"]
    with pytest.raises(SlackApiError) as raised:
        await client.views_publish(user_id="U0ALICE", view=_modal())
    assert raised.value.response["error"] == "invalid_arguments"
