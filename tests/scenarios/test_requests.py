"""Slack requests at the edge: retries, validation errors, replies, the Home tab."""

from __future__ import annotations

import json
from datetime import timedelta

from tests.scenarios.conftest import REPORTER, START, Harness, report_values


async def test_retried_submission_makes_one_incident(harness: Harness) -> None:
    status, _ = await harness.submit_report(view_id="V0RETRY")
    assert status == 200
    await harness.eventually(harness.incidents)
    status, _ = await harness.submit_report(view_id="V0RETRY", retry_num=1)
    assert status == 200
    status, _ = await harness.submit_report(view_id="V0RETRY")  # a double submit, no header
    assert status == 200
    await harness.eventually(harness._delivered)
    assert len(await harness.incidents()) == 1
    assert len(harness.fake.calls_to("conversations.create")) == 1


async def test_invalid_report_answers_errors_per_field(harness: Harness) -> None:
    future = int((START + timedelta(hours=1)).timestamp())
    values = report_values(
        contact_phone={"value": "call me"},
        occurred_at={"selected_date_time": future},
        place={"value": "  "},
    )
    status, body = await harness.submit_report(values=values)
    assert status == 200
    answer = json.loads(body)
    assert answer["response_action"] == "errors"
    assert set(answer["errors"]) == {"contact_phone", "occurred_at", "place"}
    assert "future" in answer["errors"]["occurred_at"]  # the reporter's locale is en-US
    assert await harness.incidents() == []


async def test_unknown_type_and_help_are_private(harness: Harness) -> None:
    status, _ = await harness.command("no-such-thing")
    assert status == 200
    [reply] = await harness.eventually(lambda: harness.fake.calls_to("response_url"))
    assert reply.args.get("response_type", "ephemeral") == "ephemeral"
    assert "no-such-thing" in reply.args["text"]
    status, body = await harness.command("help")
    assert status == 200
    assert "db-crash" in body
    assert harness.fake.calls_to("views.open") == []


async def test_bare_command_opens_the_picker(harness: Harness) -> None:
    await harness.command("")
    [opened] = await harness.eventually(lambda: harness.fake.calls_to("views.open"))
    blocks = opened.args["view"]["blocks"]
    assert any(b.get("block_id") == "playbook" for b in blocks)


async def test_list_and_status(harness: Harness) -> None:
    incident_id = await harness.declare()
    await harness.command("list")
    [reply] = await harness.eventually(lambda: harness.fake.calls_to("response_url"))
    [row] = await harness.incidents()
    assert row.id == incident_id
    assert str(row.seq) in reply.args["text"]


async def test_home_tab_is_published(harness: Harness) -> None:
    await harness.declare()
    status, _ = await harness.event(
        {"type": "app_home_opened", "user": "U01EOF0001", "tab": "home", "channel": "D1"}
    )
    assert status == 200
    [published] = await harness.eventually(lambda: harness.fake.calls_to("views.publish"))
    assert published.args["user_id"] == "U01EOF0001"
    assert published.ok


async def test_email_people_are_paged_by_their_slack_id(harness: Harness) -> None:
    ws = harness.fake.workspace
    user = ws.user_by_email("pm.backup@inspur-vendor.example.com")
    assert user is not None
    assert REPORTER in ws.users
    assert (await harness.bot.ui.actor(user.id)) == "pm.backup@inspur-vendor.example.com"


async def test_a_failure_after_ack_is_told_to_the_user_and_the_ack_stands(
    harness: Harness,
) -> None:
    # views.open fails after the command was acknowledged: Slack still gets its 200, and
    # the reporter learns privately that it did not go through (instead of silence).
    harness.fake.inject_failure("views.open", status="expired_trigger_id")
    status, _ = await harness.command("db-crash")
    assert status == 200
    [reply] = await harness.eventually(lambda: harness.fake.calls_to("response_url"))
    assert reply.args.get("response_type") == "ephemeral"
    assert "may not have gone through" in reply.args["text"]  # the reporter's locale is en-US
    assert await harness.incidents() == []
    status, _ = await harness.command("db-crash")  # the next try works
    assert status == 200
    await harness.eventually(lambda: harness.fake.calls_to("views.open"))
