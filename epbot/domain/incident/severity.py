"""Changing the severity (Art. 5): the steps that now apply start, with their clocks
counted from the change; those that no longer apply end, on the record.
"""

from __future__ import annotations

from datetime import datetime

from epbot.domain.errors import DomainError, ErrorCode
from epbot.domain.incident.commands import ChangeSeverity
from epbot.domain.incident.events import Event, EventKind
from epbot.domain.incident.flow import activate, maybe_advance
from epbot.domain.incident.paging import current_person, page_role
from epbot.domain.incident.state import (
    SYSTEM,
    ApprovalStatus,
    IncidentState,
    PageReason,
    StepState,
    StepStatus,
    TimerKind,
)
from epbot.domain.incident.timers import cancel_timers, schedule_deadline
from epbot.domain.playbook import STAGE_ORDER, Severity, Step


def may_judge_severity(state: IncidentState, actor: str) -> bool:
    """The commander, the emergency office or the leadership group (and its leader)."""
    judges = (
        state.matrix.emergency_office,
        state.matrix.leadership_group,
        state.matrix.leadership_leader,
    )
    return state.is_commander(actor) or any(actor in state.members(r) for r in judges)


def change_severity(state: IncidentState, cmd: ChangeSeverity, now: datetime) -> list[Event]:
    if not may_judge_severity(state, cmd.actor):
        raise DomainError(ErrorCode.NOT_SEVERITY_JUDGE)
    if not cmd.reason.strip():
        raise DomainError(ErrorCode.REASON_REQUIRED)
    before = state.severity
    if cmd.severity is before:
        raise DomainError(ErrorCode.SAME_SEVERITY, severity=cmd.severity.value)
    state.severity = cmd.severity
    events = [
        Event(
            EventKind.SEVERITY_CHANGED,
            cmd.actor,
            now,
            {
                "from": before.value,
                "to": cmd.severity.value,
                "reason": cmd.reason,
                "major": cmd.severity.is_major,
                "raised": _LEVEL[cmd.severity] > _LEVEL[before],
            },
        )
    ]
    added: list[Step] = []
    for stage_id in STAGE_ORDER:
        stage = state.playbook.stage(stage_id)
        if stage_id not in state.stages or stage is None:
            continue  # a stage not started yet reads the new severity when it starts
        for spec in stage.steps:
            step = state.steps[spec.id]
            if spec.applies_to(cmd.severity):
                if step.status is StepStatus.NOT_APPLICABLE and step.done_at is None:
                    step.status = StepStatus.PENDING
                    step.assignee = step.assignee or current_person(state, spec.role)
                    added.append(spec)
            elif _ends_with_severity(state, step):
                events += _end_step(state, step, cmd, now)
    for role in dict.fromkeys(s.role for s in added):
        events += page_role(state, role, PageReason.SEVERITY, now)
    for spec in added:
        events += activate(state, spec, now)
        # The plan's clocks (the 15-minute report) count from the change, not the declaration.
        schedule_deadline(state, spec, now, counted_from=now)
    # Steps that waited only on a step that no longer applies can start now.
    for _, spec in state.playbook.iter_steps():
        if state.steps[spec.id].status is StepStatus.PENDING and spec not in added:
            events += activate(state, spec, now)
            schedule_deadline(state, spec, now)
    events += maybe_advance(state, cmd.actor, now)
    return events


_LEVEL = {Severity.IV: 1, Severity.III: 2, Severity.II: 3, Severity.I: 4}


def _ends_with_severity(state: IncidentState, step: StepState) -> bool:
    """An unfinished step a lower severity no longer asks for; an escalation a person asked
    for explicitly is theirs to withdraw, so it stays."""
    if step.status not in (StepStatus.PENDING, StepStatus.OPEN, StepStatus.AWAITING_APPROVAL):
        return False
    approval = state.approval_for(step.step_id)
    return not (
        approval is not None
        and approval.status is ApprovalStatus.PENDING
        and approval.requested_by != SYSTEM
    )


def _end_step(
    state: IncidentState, step: StepState, cmd: ChangeSeverity, now: datetime
) -> list[Event]:
    approval = state.approval_for(step.step_id)
    if approval is not None and approval.status is ApprovalStatus.PENDING:
        approval.status = ApprovalStatus.WITHDRAWN
        cancel_timers(state, TimerKind.APPROVAL_EXPIRY, lambda t: t == approval.key)
    cancel_timers(
        state,
        None,
        lambda t: t == step.step_id,
        kinds=(TimerKind.STEP_REMINDER, TimerKind.STEP_DUE, TimerKind.STEP_NUDGE),
    )
    step.status = StepStatus.NOT_APPLICABLE
    return [
        Event(
            EventKind.STEP_NOT_APPLICABLE,
            cmd.actor,
            now,
            {"step": step.step_id, "severity": cmd.severity.value, "reason": cmd.reason},
        )
    ]
