"""How an incident moves: status transitions, entering a stage, opening steps whose
dependencies are finished, finishing a step, and advancing to command and coordination.
"""

from __future__ import annotations

from datetime import datetime

from epbot.domain.errors import DomainError, ErrorCode
from epbot.domain.incident.approvals import approval_key, request_approval
from epbot.domain.incident.events import Event, EventKind
from epbot.domain.incident.notices import broadcast
from epbot.domain.incident.paging import current_person, page_role
from epbot.domain.incident.state import (
    SYSTEM,
    TRANSITIONS,
    ApprovalStatus,
    IncidentState,
    PageReason,
    Status,
    StepState,
    StepStatus,
    TimerKind,
    Transition,
)
from epbot.domain.incident.timers import (
    add_timer,
    cancel_all_timers,
    cancel_timers,
    restart_progress_prompts,
    schedule_deadline,
)
from epbot.domain.playbook import StageId, Step, StepKind

_STAGE_OF_STATUS = {
    Status.EMERGENCY_RESPONSE: StageId.EMERGENCY_RESPONSE,
    Status.COMMAND: StageId.COMMAND,
}


def transition(state: IncidentState, how: Transition, actor: str, now: datetime) -> list[Event]:
    target = TRANSITIONS.get((state.status, how))
    if target is None:
        raise DomainError(ErrorCode.ILLEGAL_TRANSITION, status=state.status.value, action=how.value)
    before, state.status = state.status, target
    events = [
        Event(EventKind.STATUS_CHANGED, actor, now, {"from": before.value, "to": target.value})
    ]
    stage = _STAGE_OF_STATUS.get(target)
    if stage is not None:
        events += enter_stage(state, stage, now, page_reason=PageReason.STAGE)
    if target is Status.EMERGENCY_RESPONSE:
        restart_progress_prompts(state, now)
    if target in (Status.RESOLVED, Status.CANCELLED):
        cancel_all_timers(state)
        for approval in state.approvals.values():
            if approval.status is ApprovalStatus.PENDING:
                approval.status = ApprovalStatus.WITHDRAWN
    return events


def enter_stage(
    state: IncidentState, stage_id: StageId, now: datetime, *, page_reason: PageReason
) -> list[Event]:
    if stage_id in state.stages:
        return []
    state.stages[stage_id] = now
    events = [Event(EventKind.STAGE_ENTERED, SYSTEM, now, {"stage": stage_id.value})]
    stage = state.playbook.stage(stage_id)
    roles: list[str] = []
    for spec in stage.steps if stage else ():
        step = state.steps[spec.id]
        if not spec.applies_to(state.severity):
            step.status = StepStatus.NOT_APPLICABLE
            continue
        step.status = StepStatus.PENDING
        step.assignee = step.assignee or current_person(state, spec.role)
        if spec.role not in roles:
            roles.append(spec.role)
    for role in roles:
        events += page_role(state, role, page_reason, now)
    for spec in stage.steps if stage else ():
        events += activate(state, spec, now)
        schedule_deadline(state, spec, now)
    return events


def activate(state: IncidentState, spec: Step, now: datetime) -> list[Event]:
    """Move a pending step forward when everything it depends on is finished."""
    step = state.steps[spec.id]
    if step.status is not StepStatus.PENDING:
        return []
    if any(not state.steps[d].finished for d in spec.depends_on):
        return []
    if spec.kind is StepKind.APPROVAL or spec.requires_approval:
        step.status = StepStatus.AWAITING_APPROVAL
        key = approval_key(state, spec.id)
        role = spec.role if spec.kind is StepKind.APPROVAL else spec.requires_approval
        assert role is not None
        events = request_approval(state, key, role, spec, SYSTEM, now)
        due = state.approvals[key].due_at
        _rearm_deadline(state, step, now, at=due or now)
        return events
    step.status = StepStatus.OPEN
    _rearm_deadline(state, step, now, at=now)
    return [Event(EventKind.STEP_OPENED, SYSTEM, now, {"step": spec.id, "assignee": step.assignee})]


def _rearm_deadline(state: IncidentState, step: StepState, now: datetime, *, at: datetime) -> None:
    """A step whose deadline passed while it waited (``step_waiting``) is overdue from its
    opening: at once, or, for an approval, when its fresh decision window ends."""
    if step.due_at is None or step.due_at > now or step.overdue_at is not None:
        return
    pending = any(
        t.live and t.kind is TimerKind.STEP_DUE and t.target == step.step_id for t in state.timers
    )
    if not pending:
        add_timer(state, TimerKind.STEP_DUE, step.step_id, at)


# How a step can finish, and the event that says so.
_FINISHED = {StepStatus.DONE: EventKind.STEP_DONE, StepStatus.SKIPPED: EventKind.STEP_SKIPPED}


def finish_step(
    state: IncidentState,
    step: StepState,
    status: StepStatus,
    actor: str,
    now: datetime,
    *,
    note: str | None,
) -> list[Event]:
    step.status, step.done_at, step.done_by, step.note = status, now, actor, note
    cancel_timers(
        state,
        None,
        lambda t: t == step.step_id,
        kinds=(TimerKind.STEP_REMINDER, TimerKind.STEP_DUE, TimerKind.STEP_NUDGE),
    )
    on_time = step.due_at is None or now <= step.due_at
    spec = state.playbook.step(step.step_id)
    events = [
        Event(
            _FINISHED[status],
            actor,
            now,
            {
                "step": step.step_id,
                "kind": step.kind.value,
                "note": note,
                "on_time": on_time,
                "broadcast_to": spec.broadcast_to.value if spec.broadcast_to else None,
            },
        )
    ]
    if spec.kind is StepKind.BROADCAST and status is StepStatus.DONE:
        events.append(broadcast(state, spec, actor, now))
    if state.status is Status.REPORTED and status is StepStatus.DONE:
        events += transition(state, Transition.TAKE_CHARGE, actor, now)
    for _, other in state.playbook.iter_steps():
        waits = step.step_id in other.depends_on or (
            other.due is not None and other.due.step == step.step_id
        )
        if waits and state.steps[other.id].status is not StepStatus.INACTIVE:
            events += activate(state, other, now)
            schedule_deadline(state, other, now)
    events += maybe_advance(state, actor, now)
    return events


def maybe_advance(state: IncidentState, actor: str, now: datetime) -> list[Event]:
    """Emergency response becomes command and coordination once its steps are finished."""
    if state.status is not Status.EMERGENCY_RESPONSE:
        return []
    response = [s for s in state.steps.values() if s.stage_id is StageId.EMERGENCY_RESPONSE]
    if all(s.finished for s in response):
        return transition(state, Transition.RESPONSE_STEPS_DONE, actor, now)
    return []
