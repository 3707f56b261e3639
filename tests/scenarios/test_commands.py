"""``/incident`` and its sub-commands, and the Home tab, over signed HTTP requests."""

from __future__ import annotations

import json
import logging
from typing import Any

import pytest

from epbot.domain.incident import FINISHED_STEP, Status, StepStatus
from tests.scenarios.conftest import REPORTER, Harness, report_values
from tests.scenarios.test_incident_flow import (
    COMMANDER,
    LEADER,
    declare_acked,
    request_leadership_approval,
)


async def _replies(harness: Harness, before: int) -> list[Any]:
    return list(await harness.eventually(lambda: harness.fake.calls_to("response_url")[before:]))


async def _in_channel(harness: Harness, incident_id: int, text: str, user: str) -> list[Any]:
    """``/incident <text>`` typed in the incident's channel; the ephemeral replies."""
    row = await harness.incident_row(incident_id)
    assert row.channel_id is not None
    before = len(harness.fake.calls_to("response_url"))
    status, _ = await harness.command(text, user=user, channel=row.channel_id)
    assert status == 200
    return await _replies(harness, before)


async def test_update_is_a_thread_reply_under_the_card_escaped(harness: Harness) -> None:
    incident_id = await harness.declare()
    row = await harness.incident_row(incident_id)
    assert row.channel_id is not None
    status, _ = await harness.command(
        "update <!channel> DB restarted & <https://evil|login>",
        user=COMMANDER,
        channel=row.channel_id,
    )
    assert status == 200

    async def posted() -> list[str]:
        await harness.settle()
        replies = harness.fake.workspace.replies(row.channel_id or "", row.card_ts or "")
        return [r.text for r in replies if "DB restarted" in r.text]

    [line] = await harness.eventually(posted)
    assert "&lt;!channel&gt; DB restarted &amp; &lt;https://evil|login&gt;" in line
    assert "<!channel>" not in line
    timeline = await harness.bot.service.timeline(incident_id)
    assert any(e["kind"] == "update_posted" and e["actor"] == COMMANDER for e in timeline)


async def test_resolve_is_refused_while_steps_are_open_then_accepted(harness: Harness) -> None:
    incident_id = await harness.declare()
    [refusal] = await _in_channel(harness, incident_id, "resolve", COMMANDER)
    assert refusal.args.get("response_type", "ephemeral") == "ephemeral"
    state = await harness.state(incident_id)
    open_steps = [s.step_id for s in state.steps.values() if s.status is StepStatus.OPEN]
    assert open_steps
    for step_id in open_steps:  # named by title, not by id (issue 18)
        assert state.playbook.step(step_id).title.en in refusal.args["text"]
    assert state.status is Status.REPORTED

    # The commander skips what is left (with a reason), then resolves from the channel.
    for n in range(100):
        state = await harness.state(incident_id)
        todo = [
            s
            for s in state.steps.values()
            if s.status not in FINISHED_STEP and s.status is not StepStatus.INACTIVE
        ]
        if not todo:
            break
        await harness.bot.service.skip_step(
            key=f"skip:{n}",
            incident_id=incident_id,
            step=todo[0].step_id,
            actor=COMMANDER,
            reason="handled by phone",
        )
    row = await harness.incident_row(incident_id)
    assert row.channel_id is not None
    status, _ = await harness.command(
        "resolve service restored", user=COMMANDER, channel=row.channel_id
    )
    assert status == 200

    async def resolved() -> bool:
        return (await harness.state(incident_id)).status is Status.RESOLVED

    await harness.eventually(resolved)
    await harness.eventually(harness._delivered)
    closing = await harness.ref(f"closing:{incident_id}:resolved")
    report = harness.fake.workspace.find_message(closing.channel, closing.ts)
    assert report is not None
    assert "service restored" in json.dumps(report.blocks)


async def test_resolve_by_someone_else_is_refused(harness: Harness) -> None:
    incident_id = await harness.declare()
    [refusal] = await _in_channel(harness, incident_id, "resolve", REPORTER)
    assert "commander" in refusal.args["text"].lower()
    timeline = await harness.bot.service.timeline(incident_id)
    assert any(e["kind"] == "refused" and e["actor"] == REPORTER for e in timeline)


