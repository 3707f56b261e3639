"""A stage's checklist: each step with its status, owner and deadline, and the buttons of
the steps a person can act on (done / on site, skip / reassign)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from epbot.adapters.slack import ids
from epbot.adapters.slack.mrkdwn import MAX_ACTIONS, MAX_BUTTON_TEXT, MAX_MESSAGE_BLOCKS
from epbot.adapters.slack.render.blocks import (
    Blocks,
    actions,
    button,
    chunk_lines,
    confirm_dialog,
    context,
    fallback,
    incident_ref,
    plain,
    section,
)
from epbot.adapters.slack.render.templates import Helpers, RenderContext, call, macros
from epbot.domain.incident import IncidentState, StepState, StepStatus
from epbot.domain.playbook import StageId, StepKind

_ICONS = {
    StepStatus.INACTIVE: ":white_circle:",
    StepStatus.PENDING: ":hourglass_flowing_sand:",
    StepStatus.OPEN: ":large_blue_circle:",
    StepStatus.AWAITING_APPROVAL: ":lock:",
    StepStatus.DONE: ":white_check_mark:",
    StepStatus.SKIPPED: ":fast_forward:",
    StepStatus.REJECTED: ":x:",
    StepStatus.NOT_APPLICABLE: ":heavy_minus_sign:",
}
_DONE_BUTTON_KINDS = (StepKind.TASK, StepKind.REPORT, StepKind.BROADCAST)
_MANAGEABLE = frozenset(
    {StepStatus.PENDING, StepStatus.OPEN, StepStatus.AWAITING_APPROVAL, StepStatus.REJECTED}
)


def stage_checklist(
    state: IncidentState, stage_id: StageId, ctx: RenderContext
) -> tuple[str, Blocks]:
    """One stage's steps with status, owner, deadline and a done / on-site button."""
    h = Helpers(state, ctx)
    stage = state.playbook.stage(stage_id)
    steps = [state.steps[s.id] for s in (stage.steps if stage else ()) if s.id in state.steps]
    mod = macros("stage_checklist", h, state=state, stage_id=stage_id, steps=steps)
    head = section(call(mod, "heading"))
    lines = {s.step_id: f"{_step_icon(s, ctx.now)} {call(mod, 'step_line', s)}" for s in steps}
    blocks: Blocks = [head]
    if not steps:
        blocks.append(context(call(mod, "empty")))
    elif 1 + len(steps) + sum(_step_manageable(state, s) for s in steps) <= MAX_MESSAGE_BLOCKS:
        for s in steps:
            accessory = _step_button(state, s, h.L) if _step_actionable(s) else None
            blocks.append(section(lines[s.step_id], accessory))
            if _step_manageable(state, s):
                blocks.append(actions(_manage_buttons(state, s, h.L), f"manage:{s.step_id}"))
    else:
        blocks += _compact_checklist(state, steps, lines, h)
    done = sum(s.finished for s in steps)
    return fallback(call(mod, "fallback", done, len(steps))), blocks


def _step_icon(step: StepState, now: datetime) -> str:
    if step.status is StepStatus.OPEN and step.due_at is not None and step.due_at < now:
        return ":red_circle:"
    return _ICONS[step.status]


def _step_button(state: IncidentState, step: StepState, labels: dict[str, str]) -> dict[str, Any]:
    value = ids.button_value(incident_ref(state), step.step_id)
    if step.kind is StepKind.CHECKIN:
        return button(labels["btn.checkin"], ids.Action.STEP_CHECKIN, value, style="primary")
    if step.kind is StepKind.REPORT and state.playbook.step(step.step_id).report_to:
        return button(labels["btn.report"], ids.Action.STEP_REPORT, value, style="primary")
    if step.kind is StepKind.BROADCAST:
        # A unit-wide notice cannot be taken back: ask first, as approvals do.
        confirm = confirm_dialog(labels, "broadcast")
        return button(labels["btn.broadcast"], ids.Action.STEP_DONE, value, confirm=confirm)
    return button(labels["btn.done"], ids.Action.STEP_DONE, value)


def _step_actionable(step: StepState) -> bool:
    return step.status is StepStatus.OPEN and (
        step.kind in _DONE_BUTTON_KINDS or step.kind is StepKind.CHECKIN
    )


def _step_manageable(state: IncidentState, step: StepState) -> bool:
    """The commander may skip or reassign a started, unfinished step of an open incident."""
    return state.is_open and step.status in _MANAGEABLE


def _manage_buttons(
    state: IncidentState, step: StepState, labels: dict[str, str]
) -> list[dict[str, Any]]:
    value = ids.button_value(incident_ref(state), step.step_id)
    if step.status is StepStatus.REJECTED:  # a refused gate: ask again, or another path
        return [
            button(labels["btn.ask_again"], ids.Action.APPROVAL_ASK_AGAIN, value),
            button(labels["btn.skip"], ids.Action.STEP_SKIP, value),
        ]
    return [
        button(labels["btn.skip"], ids.Action.STEP_SKIP, value),
        button(labels["btn.reassign"], ids.Action.STEP_REASSIGN, value),
    ]


def _compact_checklist(
    state: IncidentState, steps: list[StepState], lines: dict[str, str], h: Helpers
) -> Blocks:
    """Too many steps for one block each: steps as lines, buttons grouped in actions blocks."""
    # Done / on-site buttons first: when not everything fits, skip / reassign go first.
    primary = [(s, _step_button(state, s, h.L)) for s in steps if _step_actionable(s)]
    manage = [
        (s, b) for s in steps if _step_manageable(state, s) for b in _manage_buttons(state, s, h.L)
    ]
    buttons = []
    for s, element in primary + manage:
        title = f"{h.step_plain(s.step_id)} — {element['text']['text']}"
        element["text"] = plain(title, MAX_BUTTON_TEXT)
        buttons.append(element)
    button_blocks = [
        actions(buttons[i : i + MAX_ACTIONS]) for i in range(0, len(buttons), MAX_ACTIONS)
    ]
    sections = [section(c) for c in chunk_lines([lines[s.step_id] for s in steps])]
    room = MAX_MESSAGE_BLOCKS - 1 - len(button_blocks)
    if len(sections) > room:
        sections = sections[: max(room - 1, 0)] + [context(h.L["more_steps"])]
    return sections + button_blocks[: MAX_MESSAGE_BLOCKS - 1 - len(sections)]
