"""The commander's skip (with a reason) and reassign (with a user picker) buttons."""

from __future__ import annotations

import json
from typing import Any

from epbot.adapters.slack.ids import Action, Callback
from epbot.adapters.slack.render import ASSIGNEE_FIELD
from epbot.domain.incident import StepStatus
from epbot.fakeslack.signing import view_submission
from tests.scenarios.conftest import REPORTER, Harness
from tests.scenarios.test_incident_flow import COMMANDER, declare_acked
from tests.scenarios.test_reasons import _submit_reason

STEP = "report-security-officer"  # db-crash, role security-officer
OFFICER = "U01SEC0003"  # first security officer: the step's assignee
DEPUTY = "U01SEC0004"


async def _open_modal(
    harness: Harness, incident_id: int, action: Action, user: str, callback: Callback
) -> dict[str, Any]:
    before = len(harness.fake.calls_to("views.open"))
    status, _ = await harness.click(
        action.value,
        f"{incident_id}:{STEP}",
        user=user,
        ref_key=f"checklist:{incident_id}:report",
    )
    assert status == 200
    opened = await harness.eventually(lambda: harness.fake.calls_to("views.open")[before:])
    assert opened[-1].ok
    view = dict(opened[-1].args["view"])
    assert view["callback_id"] == callback.value
    meta = json.loads(view["private_metadata"])
    assert (meta["incident"], meta["target"]) == (incident_id, STEP)
    return view


def _checklist_buttons(harness: Harness, channel: str, ts: str) -> list[tuple[str, str]]:
    message = harness.fake.workspace.find_message(channel, ts)
    assert message is not None
    found = []
    for block in message.blocks or ():
        for element in [block.get("accessory") or {}, *block.get("elements", ())]:
            if element.get("type") == "button":
                found.append((element["action_id"], element["value"]))
    return found


async def _refused(harness: Harness, incident_id: int, user: str, code: str) -> None:
    async def logged() -> bool:
        timeline = await harness.bot.service.timeline(incident_id)
        return any(
            e["kind"] == "refused" and e["actor"] == user and code in e["payload"] for e in timeline
        )

    await harness.eventually(logged)
    told = await harness.eventually(
        lambda: [c for c in harness.fake.calls_to("chat.postEphemeral") if c.args["user"] == user]
    )
    assert told[-1].ok


async def test_commander_skips_a_step_with_a_reason(harness: Harness) -> None:
    incident_id = await declare_acked(harness)
    checklist = await harness.ref(f"checklist:{incident_id}:report")
    value = f"{incident_id}:{STEP}"
    assert (Action.STEP_SKIP.value, value) in _checklist_buttons(harness, *checklist_key(checklist))
    view = await _open_modal(
        harness, incident_id, Action.STEP_SKIP, COMMANDER, Callback.SKIP_REASON
    )
    assert view["title"]["text"] == "Reason to skip"
    await _submit_reason(harness, view, COMMANDER, "<!channel> officer on leave", "V0SKIP1")

    async def skipped() -> bool:
        return (await harness.state(incident_id)).steps[STEP].status is StepStatus.SKIPPED

    await harness.eventually(skipped)
    await harness.eventually(harness._delivered)
    step = (await harness.state(incident_id)).steps[STEP]
    assert step.note == "<!channel> officer on leave"
    assert step.done_by == COMMANDER
    # The checklist lost the step's buttons; the thread says why, escaped.
    buttons = _checklist_buttons(harness, *checklist_key(checklist))
    assert all(v != value for _, v in buttons)
    replies = harness.fake.workspace.replies(checklist.channel, checklist.ts)
    line = next(r.text for r in replies if "skipped" in r.text)
    assert "&lt;!channel&gt; officer on leave" in line
    assert "<!channel>" not in line


async def test_only_the_commander_may_skip(harness: Harness) -> None:
    incident_id = await declare_acked(harness)
    view = await _open_modal(harness, incident_id, Action.STEP_SKIP, OFFICER, Callback.SKIP_REASON)
    await _submit_reason(harness, view, OFFICER, "I would rather not", "V0SKIP2")
    await _refused(harness, incident_id, OFFICER, "not_commander")
    assert (await harness.state(incident_id)).steps[STEP].status is StepStatus.OPEN


def _assignee_values(user: str | None) -> dict[str, Any]:
    element: dict[str, Any] = {"type": "users_select"}
    if user is not None:
        element["selected_user"] = user
    return {ASSIGNEE_FIELD: {ASSIGNEE_FIELD: element}}


async def _submit_assignee(
    harness: Harness, view: dict[str, Any], user: str, picked: str | None, view_id: str
) -> tuple[int, str]:
    body = view_submission(
        user_id=user,
        callback_id=str(view["callback_id"]),
        view_id=view_id,
        state_values=_assignee_values(picked),
        private_metadata=str(view["private_metadata"]),
    )
    return await harness.post(body)


async def test_commander_reassigns_a_step_with_the_user_picker(harness: Harness) -> None:
    incident_id = await declare_acked(harness)
    view = await _open_modal(
        harness, incident_id, Action.STEP_REASSIGN, COMMANDER, Callback.REASSIGN
    )
    [picker] = [b for b in view["blocks"] if b.get("block_id") == ASSIGNEE_FIELD]
    assert picker["element"]["type"] == "users_select"
    assert picker["element"]["initial_user"] == OFFICER  # the current assignee

    # Nobody picked: the modal answers a field error and nothing changes.
    status, body = await _submit_assignee(harness, view, COMMANDER, None, "V0REASSIGN0")
    assert status == 200
    assert set(json.loads(body)["errors"]) == {ASSIGNEE_FIELD}

    status, _ = await _submit_assignee(harness, view, COMMANDER, DEPUTY, "V0REASSIGN1")
    assert status == 200

    async def reassigned() -> bool:
        return (await harness.state(incident_id)).steps[STEP].assignee == DEPUTY

    await harness.eventually(reassigned)
    await harness.eventually(harness._delivered)
    checklist = await harness.ref(f"checklist:{incident_id}:report")
    message = harness.fake.workspace.find_message(checklist.channel, checklist.ts)
    assert message is not None
    assert f"<@{DEPUTY}>" in json.dumps(message.blocks)
    replies = harness.fake.workspace.replies(checklist.channel, checklist.ts)
    assert any("reassigned" in r.text and f"<@{DEPUTY}>" in r.text for r in replies)
    # The new assignee was invited to the incident channel, where the line mentions them.
    assert DEPUTY in harness.fake.workspace.channels[checklist.channel].members


async def test_an_outsider_may_not_reassign(harness: Harness) -> None:
    incident_id = await declare_acked(harness)
    view = await _open_modal(
        harness, incident_id, Action.STEP_REASSIGN, REPORTER, Callback.REASSIGN
    )
    status, _ = await _submit_assignee(harness, view, REPORTER, REPORTER, "V0REASSIGN2")
    assert status == 200
    await _refused(harness, incident_id, REPORTER, "not_responsible")
    assert (await harness.state(incident_id)).steps[STEP].assignee == OFFICER


def checklist_key(ref: Any) -> tuple[str, str]:
    return ref.channel, ref.ts