async def test_status_in_the_channel_and_in_channel_commands_elsewhere(harness: Harness) -> None:
    incident_id = await harness.declare()
    [status] = await _in_channel(harness, incident_id, "status", REPORTER)
    assert "2026-0001" in status.args["text"]
    # Outside an incident channel, "status" says where it works and lists the open
    # incidents (it used to answer "no incident type named status", issue 18).
    before = len(harness.fake.calls_to("response_url"))
    await harness.command("status")
    [reply] = await _replies(harness, before)
    assert "works inside an incident channel" in reply.args["text"]
    assert "2026-0001" in reply.args["text"]


async def test_drill_gets_its_own_channel_prefix_and_number(harness: Harness) -> None:
    incident_id = await harness.declare("virus", drill=True)
    opened = harness.fake.calls_to("views.open")[-1].args["view"]
    assert opened["title"]["text"] == "Report a drill"
    row = await harness.incident_row(incident_id)
    assert row.drill
    assert row.channel_name == "drill-20261124-virus-1"
    assert row.channel_id is not None
    card = harness.fake.workspace.find_message(row.channel_id, row.card_ts or "")
    assert card is not None
    assert "DRILL-2026-0001" in card.text + json.dumps(card.blocks)
    # A real incident the same day numbers independently of drills.
    real = await harness.declare("virus", view_id="V0REAL")
    real_row = await harness.incident_row(real)
    assert real_row.channel_name == "inc-20261124-virus-1"


async def test_a_taken_channel_name_gets_a_suffix(harness: Harness) -> None:
    taken = harness.fake.workspace.add_channel("inc-20261124-db-crash-1")
    incident_id = await harness.declare()
    row = await harness.incident_row(incident_id)
    assert row.channel_name == "inc-20261124-db-crash-1-2"
    assert row.channel_id != taken.id
    refused = [c for c in harness.fake.calls_to("conversations.create") if not c.ok]
    assert [c.response["error"] for c in refused] == ["name_taken"]
    assert harness.fake.workspace.messages_in(taken.id) == []


async def test_list_shows_open_incidents_with_stage_deadline_and_link(harness: Harness) -> None:
    before = len(harness.fake.calls_to("response_url"))
    await harness.command("list")
    [empty] = await _replies(harness, before)
    assert "No open incidents" in empty.args["text"]
    first = await harness.declare()
    await harness.declare("virus", view_id="V0SECOND")
    before = len(harness.fake.calls_to("response_url"))
    await harness.command("list")
    [reply] = await _replies(harness, before)
    text = reply.args["text"]
    assert reply.args.get("response_type", "ephemeral") == "ephemeral"
    assert "2026-0001" in text
    assert "2026-0002" in text
    assert "Database fault" in text
    assert "next:" in text
    row = await harness.incident_row(first)
    assert f"<#{row.channel_id}>" in text


async def test_help_lists_commands_and_every_playbook(harness: Harness) -> None:
    status, body = await harness.command("help")
    assert status == 200
    for playbook in harness.bot.library.current.playbooks:
        assert playbook.id in body
    for word in ("drill", "list", "status", "update", "resolve"):
        assert word in body
    assert harness.fake.calls_to("response_url") == []  # answered in the ack itself


async def test_bare_command_picker_declares_the_chosen_playbook(harness: Harness) -> None:
    await harness.command("")
    [opened] = await harness.eventually(lambda: harness.fake.calls_to("views.open"))
    view = opened.args["view"]
    [picker] = [b for b in view["blocks"] if b.get("block_id") == "playbook"]
    options = {o["value"] for o in picker["element"]["options"]}
    assert options == {p.id for p in harness.bot.library.current.playbooks}
    values = {
        **report_values(),
        "playbook": {
            "playbook": {"type": "static_select", "selected_option": {"value": "power-outage"}}
        },
    }
    status, _ = await harness.submit_report(
        values=values, metadata=view["private_metadata"], view_id="V0PICKED"
    )
    assert status == 200
    [row] = await harness.eventually(harness.incidents)
    assert row.playbook_id == "power-outage"


