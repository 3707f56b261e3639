"""Issue 15: a refused gate stays shut, the checklist says so, the commander asks again."""

from __future__ import annotations

from epbot.adapters.slack.ids import Action, Callback
from epbot.domain.incident import ApprovalStatus, StepStatus
from tests.scenarios.conftest import Harness
from tests.scenarios.test_incident_flow import COMMANDER
from tests.scenarios.test_reasons import _submit_reason

OFFICER = "U01SEC0003"  # security-officer: approves "stop the system" (Art. 8.1)


async def _modal(harness: Harness, before: int, callback: Callback) -> dict[str, object]:
    opened = await harness.eventually(lambda: harness.fake.calls_to("views.open")[before:])
    view = opened[-1].args["view"]
    assert view["callback_id"] == callback.value
    return dict(view)


async def test_refused_stop_keeps_forensics_shut_until_asked_again(harness: Harness) -> None:
    incident_id = await harness.declare("attack")
    await harness.click(
        Action.INCIDENT_ACK.value,
        f"{incident_id}:emergency-office#1",
        user=COMMANDER,
        ref_key=f"page:{incident_id}:emergency-office#1",
    )
    await harness.eventually(lambda: _commander(harness, incident_id))
    dm = f"approval:{incident_id}:stop-system:{OFFICER}"
    await harness.eventually(harness._delivered)
    before = len(harness.fake.calls_to("views.open"))
    await harness.click(
        Action.APPROVAL_REJECT.value, f"{incident_id}:stop-system", user=OFFICER, ref_key=dm
    )
    view = await _modal(harness, before, Callback.REJECT_REASON)
    await _submit_reason(harness, view, OFFICER, "service must stay up", "V0REFUSE1")

    async def refused() -> bool:
        state = await harness.state(incident_id)
        return state.steps["stop-system"].status is StepStatus.REJECTED

    await harness.eventually(refused)
    await harness.eventually(harness._delivered)
    state = await harness.state(incident_id)
    assert state.steps["trace-source"].status is StepStatus.PENDING
    # The checklist says it is refused and offers "ask again" to the commander.
    checklist = await harness.ref(f"checklist:{incident_id}:initial_handling")
    message = harness.fake.workspace.find_message(checklist.channel, checklist.ts)
    assert message is not None
    blob = str(message.blocks)
    assert Action.APPROVAL_ASK_AGAIN.value in blob
    assert "the steps after it stay closed" in blob
    # Ask again with a reason: a second approval goes to the approvers.
    before = len(harness.fake.calls_to("views.open"))
    await harness.click(
        Action.APPROVAL_ASK_AGAIN.value,
        f"{incident_id}:stop-system",
        user=COMMANDER,
        ref_key=f"checklist:{incident_id}:initial_handling",
    )
    view = await _modal(harness, before, Callback.ASK_AGAIN_REASON)
    await _submit_reason(harness, view, COMMANDER, "files are being encrypted", "V0AGAIN1")

    async def asked() -> bool:
        state = await harness.state(incident_id)
        return "stop-system#2" in state.approvals

    await harness.eventually(asked)
    await harness.eventually(harness._delivered)
    state = await harness.state(incident_id)
    assert state.approvals["stop-system"].status is ApprovalStatus.REJECTED
    assert state.steps["stop-system"].status is StepStatus.AWAITING_APPROVAL
    await harness.ref(f"approval:{incident_id}:stop-system#2:{OFFICER}")  # a fresh DM
    timeline = await harness.bot.service.timeline(incident_id)
    asked_again = [e for e in timeline if e["kind"] == "approval_asked_again"]
    assert asked_again
    assert asked_again[0]["actor"] == COMMANDER
    assert "files are being encrypted" in asked_again[0]["payload"]


async def _commander(harness: Harness, incident_id: int) -> bool:
    return (await harness.state(incident_id)).commander == COMMANDER
