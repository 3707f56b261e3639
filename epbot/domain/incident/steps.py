"""The commands on one step: complete, check in, skip, reassign; posting an update; and
what a step's reminder, deadline and nudge timers do when they fire.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from epbot.domain.errors import DomainError, ErrorCode, joined
from epbot.domain.incident.commands import (
    CheckIn,
    CompleteStep,
    FireTimer,
    PostUpdate,
    ReassignStep,
    SkipStep,
)
from epbot.domain.incident.events import Event, EventKind
from epbot.domain.incident.flow import finish_step
from epbot.domain.incident.paging import page_role
from epbot.domain.incident.state import (
    SYSTEM,
    ApprovalStatus,
    IncidentState,
    PageReason,
    StepState,
    StepStatus,
    TimerKind,
)
from epbot.domain.incident.timers import cancel_timers, schedule_nudge
from epbot.domain.playbook import StepKind


def authorize_step(state: IncidentState, step: StepState, actor: str) -> None:
    if actor == step.assignee or actor in state.members(step.role) or state.is_commander(actor):
        return
    raise DomainError(ErrorCode.NOT_RESPONSIBLE, role=state.role_text(step.role))


def ensure_actionable(state: IncidentState, step: StepState) -> None:
    if step.finished:
        raise DomainError(
            ErrorCode.STEP_FINISHED, step=state.step_text(step.step_id), status=step.status.value
        )
    if step.status is StepStatus.INACTIVE:
        raise DomainError(ErrorCode.STEP_INACTIVE, step=state.step_text(step.step_id))
    if step.status is StepStatus.REJECTED:
        raise DomainError(ErrorCode.STEP_REFUSED, step=state.step_text(step.step_id))
    if step.status is StepStatus.AWAITING_APPROVAL:
        approval = state.approval_for(step.step_id)
        role = approval.approver_role if approval else step.role
        raise DomainError(
            ErrorCode.AWAITING_APPROVAL,
            step=state.step_text(step.step_id),
            role=state.role_text(role),
        )
    if step.status is StepStatus.PENDING:
        waiting = [
            d for d in state.playbook.step(step.step_id).depends_on if not state.steps[d].finished
        ]
        raise DomainError(
            ErrorCode.STEP_BLOCKED,
            step=state.step_text(step.step_id),
            waiting=joined([state.step_text(d) for d in waiting]),
        )


def complete(state: IncidentState, cmd: CompleteStep, now: datetime) -> list[Event]:
    step = state.step(cmd.step_id)
    authorize_step(state, step, cmd.actor)
    ensure_actionable(state, step)
    if step.kind is StepKind.APPROVAL:
        approval = state.approval_for(step.step_id)
        role = approval.approver_role if approval else step.role
        raise DomainError(
            ErrorCode.AWAITING_APPROVAL,
            step=state.step_text(step.step_id),
            role=state.role_text(role),
        )
    if step.kind is StepKind.REPORT and state.playbook.step(step.step_id).report_to:
        # The plan's reporting duty is met by a delivered report, not by a tick.
        raise DomainError(ErrorCode.REPORT_REQUIRED, step=state.step_text(step.step_id))
    return finish_step(state, step, StepStatus.DONE, cmd.actor, now, note=cmd.note)


def check_in(state: IncidentState, cmd: CheckIn, now: datetime) -> list[Event]:
    step = state.step(cmd.step_id)
    if step.kind is not StepKind.CHECKIN:
        raise DomainError(ErrorCode.NOT_A_CHECKIN, step=state.step_text(step.step_id))
    authorize_step(state, step, cmd.actor)
    ensure_actionable(state, step)
    return finish_step(state, step, StepStatus.DONE, cmd.actor, now, note=None)


def skip(state: IncidentState, cmd: SkipStep, now: datetime) -> list[Event]:
    if not state.is_commander(cmd.actor):
        raise DomainError(ErrorCode.NOT_COMMANDER, action="skip a step")
    if not cmd.reason.strip():
        raise DomainError(ErrorCode.REASON_REQUIRED)
    step = state.step(cmd.step_id)
    if step.finished:
        raise DomainError(
            ErrorCode.STEP_FINISHED, step=state.step_text(step.step_id), status=step.status.value
        )
    approval = state.approval_for(step.step_id)
    if approval is not None and approval.status is ApprovalStatus.PENDING:
        approval.status = ApprovalStatus.WITHDRAWN
        cancel_timers(state, TimerKind.APPROVAL_EXPIRY, lambda t: t == approval.key)
    return finish_step(state, step, StepStatus.SKIPPED, cmd.actor, now, note=cmd.reason)


def reassign(state: IncidentState, cmd: ReassignStep, now: datetime) -> list[Event]:
    step = state.step(cmd.step_id)
    if not state.is_commander(cmd.actor) and cmd.actor not in state.members(step.role):
        raise DomainError(ErrorCode.NOT_RESPONSIBLE, role=state.role_text(step.role))
    if step.finished:
        raise DomainError(
            ErrorCode.STEP_FINISHED, step=state.step_text(step.step_id), status=step.status.value
        )
    before, step.assignee = step.assignee, cmd.assignee
    return [
        Event(
            EventKind.STEP_REASSIGNED,
            cmd.actor,
            now,
            {
                "step": step.step_id,
                "from": before,
                "to": cmd.assignee,
            },
        )
    ]


def post_update(state: IncidentState, cmd: PostUpdate, now: datetime) -> list[Event]:
    if not cmd.text.strip():
        raise DomainError(ErrorCode.REASON_REQUIRED)
    return [
        Event(EventKind.UPDATE_POSTED, cmd.actor, now, {"text": cmd.text, "status": state.status})
    ]


def step_timer(
    state: IncidentState, timer: FireTimer, now: datetime, lateness: dict[str, Any]
) -> list[Event]:
    """A step's reminder, deadline or nudge: said while the step is still unfinished.

    A step still waiting for the steps it depends on is not overdue at its deadline: it is
    *waiting* (``step_waiting``, naming what it waits for), and nobody is paged for it; what
    it waits for is escalated on its own deadline. It is overdue once it opens (see
    ``flow.activate``).
    """
    step = state.steps.get(timer.target)
    if step is None or step.finished:
        return []
    spec = state.playbook.step(step.step_id)
    waiting_for = [d for d in spec.depends_on if not state.steps[d].finished]
    data = {
        "step": step.step_id,
        "assignee": step.assignee,
        "role": step.role,
        "due_at": step.due_at.isoformat() if step.due_at else None,
        "waiting_for": waiting_for if step.status is StepStatus.PENDING else [],
        **lateness,
    }
    if timer.kind is TimerKind.STEP_REMINDER:
        # A reminder fired late (after a restart) once the step is already due says nothing
        # the overdue notice does not: drop it rather than send "due soon" after the fact.
        if step.due_at is not None and now >= step.due_at:
            return []
        return [Event(EventKind.STEP_REMINDER, SYSTEM, now, data)]
    if timer.kind is TimerKind.STEP_DUE:
        if data["waiting_for"]:
            return [Event(EventKind.STEP_WAITING, SYSTEM, now, data)]
        if step.overdue_at is not None:
            return []  # said once (a deadline re-armed while its first timer was in flight)
        step.overdue_at = now
        events = [Event(EventKind.STEP_OVERDUE, SYSTEM, now, data)]
        if spec.escalate_to:
            events += page_role(
                state, spec.escalate_to, PageReason.OVERDUE, now, step_id=step.step_id, force=True
            )
        schedule_nudge(state, spec, timer.due_at, now)
        return events
    schedule_nudge(state, spec, timer.due_at, now)
    return [Event(EventKind.STEP_NUDGE, SYSTEM, now, data)]
