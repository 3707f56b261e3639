"""Issue 15 end to end: the plan's reports reach their recipients outside the incident
channel (信息报告 by step.report, 续报 at the playbook's interval, 终报 on resolve)."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

from sqlmodel import col, select

from epbot.adapters.db import models as m
from epbot.adapters.slack.ids import Action
from epbot.domain.incident import Status, StepStatus
from tests.scenarios.conftest import Harness
from tests.scenarios.reporting import open_report, send_step_report, submit_report
from tests.scenarios.test_incident_flow import COMMANDER, LEADER, declare_acked

PLACE = "二号机房 / server room 2"
PHONE = "+86 22-2630-9999"


def _posts_to(harness: Harness, channel: str) -> list[dict[str, Any]]:
    calls = harness.fake.calls_to("chat.postMessage")
    return [c.args for c in calls if c.args["channel"] == channel]


def _text(args: dict[str, Any]) -> str:
    return str(args.get("text")) + json.dumps(args.get("blocks") or [], ensure_ascii=False)


async def test_the_15_minute_report_reaches_the_leadership_group(harness: Harness) -> None:
    incident_id = await declare_acked(harness)  # db-crash at severity II
    state = await harness.state(incident_id)
    assert state.steps["report-leadership"].status is StepStatus.OPEN
    harness.clock.advance(timedelta(minutes=6))
    sent_at = harness.clock.now()
    await send_step_report(
        harness,
        incident_id,
        "report-leadership",
        user=COMMANDER,
        place=PLACE,
        contact_phone=PHONE,
    )
    row = await harness.incident_row(incident_id)
    link = f"<#{row.channel_id}>"
    state = await harness.state(incident_id)
    step = state.steps["report-leadership"]
    assert step.status is StepStatus.DONE
    assert step.done_at == sent_at  # the delivery is the completion, within 15 minutes
    assert step.done_at <= (step.due_at or sent_at)
    for person in state.members("leadership-group"):
        [dm] = [a for a in _posts_to(harness, harness.slack_id(person)) if PLACE in _text(a)]
        assert PHONE in _text(dm)
        assert link in _text(dm)
    leadership = harness.fake.workspace.channel_by_name("ep-leadership")
    assert leadership is not None
    unit_posts = [
        json.dumps(msg.blocks, ensure_ascii=False)
        for msg in harness.fake.workspace.messages_in(leadership.id)
        if PLACE in json.dumps(msg.blocks, ensure_ascii=False)
    ]
    assert len(unit_posts) == 1
    assert link in unit_posts[0]
    assert PHONE in unit_posts[0]
    # Nothing of the report is posted as a report inside the incident channel itself.
    assert not [a for a in _posts_to(harness, row.channel_id or "") if PHONE in _text(a)]
    # The edited report is a new version, and the record says who was told what, when.
    async with harness.sessions()() as session:
        versions = list(
            await session.exec(
                select(m.Report)
                .where(col(m.Report.incident_id) == incident_id)
                .order_by(col(m.Report.version))
            )
        )
    assert [v.version for v in versions] == [1, 2]
    assert versions[-1].place == PLACE
    assert versions[-1].contact_phone == PHONE
    timeline = await harness.bot.service.timeline(incident_id)
    [sent] = [e for e in timeline if e["kind"] == "report_sent"]
    assert sent["actor"] == COMMANDER
    payload = json.loads(sent["payload"])
    assert payload["version"] == 2
    assert payload["report"]["place"] == PLACE
    assert payload["people"] == list(state.members("leadership-group"))
    # A report step cannot be ticked instead.
    await harness.click(
        Action.STEP_DONE.value,
        f"{incident_id}:report-office",
        user=COMMANDER,
        ref_key=f"checklist:{incident_id}:report",
    )
    await harness.eventually(harness._delivered)
    assert (await harness.state(incident_id)).steps["report-office"].status is StepStatus.OPEN


async def test_progress_reports_are_prompted_and_reach_the_leaders(harness: Harness) -> None:
    incident_id = await declare_acked(harness)
    await send_step_report(harness, incident_id, "report-leadership", user=COMMANDER)
    approval = "approve-emergency-response"
    await harness.click(
        Action.APPROVAL_APPROVE.value,
        f"{incident_id}:{approval}",
        user=LEADER,
        ref_key=f"approval:{incident_id}:{approval}:{LEADER}",
    )

    async def escalated() -> bool:
        return (await harness.state(incident_id)).status is Status.EMERGENCY_RESPONSE

    await harness.eventually(escalated)
    await harness.eventually(harness._delivered)
    prompts_before = [
        a for a in _posts_to(harness, COMMANDER) if Action.REPORT_PROGRESS.value in _text(a)
    ]
    assert not prompts_before
    harness.clock.advance(timedelta(hours=1, seconds=1))
    await harness.bot.service.tick()
    await harness.eventually(harness._delivered)
    prompts = [a for a in _posts_to(harness, COMMANDER) if Action.REPORT_PROGRESS.value in _text(a)]
    assert len(prompts) == 1
    assert "Progress report" in _text(prompts[0])

    view = await open_report(harness, incident_id, user=COMMANDER, step=None, ref_key=None)
    status, _ = await submit_report(
        harness,
        view,
        user=COMMANDER,
        view_id="V0PROGRESS1",
        changes="replica promoted to primary",
        next_steps="verify uploads",
        help="none",
    )
    assert status == 200

    async def progressed() -> list[dict[str, Any]]:
        timeline = await harness.bot.service.timeline(incident_id)
        return [
            e
            for e in timeline
            if e["kind"] == "report_sent" and json.loads(e["payload"])["kind"] == "progress"
        ]

    await harness.eventually(progressed)
    await harness.eventually(harness._delivered)
    dm = [a for a in _posts_to(harness, LEADER) if "replica promoted to primary" in _text(a)]
    assert dm
    # The next prompt counts from this report, not from the last prompt.
    harness.clock.advance(timedelta(minutes=59))
    await harness.bot.service.tick()
    await harness.eventually(harness._delivered)
    again = [a for a in _posts_to(harness, COMMANDER) if Action.REPORT_PROGRESS.value in _text(a)]
    assert len(again) == 1


async def test_resolve_delivers_the_final_report_to_the_same_recipients(harness: Harness) -> None:
    incident_id = await declare_acked(harness)
    await send_step_report(harness, incident_id, "report-leadership", user=COMMANDER)
    for n in range(100):
        state = await harness.state(incident_id)
        todo = [
            s
            for s in state.steps.values()
            if s.status in (StepStatus.OPEN, StepStatus.PENDING, StepStatus.AWAITING_APPROVAL)
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
    status, _ = await harness.command(
        "resolve database restored from the off-site backup", user=COMMANDER, channel=row.channel_id
    )
    assert status == 200

    async def resolved() -> bool:
        return (await harness.state(incident_id)).status is Status.RESOLVED

    await harness.eventually(resolved)
    timeline = await harness.bot.service.timeline(incident_id)
    assert [e for e in timeline if e["kind"] == "final_report"]

    async def finals() -> list[dict[str, Any]]:
        await harness.settle()
        return [
            a
            for a in _posts_to(harness, LEADER)
            if "database restored from the off-site backup" in _text(a)
        ]

    [final] = await harness.eventually(finals)
    assert "Final report" in _text(final)
    assert f"<#{row.channel_id}>" in _text(final)


async def test_an_update_offers_to_send_it_upward_as_a_progress_report(harness: Harness) -> None:
    incident_id = await declare_acked(harness)
    row = await harness.incident_row(incident_id)
    assert row.channel_id is not None
    status, _ = await harness.command(
        "update replica promoted", user=COMMANDER, channel=row.channel_id
    )
    assert status == 200

    def offers() -> list[Any]:
        return [
            e
            for e in harness.fake.workspace.ephemerals
            if e.user == COMMANDER and Action.REPORT_PROGRESS.value in json.dumps(e.blocks or [])
        ]

    [offer] = await harness.eventually(offers)
    assert offer.channel == row.channel_id  # only the commander sees it, where they typed
    # The offer's button opens the progress report (续报) form for this incident.
    view = await open_report(harness, incident_id, user=COMMANDER, step=None, ref_key=None)
    assert json.loads(str(view["private_metadata"]))["incident"] == incident_id
