"""Send a report step's report (or a progress report) the way a person does in Slack:
click ``step.report`` / ``report.progress``, take the pre-filled modal, edit, submit."""

from __future__ import annotations

from typing import Any

from epbot.adapters.slack.ids import Action, Callback
from epbot.fakeslack.signing import view_submission
from tests.scenarios.conftest import Harness


def _state_of(block: dict[str, Any]) -> dict[str, Any] | None:
    """``view.state.values`` entry of one input block as Slack fills it from its initial."""
    element = block.get("element") or {}
    kind = element.get("type")
    if kind == "plain_text_input":
        return {"type": kind, "value": element.get("initial_value")}
    if kind == "datetimepicker":
        return {"type": kind, "selected_date_time": element.get("initial_date_time")}
    if kind == "static_select":
        return {"type": kind, "selected_option": element.get("initial_option")}
    return None


def values_of(view: dict[str, Any], **edits: str) -> dict[str, Any]:
    """The modal's values as submitted unchanged, with ``edits`` typed into text inputs."""
    values: dict[str, Any] = {}
    for block in view["blocks"]:
        if block.get("type") != "input":
            continue
        state = _state_of(block)
        if state is None:
            continue
        name = block["block_id"]
        if name in edits:
            state = {"type": "plain_text_input", "value": edits[name]}
        values[name] = {name: state}
    return values


async def open_report(
    harness: Harness, incident_id: int, *, user: str, step: str | None, ref_key: str | None
) -> dict[str, Any]:
    """Click the step's (or the progress prompt's) button; the modal that opens."""
    before = len(harness.fake.calls_to("views.open"))
    action = Action.STEP_REPORT if step else Action.REPORT_PROGRESS
    value = f"{incident_id}:{step}" if step else str(incident_id)
    status, _ = await harness.click(action.value, value, user=user, ref_key=ref_key)
    assert status == 200
    opened = await harness.eventually(lambda: harness.fake.calls_to("views.open")[before:])
    view: dict[str, Any] = opened[-1].args["view"]
    assert view["callback_id"] == Callback.REPORT_SEND.value
    return view


async def submit_report(
    harness: Harness, view: dict[str, Any], *, user: str, view_id: str, **edits: str
) -> tuple[int, str]:
    body = view_submission(
        user_id=user,
        callback_id=Callback.REPORT_SEND.value,
        view_id=view_id,
        state_values=values_of(view, **edits),
        private_metadata=str(view["private_metadata"]),
    )
    return await harness.post(body)


async def send_step_report(
    harness: Harness, incident_id: int, step: str, *, user: str, **edits: str
) -> None:
    """Send a report step's report through its checklist button and wait until it is done."""
    state = await harness.state(incident_id)
    stage = state.steps[step].stage_id.value
    view = await open_report(
        harness, incident_id, user=user, step=step, ref_key=f"checklist:{incident_id}:{stage}"
    )
    status, _ = await submit_report(
        harness, view, user=user, view_id=f"V0SEND{incident_id}{abs(hash(step)) % 10**9}", **edits
    )
    assert status == 200

    async def done() -> bool:
        return (await harness.state(incident_id)).steps[step].finished

    await harness.eventually(done)
    await harness.eventually(harness._delivered)
