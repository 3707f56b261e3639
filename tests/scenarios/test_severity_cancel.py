"""Issue 15: severity changes, false alarms (误报) and closing, from the incident channel."""

from __future__ import annotations

from datetime import timedelta

from epbot.domain.incident import FINISHED_STEP, Status, StepStatus
from epbot.domain.playbook import Severity
from tests.scenarios.conftest import Harness, report_values
from tests.scenarios.test_commands import _in_channel
from tests.scenarios.test_incident_flow import COMMANDER, LEADER, declare_acked

VENDOR = "U05DBV0001"  # a database engineer: neither commander, office nor leadership


async def _command(harness: Harness, incident_id: int, text: str, user: str) -> None:
    row = await harness.incident_row(incident_id)
    assert row.channel_id is not None
    status, _ = await harness.command(text, user=user, channel=row.channel_id)
    assert status == 200


async def test_raising_iv_to_ii_adds_the_major_steps_counted_from_the_change(
    harness: Harness,
) -> None:
    incident_id = await harness.declare(
        values=report_values(severity={"selected_option": {"value": "IV"}})
    )
    state = await harness.state(incident_id)
    assert state.steps["report-leadership"].status is StepStatus.NOT_APPLICABLE
    # Someone who may not judge the severity is refused, and the refusal is on the record.
    [refusal] = await _in_channel(harness, incident_id, "severity II it is big", VENDOR)
    assert "leadership group" in refusal.args["text"]
    [usage] = await _in_channel(harness, incident_id, "severity V bigger", COMMANDER)
    assert "/incident severity" in usage.args["text"]
    assert (await harness.state(incident_id)).severity is Severity.IV

    harness.clock.advance(timedelta(minutes=40))
    changed_at = harness.clock.now()
    await _command(harness, incident_id, "severity II every unit is affected", COMMANDER)

    async def raised() -> bool:
        return (await harness.state(incident_id)).severity is Severity.II

    await harness.eventually(raised)
    await harness.eventually(harness._delivered)
    state = await harness.state(incident_id)
    report = state.steps["report-leadership"]
    assert report.status is StepStatus.OPEN
    assert report.due_at == changed_at + timedelta(minutes=15)
    assert state.steps["approve-emergency-response"].status is StepStatus.PENDING
    assert (await harness.incident_row(incident_id)).severity == "II"
    timeline = await harness.bot.service.timeline(incident_id)
    [change] = [e for e in timeline if e["kind"] == "severity_changed"]
    assert change["actor"] == COMMANDER
    assert "every unit is affected" in change["payload"]
    assert any(e["kind"] == "refused" and e["actor"] == VENDOR for e in timeline)
    texts = "\n".join(harness.all_texts())
    assert "every unit is affected" in texts

    # Lowering again ends the major-event steps, on the record, by the leadership group.
    await _command(harness, incident_id, "severity III contained to one unit", LEADER)

    async def lowered() -> bool:
        state = await harness.state(incident_id)
        return state.steps["report-leadership"].status is StepStatus.NOT_APPLICABLE

    await harness.eventually(lowered)
    timeline = await harness.bot.service.timeline(incident_id)
    ended = [e for e in timeline if e["kind"] == "step_not_applicable"]
    assert {e["actor"] for e in ended} == {LEADER}


async def test_a_false_alarm_stops_everything_and_nothing_more_is_posted(
    harness: Harness,
) -> None:
    incident_id = await declare_acked(harness)
    await _command(harness, incident_id, "cancel 误报：监控探针故障", COMMANDER)

    async def cancelled() -> bool:
        return (await harness.state(incident_id)).status is Status.CANCELLED

    await harness.eventually(cancelled)
    await harness.eventually(harness._delivered)
    row = await harness.incident_row(incident_id)
    assert row.cancel_reason == "误报：监控探针故障"
    card = harness.fake.workspace.find_message(row.channel_id or "", row.card_ts or "")
    assert card is not None
    assert "false alarm" in str(card.blocks)
    assert "监控探针故障" in str(card.blocks)
    posted = len(harness.fake.calls_to("chat.postMessage"))
    updated = len(harness.fake.calls_to("chat.update"))
    # Hours later every deadline would have fired: nothing is posted, no one is paged.
    harness.clock.advance(timedelta(hours=6))
    assert await harness.bot.service.tick() == 0
    await harness.settle()
    assert len(harness.fake.calls_to("chat.postMessage")) == posted
    assert len(harness.fake.calls_to("chat.update")) == updated
    state = await harness.state(incident_id)
    assert not [t for t in state.timers if t.live]


async def test_a_resolved_incident_is_closed_from_slack(harness: Harness) -> None:
    incident_id = await declare_acked(harness)
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
    await _command(harness, incident_id, "resolve restored", COMMANDER)

    async def resolved() -> bool:
        return (await harness.state(incident_id)).status is Status.RESOLVED

    await harness.eventually(resolved)
    [refusal] = await _in_channel(harness, incident_id, "close", VENDOR)
    assert "commander" in refusal.args["text"]
    await _command(harness, incident_id, "close", COMMANDER)

    async def closed() -> bool:
        return (await harness.state(incident_id)).status is Status.CLOSED

    await harness.eventually(closed)
    timeline = await harness.bot.service.timeline(incident_id)
    assert any(
        e["kind"] == "status_changed" and e["actor"] == COMMANDER and '"closed"' in e["payload"]
        for e in timeline
    )
