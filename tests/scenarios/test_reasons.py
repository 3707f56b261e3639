"""Buttons that ask for a reason first: reject an approval, request escalation."""

from __future__ import annotations

import json

from epbot.adapters.slack.ids import Action, Callback
from epbot.adapters.slack.render import REASON_FIELD
from epbot.domain.incident import ApprovalStatus, Status
from epbot.fakeslack.signing import view_submission
from tests.scenarios.conftest import Harness
from tests.scenarios.test_incident_flow import (
    COMMANDER,
    LEADER,
    declare_acked,
    request_leadership_approval,
)

TITLES = {
    Callback.REJECT_REASON: {"Reason to reject", "驳回理由"},
    Callback.ESCALATION_REASON: {"Reason to escalate", "升级理由"},
}


async def _reason_modal(harness: Harness, before: int, callback: Callback) -> dict[str, object]:
    opened = await harness.eventually(lambda: harness.fake.calls_to("views.open")[before:])
    view = opened[-1].args["view"]
    assert view["callback_id"] == callback.value
    assert view["title"]["text"] in TITLES[callback]
    return dict(view)


async def _submit_reason(
    harness: Harness, view: dict[str, object], user: str, reason: str, view_id: str
) -> None:
    body = view_submission(
        user_id=user,
        callback_id=str(view["callback_id"]),
        view_id=view_id,
        state_values={REASON_FIELD: {REASON_FIELD: {"type": "plain_text_input", "value": reason}}},
        private_metadata=str(view["private_metadata"]),
    )
    status, _ = await harness.post(body)
    assert status == 200


async def test_reject_asks_for_a_reason_and_records_it(harness: Harness) -> None:
    incident_id = await declare_acked(harness)
    approval = await request_leadership_approval(harness, incident_id)
    before = len(harness.fake.calls_to("views.open"))
    status, _ = await harness.click(
        Action.APPROVAL_REJECT.value,
        f"{incident_id}:{approval}",
        user=LEADER,
        ref_key=f"approval:{incident_id}:{approval}:{LEADER}",
    )
    assert status == 200
    view = await _reason_modal(harness, before, Callback.REJECT_REASON)
    assert json.loads(str(view["private_metadata"]))["target"] == approval
    # Nothing is decided before the reason is given.
    state = await harness.state(incident_id)
    assert state.approvals[approval].status is ApprovalStatus.PENDING

    await _submit_reason(harness, view, LEADER, "contained locally", "V0REJECT1")

    async def rejected() -> bool:
        decided = (await harness.state(incident_id)).approvals[approval]
        return decided.status is ApprovalStatus.REJECTED

    await harness.eventually(rejected)
    state = await harness.state(incident_id)
    assert state.approvals[approval].reason == "contained locally"
    assert state.approvals[approval].decided_by == LEADER
    assert state.status is Status.INITIAL_HANDLING


async def test_escalation_request_asks_for_a_reason(harness: Harness) -> None:
    incident_id = await harness.declare()
    before = len(harness.fake.calls_to("views.open"))
    status, _ = await harness.click(
        Action.ESCALATION_REQUEST.value,
        str(incident_id),
        user=COMMANDER,
        ref_key=f"card:{incident_id}",
    )
    assert status == 200
    view = await _reason_modal(harness, before, Callback.ESCALATION_REASON)
    await _submit_reason(harness, view, COMMANDER, "spreading to other units", "V0ESCAL1")

    async def requested() -> bool:
        timeline = await harness.bot.service.timeline(incident_id)
        return any(e["kind"] == "escalation_requested" for e in timeline)

    await harness.eventually(requested)
