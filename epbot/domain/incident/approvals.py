"""Opening an approval: its key, its kind (escalation, decision, gated step), its
expiry timer; and which step is the playbook's escalation gate.
"""

from __future__ import annotations

from datetime import datetime

from epbot.domain.deadlines import DEFAULT_APPROVAL_TIMEOUT
from epbot.domain.incident.events import Event, EventKind
from epbot.domain.incident.state import ApprovalState, IncidentState, TimerKind
from epbot.domain.incident.timers import add_timer
from epbot.domain.matrix import ApprovalKind
from epbot.domain.playbook import StageId, Step, StepKind


def escalation_step(state: IncidentState) -> Step | None:
    return next(
        (
            s
            for _, s in state.playbook.iter_steps()
            if s.kind is StepKind.APPROVAL and s.enters_stage is StageId.EMERGENCY_RESPONSE
        ),
        None,
    )


def approval_key(state: IncidentState, step_id: str) -> str:
    """``step`` for the first approval of a step, ``step#2`` when asked again, and so on."""
    asked = sum(a.step_id == step_id for a in state.approvals.values())
    key = step_id if asked == 0 else f"{step_id}#{asked + 1}"
    while key in state.approvals:
        asked += 1
        key = f"{step_id}#{asked + 1}"
    return key


def decision_time(step_due: datetime | None, now: datetime) -> datetime:
    """When an approval must be decided: its step's deadline while that is ahead; an
    approval asked for after it (its step waited for late steps) gets a fresh window from
    the request, so it is never born expired."""
    if step_due is not None and step_due > now:
        return step_due
    return now + DEFAULT_APPROVAL_TIMEOUT


def request_approval(
    state: IncidentState,
    key: str,
    role: str,
    spec: Step | None,
    actor: str,
    now: datetime,
    *,
    due: datetime | None = None,
) -> list[Event]:
    if spec is None or spec.enters_stage is StageId.EMERGENCY_RESPONSE:
        kind = ApprovalKind.ESCALATION
    elif spec.kind is StepKind.APPROVAL:
        kind = ApprovalKind.DECISION
    else:
        kind = ApprovalKind.GATED_STEP
    step = state.steps.get(spec.id) if spec else None
    if due is None:
        due = decision_time(step.due_at if step else None, now)
    approval = ApprovalState(
        key=key,
        kind=kind,
        approver_role=role,
        requested_by=actor,
        requested_at=now,
        step_id=spec.id if spec else None,
        due_at=due,
    )
    state.approvals[key] = approval
    add_timer(state, TimerKind.APPROVAL_EXPIRY, key, due)
    return [
        Event(
            EventKind.APPROVAL_REQUESTED,
            actor,
            now,
            {
                "approval": key,
                "kind": kind.value,
                "approver_role": role,
                "approvers": list(state.members(role)),
                "step": approval.step_id,
                "due_at": due.isoformat(),
            },
        )
    ]
