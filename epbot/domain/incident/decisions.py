"""Approvals decided by people: asking for escalation, approving or refusing, asking
again after a refusal; and an approval that expires unanswered.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from epbot.domain.deadlines import DEFAULT_APPROVAL_TIMEOUT
from epbot.domain.errors import DomainError, ErrorCode
from epbot.domain.incident.approvals import approval_key, escalation_step, request_approval
from epbot.domain.incident.commands import AskAgain, DecideApproval, FireTimer, RequestEscalation
from epbot.domain.incident.events import Event, EventKind
from epbot.domain.incident.flow import finish_step, maybe_advance, transition
from epbot.domain.incident.paging import page_role
from epbot.domain.incident.state import (
    SYSTEM,
    ApprovalStatus,
    IncidentState,
    PageReason,
    Status,
    StepState,
    StepStatus,
    TimerKind,
    Transition,
)
from epbot.domain.incident.timers import cancel_timers
from epbot.domain.matrix import ApprovalKind
from epbot.domain.playbook import StageId, StepKind, Text


def request_escalation(state: IncidentState, cmd: RequestEscalation, now: datetime) -> list[Event]:
    if not state.is_commander(cmd.actor):
        raise DomainError(ErrorCode.NOT_COMMANDER, action="request escalation")
    if state.status not in (Status.REPORTED, Status.INITIAL_HANDLING):
        raise DomainError(ErrorCode.ALREADY_ESCALATED)
    if any(
        a.kind is ApprovalKind.ESCALATION and a.status is ApprovalStatus.PENDING
        for a in state.approvals.values()
    ):
        raise DomainError(ErrorCode.ALREADY_ESCALATED)
    events = [Event(EventKind.ESCALATION_REQUESTED, cmd.actor, now, {"reason": cmd.reason})]
    gate = escalation_step(state)
    if gate is not None:
        step = state.steps[gate.id]
        if step.status is not StepStatus.AWAITING_APPROVAL:
            # Also for non-major incidents, where the step's ``when`` left it out, and for a
            # gate refused before: a new approval, the refused one stays on the record.
            asked_before = state.approval_for(step.step_id) is not None
            step.status = StepStatus.AWAITING_APPROVAL
            step.done_at = step.done_by = step.note = None
            events += request_approval(
                state,
                approval_key(state, step.step_id),
                gate.role,
                gate,
                cmd.actor,
                now,
                due=now + DEFAULT_APPROVAL_TIMEOUT if asked_before else None,
            )
        return events
    key = (
        f"escalation#{sum(a.kind is ApprovalKind.ESCALATION for a in state.approvals.values()) + 1}"
    )
    events += request_approval(state, key, state.matrix.leadership_group, None, cmd.actor, now)
    return events


def decide_approval(state: IncidentState, cmd: DecideApproval, now: datetime) -> list[Event]:
    approval = state.approvals.get(cmd.approval_key)
    if approval is None:
        raise DomainError(ErrorCode.UNKNOWN, what=Text(zh_CN="该审批事项", en="this approval"))
    may_decide = cmd.actor in state.members(approval.approver_role) or (
        approval.expired and cmd.actor in state.members(state.matrix.leadership_leader)
    )
    if not may_decide:
        raise DomainError(ErrorCode.NOT_APPROVER, role=state.role_text(approval.approver_role))
    if approval.status is not ApprovalStatus.PENDING:
        raise DomainError(
            ErrorCode.ALREADY_DECIDED,
            by=approval.decided_by or SYSTEM,
            at=approval.decided_at.isoformat() if approval.decided_at else "?",
            decision=approval.status.value,
        )
    if not cmd.approve and not (cmd.reason or "").strip():
        raise DomainError(ErrorCode.REASON_REQUIRED)
    approval.status = ApprovalStatus.APPROVED if cmd.approve else ApprovalStatus.REJECTED
    approval.decided_by, approval.decided_at, approval.reason = cmd.actor, now, cmd.reason
    cancel_timers(state, TimerKind.APPROVAL_EXPIRY, lambda t: t == approval.key)
    events = [
        Event(
            EventKind.APPROVAL_DECIDED,
            cmd.actor,
            now,
            {
                "approval": approval.key,
                "kind": approval.kind.value,
                "step": approval.step_id,
                "approved": cmd.approve,
                "reason": cmd.reason,
            },
        )
    ]
    step = state.steps.get(approval.step_id or "")
    enters = None
    if step is not None:
        spec = state.playbook.step(step.step_id)
        if not cmd.approve:
            events += _refuse_step(state, step, cmd.actor, now, reason=cmd.reason)
        elif step.kind is StepKind.APPROVAL:
            events += finish_step(state, step, StepStatus.DONE, cmd.actor, now, note=cmd.reason)
            enters = spec.enters_stage
        else:
            step.status = StepStatus.OPEN
            events.append(Event(EventKind.STEP_UNBLOCKED, cmd.actor, now, {"step": step.step_id}))
    elif approval.kind is ApprovalKind.ESCALATION and cmd.approve:
        enters = StageId.EMERGENCY_RESPONSE
    if enters is StageId.EMERGENCY_RESPONSE and state.is_open:
        events += transition(state, Transition.ESCALATION_APPROVED, cmd.actor, now)
        events += maybe_advance(state, cmd.actor, now)
    return events


def _refuse_step(
    state: IncidentState, step: StepState, actor: str, now: datetime, *, reason: str | None
) -> list[Event]:
    """A refused gate stays shut: the step is not done and nothing after it opens."""
    step.status, step.done_at, step.done_by, step.note = StepStatus.REJECTED, now, actor, reason
    cancel_timers(
        state,
        None,
        lambda t: t == step.step_id,
        kinds=(TimerKind.STEP_REMINDER, TimerKind.STEP_DUE, TimerKind.STEP_NUDGE),
    )
    waiting = [
        other.id for _, other in state.playbook.iter_steps() if step.step_id in other.depends_on
    ]
    return [
        Event(
            EventKind.STEP_REJECTED,
            actor,
            now,
            {"step": step.step_id, "kind": step.kind.value, "note": reason, "held": waiting},
        )
    ]


def ask_again(state: IncidentState, cmd: AskAgain, now: datetime) -> list[Event]:
    if not state.is_commander(cmd.actor):
        raise DomainError(ErrorCode.NOT_COMMANDER, action="ask again")
    if not cmd.reason.strip():
        raise DomainError(ErrorCode.REASON_REQUIRED)
    step = state.step(cmd.step_id)
    if step.status is not StepStatus.REJECTED:
        raise DomainError(ErrorCode.NOT_REFUSED, step=state.step_text(step.step_id))
    spec = state.playbook.step(step.step_id)
    if spec.kind is StepKind.APPROVAL and spec.enters_stage is StageId.EMERGENCY_RESPONSE:
        return request_escalation(state, RequestEscalation(cmd.actor, cmd.reason), now)
    previous = state.approval_for(step.step_id)
    role = previous.approver_role if previous else (spec.requires_approval or spec.role)
    step.status = StepStatus.AWAITING_APPROVAL
    step.done_at = step.done_by = step.note = None
    events = [
        Event(
            EventKind.APPROVAL_ASKED_AGAIN,
            cmd.actor,
            now,
            {
                "step": step.step_id,
                "reason": cmd.reason,
                "refused_by": previous.decided_by if previous else None,
            },
        )
    ]
    events += request_approval(
        state,
        approval_key(state, step.step_id),
        role,
        spec,
        cmd.actor,
        now,
        due=now + DEFAULT_APPROVAL_TIMEOUT,
    )
    return events


def approval_expired(
    state: IncidentState, timer: FireTimer, now: datetime, lateness: dict[str, Any]
) -> list[Event]:
    """Unanswered in time: the leadership leader is paged and may decide it too."""
    key = timer.target
    approval = state.approvals.get(key)
    if approval is None or approval.status is not ApprovalStatus.PENDING:
        return []
    approval.expired = True
    events = [
        Event(
            EventKind.APPROVAL_EXPIRED,
            SYSTEM,
            now,
            {
                "approval": key,
                "approver_role": approval.approver_role,
                "escalate_to": state.matrix.leadership_leader,
                **lateness,
            },
        )
    ]
    events += page_role(
        state,
        state.matrix.leadership_leader,
        PageReason.APPROVAL_EXPIRED,
        now,
        step_id=approval.step_id,
        force=True,
    )
    return events