async def test_types_match_by_alias_in_any_case_and_language(harness: Harness) -> None:
    for n, word in enumerate(("DB", "数据库故障", "Db-Crash")):
        await harness.command(word)
        opened = await harness.eventually(lambda n=n: harness.fake.calls_to("views.open")[n:])
        meta = json.loads(opened[0].args["view"]["private_metadata"])
        assert meta["playbook"] == "db-crash", word


async def test_unknown_type_names_the_closest_match(harness: Harness) -> None:
    await harness.command("databse")
    [reply] = await harness.eventually(lambda: harness.fake.calls_to("response_url"))
    text = reply.args["text"]
    assert "`databse`" in text
    assert "Did you mean `db-crash`" in text
    for playbook in harness.bot.library.current.playbooks:
        assert playbook.id in text
    assert harness.fake.calls_to("views.open") == []


async def test_home_shows_my_open_steps_and_pending_approvals(harness: Harness) -> None:
    incident_id = await declare_acked(harness)
    await request_leadership_approval(harness, incident_id)

    async def home(user: str) -> str:
        before = len(harness.fake.calls_to("views.publish"))
        status, _ = await harness.event(
            {"type": "app_home_opened", "user": user, "tab": "home", "channel": "D1"}
        )
        assert status == 200
        published = await harness.eventually(
            lambda: harness.fake.calls_to("views.publish")[before:]
        )
        assert published[0].ok
        assert published[0].args["user_id"] == user
        return json.dumps(published[0].args["view"], ensure_ascii=False)

    commander = await home(COMMANDER)
    state = await harness.state(incident_id)
    mine = [
        state.playbook.step(s.step_id).title.en
        for s in state.steps.values()
        if s.assignee == COMMANDER and s.status is StepStatus.OPEN
    ]
    assert mine
    for title in mine:
        assert title in commander
    assert "2026-0001" in commander

    leader = await home(LEADER)
    # The approval waiting for the leader, by the step's title (not its id: issue 18).
    assert state.playbook.step("approve-emergency-response").title.en in leader
    assert "approve-emergency-response" not in leader
    assert "start emergency response" in leader
    # The Messages tab is not the Home tab: nothing is published for it.
    before = len(harness.fake.calls_to("views.publish"))
    await harness.event({"type": "app_home_opened", "user": LEADER, "tab": "messages"})
    await harness.settle()
    assert harness.fake.calls_to("views.publish")[before:] == []


async def test_a_rate_limited_modal_says_when_to_try_again(
    harness: Harness, caplog: pytest.LogCaptureFixture
) -> None:
    # Slack answers views.open with 429 and a Retry-After longer than a trigger lives: the
    # person is told Slack is busy and when to try again, not that epbot failed.
    harness.fake.inject_failure("views.open", status=429, times=1, retry_after=30)
    with caplog.at_level(logging.INFO):
        await harness.command("db-crash")
        [reply] = await harness.eventually(lambda: harness.fake.calls_to("response_url"))
    assert "Slack is limiting requests" in reply.args["text"]
    assert "about 30 s." in reply.args["text"]
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]


async def test_the_bot_learns_every_matrix_persons_language_at_start(harness: Harness) -> None:
    # People named by user id need no id look-up, but their pages still need their
    # language: the start asks for every person of the matrix, not only those by e-mail.
    bot = harness.bot
    refs = bot.library.current.matrix.refs()
    by_id = [r for r in refs if "@" not in r]
    assert by_id
    await bot.start(poll_interval=60)
    try:
        assert bot.looking_up is not None
        await bot.looking_up
        asked = {c.args["user"] for c in harness.fake.calls_to("users.info") if c.ok}
        assert set(by_id) <= asked
        calls = len(harness.fake.calls_to("users.info"))
        await bot.client.locale(by_id[0])  # a page's language now asks Slack nothing
        assert len(harness.fake.calls_to("users.info")) == calls
    finally:
        await bot.stop()
