"""The incident state machine and the rules of the plan, with no I/O.

``decide(state, command, now)`` applies one command to an incident's state (mutating the
given state, which the caller loaded for this purpose) and returns the events it caused.
Stage changes follow the explicit ``TRANSITIONS`` table; everything a person may not do
raises ``DomainError`` with a message fit to show them. Time only arrives as ``now``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

from epbot.domain.deadlines import (
    DEFAULT_APPROVAL_TIMEOUT,
    Anchors,
    due_time,
    next_nudge,
    reminder_times,
)
from epbot.domain.errors import DomainError, ErrorCode, joined
from epbot.domain.matrix import ApprovalKind, Matrix
from epbot.domain.playbook import (
    STAGE_ORDER,
    BroadcastTarget,
    Playbook,
    Recipient,
    Severity,
    StageId,
    Step,
    StepKind,
    Text,
)


class Status(StrEnum):
    REPORTED = "reported"
    INITIAL_HANDLING = "initial_handling"
    EMERGENCY_RESPONSE = "emergency_response"
    COMMAND = "command_coordination"
    RESOLVED = "resolved"
    CLOSED = "closed"
    CANCELLED = "cancelled"


OPEN_STATUSES = frozenset(
    {Status.REPORTED, Status.INITIAL_HANDLING, Status.EMERGENCY_RESPONSE, Status.COMMAND}
)


class Transition(StrEnum):
    """What moves an incident from one status to another."""

    TAKE_CHARGE = "take_charge"  # the commander acknowledges, or work starts
    ESCALATION_APPROVED = "escalation_approved"  # Art. 5.3
    RESPONSE_STEPS_DONE = "response_steps_done"  # Art. 5.4 command and coordination
    RESOLVE = "resolve"
    CLOSE = "close"
    CANCEL = "cancel"


TRANSITIONS: dict[tuple[Status, Transition], Status] = {
    (Status.REPORTED, Transition.TAKE_CHARGE): Status.INITIAL_HANDLING,
    (Status.REPORTED, Transition.ESCALATION_APPROVED): Status.EMERGENCY_RESPONSE,
    (Status.INITIAL_HANDLING, Transition.ESCALATION_APPROVED): Status.EMERGENCY_RESPONSE,
    (Status.EMERGENCY_RESPONSE, Transition.RESPONSE_STEPS_DONE): Status.COMMAND,
    (Status.REPORTED, Transition.RESOLVE): Status.RESOLVED,
    (Status.INITIAL_HANDLING, Transition.RESOLVE): Status.RESOLVED,
    (Status.EMERGENCY_RESPONSE, Transition.RESOLVE): Status.RESOLVED,
    (Status.COMMAND, Transition.RESOLVE): Status.RESOLVED,
    (Status.RESOLVED, Transition.CLOSE): Status.CLOSED,
    **{(s, Transition.CANCEL): Status.CANCELLED for s in OPEN_STATUSES},
}

_STAGE_OF_STATUS = {
    Status.EMERGENCY_RESPONSE: StageId.EMERGENCY_RESPONSE,
    Status.COMMAND: StageId.COMMAND,
}


class StepStatus(StrEnum):
    INACTIVE = "inactive"  # its stage has not started
    PENDING = "pending"  # waiting for the steps it depends on
    OPEN = "open"
    AWAITING_APPROVAL = "awaiting_approval"
    DONE = "done"
    SKIPPED = "skipped"
    # Its approval was refused: not done, so the steps after it stay shut until the
    # commander asks again (a new approval) or skips it with a reason (another path).
    REJECTED = "rejected"
    NOT_APPLICABLE = "not_applicable"  # its ``when`` does not match this incident


FINISHED_STEP = frozenset({StepStatus.DONE, StepStatus.SKIPPED, StepStatus.NOT_APPLICABLE})


class ApprovalStatus(StrEnum):
    PENDING = "pending"
    APPROVED = "approved"
    REJECTED = "rejected"
    WITHDRAWN = "withdrawn"


class TimerKind(StrEnum):
    PAGE_ACK = "page_ack"  # target: page key
    STEP_REMINDER = "step_reminder"  # target: step id
    STEP_DUE = "step_due"
    STEP_NUDGE = "step_nudge"
    APPROVAL_EXPIRY = "approval_expiry"  # target: approval key
    PROGRESS_PROMPT = "progress_prompt"  # target: "progress" (Art. 5.4(3) 续报)
    RECEIPT_DUE = "receipt_due"  # target: "<step>@<unit>" (a notice's 回执)


class PageReason(StrEnum):
    DECLARED = "declared"
    STAGE = "stage"
    BACKUP = "backup"  # the previous person did not acknowledge
    ROLE_ESCALATION = "role_escalation"  # the role's list was exhausted
    OVERDUE = "overdue"  # a step's deadline passed
    APPROVAL_EXPIRED = "approval_expired"
    SEVERITY = "severity"  # the severity was raised and the role's steps now apply
    RECEIPT = "receipt"  # the unit has not confirmed a notice (回执) in time


@dataclass
class ReportFields:
    """The Article 5.1 report."""

    occurred_at: datetime
    place: str
    nature: str
    scope: str
    trend: str
    measures: str
    unit_id: str
    contact_phone: str
    title: str


@dataclass
class StepState:
    step_id: str
    stage_id: StageId
    kind: StepKind
    role: str
    status: StepStatus = StepStatus.INACTIVE
    assignee: str | None = None
    due_at: datetime | None = None
    overdue_at: datetime | None = None
    done_at: datetime | None = None
    done_by: str | None = None
    note: str | None = None
    id: int | None = None

    @property
    def finished(self) -> bool:
        return self.status in FINISHED_STEP


@dataclass
class ApprovalState:
    key: str
    kind: ApprovalKind
    approver_role: str
    requested_by: str
    requested_at: datetime
    step_id: str | None = None
    status: ApprovalStatus = ApprovalStatus.PENDING
    due_at: datetime | None = None
    expired: bool = False
    decided_by: str | None = None
    decided_at: datetime | None = None
    reason: str | None = None
    id: int | None = None


@dataclass
class PageState:
    role: str
    person: str
    attempt: int
    reason: PageReason
    sent_at: datetime
    step_id: str | None = None
    acked_at: datetime | None = None
    acked_by: str | None = None
    timed_out_at: datetime | None = None
    id: int | None = None

    @property
    def key(self) -> str:
        return f"{self.role}#{self.attempt}"


@dataclass
class ReceiptState:
    """A unit's receipt (回执) of a notice: its responsible person confirms having read it."""

    step_id: str
    unit_id: str
    channel: str
    requested_at: datetime
    responsible_role: str | None = None
    due_at: datetime | None = None
    nudged_at: datetime | None = None
    confirmed_at: datetime | None = None
    confirmed_by: str | None = None
    id: int | None = None

    @property
    def key(self) -> str:
        return f"{self.step_id}@{self.unit_id}"


@dataclass
class TimerState:
    kind: TimerKind
    target: str
    due_at: datetime
    fired_at: datetime | None = None
    cancelled: bool = False
    id: int | None = None

    @property
    def live(self) -> bool:
        return self.fired_at is None and not self.cancelled


@dataclass
class Event:
    """Something that happened: it goes on the timeline and to the notifier."""

    kind: str
    actor: str
    at: datetime
    data: dict[str, Any] = field(default_factory=dict)


@dataclass
class IncidentState:
    playbook: Playbook
    matrix: Matrix
    severity: Severity
    drill: bool
    reporter: str
    declared_at: datetime
    status: Status = Status.REPORTED
    commander: str | None = None
    stages: dict[StageId, datetime] = field(default_factory=dict)
    steps: dict[str, StepState] = field(default_factory=dict)
    approvals: dict[str, ApprovalState] = field(default_factory=dict)
    pages: list[PageState] = field(default_factory=list)
    timers: list[TimerState] = field(default_factory=list)
    receipts: list[ReceiptState] = field(default_factory=list)
    resolved_at: datetime | None = None
    closed_at: datetime | None = None
    cancelled_at: datetime | None = None
    cancel_reason: str | None = None
    id: int | None = None

    @property
    def is_open(self) -> bool:
        return self.status in OPEN_STATUSES

    def members(self, role_id: str) -> tuple[str, ...]:
        try:
            return self.matrix.role(role_id).people
        except KeyError:
            return ()

    def is_commander(self, person: str) -> bool:
        return person == self.commander or person in self.members(self.playbook.commander_role)

    def step(self, step_id: str) -> StepState:
        try:
            return self.steps[step_id]
        except KeyError:
            raise DomainError(
                ErrorCode.UNKNOWN, what=Text(zh_CN=f"步骤 `{step_id}`", en=f"step {step_id!r}")
            ) from None

    def approval_for(self, step_id: str) -> ApprovalState | None:
        """The step's latest approval (a refused gate asked again has several)."""
        found = [a for a in self.approvals.values() if a.step_id == step_id]
        return found[-1] if found else None

    def step_text(self, step_id: str) -> Text | str:
        """The step's title in every locale (its id only if the playbook lost it)."""
        try:
            return self.playbook.step(step_id).title
        except KeyError:
            return step_id

    def role_text(self, role_id: str) -> Text | str:
        """The role's name in every locale, for messages shown to a person."""
        try:
            return self.matrix.role(role_id).name
        except KeyError:
            return role_id


# --- commands -----------------------------------------------------------------------------


@dataclass(frozen=True)
class AcknowledgePage:
    actor: str
    page_key: str


@dataclass(frozen=True)
class CompleteStep:
    actor: str
    step_id: str
    note: str | None = None


@dataclass(frozen=True)
class SkipStep:
    actor: str
    step_id: str
    reason: str


@dataclass(frozen=True)
class ReassignStep:
    actor: str
    step_id: str
    assignee: str


@dataclass(frozen=True)
class CheckIn:
    actor: str
    step_id: str


@dataclass(frozen=True)
class PostUpdate:
    actor: str
    text: str


@dataclass(frozen=True)
class AskAgain:
    """Ask the approvers again for a refused step, with a reason."""

    actor: str
    step_id: str
    reason: str


@dataclass(frozen=True)
class RequestEscalation:
    actor: str
    reason: str


@dataclass(frozen=True)
class DecideApproval:
    actor: str
    approval_key: str
    approve: bool
    reason: str | None = None


class ReportKind(StrEnum):
    """The plan's reports: 信息报告 (a report step), 续报 (progress), 终报 (final)."""

    REPORT = "report"
    PROGRESS = "progress"
    FINAL = "final"


@dataclass(frozen=True)
class SendReport:
    """Deliver a version of the Art. 5.1 report: for a report step, or as a progress report.

    ``report`` is the version as stored (the service numbers it); ``progress`` holds the
    续报 fields (what changed, next steps, help needed).
    """

    actor: str
    step_id: str | None
    version: int
    report: ReportFields
    progress: dict[str, str] | None = None


@dataclass(frozen=True)
class ConfirmReceipt:
    """A unit's responsible person confirms a notice (回执): target ``<step>@<unit>``."""

    actor: str
    target: str


@dataclass(frozen=True)
class ChangeSeverity:
    """Raise or lower the severity (Art. 5): the steps that apply follow, on the record."""

    actor: str
    severity: Severity
    reason: str


@dataclass(frozen=True)
class Resolve:
    actor: str
    summary: str | None = None


@dataclass(frozen=True)
class Close:
    actor: str


@dataclass(frozen=True)
class Cancel:
    actor: str
    reason: str


@dataclass(frozen=True)
class FireTimer:
    timer_id: int | None
    kind: TimerKind
    target: str
    due_at: datetime


Command = (
    AcknowledgePage
    | CompleteStep
    | SkipStep
    | ReassignStep
    | CheckIn
    | PostUpdate
    | RequestEscalation
    | AskAgain
    | DecideApproval
    | ChangeSeverity
    | SendReport
    | ConfirmReceipt
    | Resolve
    | Close
    | Cancel
    | FireTimer
)

SYSTEM = "epbot"


# --- declaration --------------------------------------------------------------------------


def declare(
    *,
    playbook: Playbook,
    matrix: Matrix,
    severity: Severity,
    report: ReportFields,
    reporter: str,
    drill: bool,
    now: datetime,
) -> tuple[IncidentState, list[Event]]:
    """A new incident: report and initial-handling stages start, the right roles are paged."""
    state = IncidentState(
        playbook=playbook,
        matrix=matrix,
        severity=severity,
        drill=drill,
        reporter=reporter,
        declared_at=now,
    )
    for stage, step in playbook.iter_steps():
        state.steps[step.id] = StepState(
            step_id=step.id, stage_id=stage.id, kind=step.kind, role=step.role
        )
    events = [
        Event(
            "declared",
            reporter,
            now,
            {
                "playbook": playbook.id,
                "severity": severity.value,
                "drill": drill,
                "major": severity.is_major,
                "title": report.title,
            },
        )
    ]
    events += _page_role(state, playbook.commander_role, PageReason.DECLARED, now)
    for stage_id in (StageId.REPORT, StageId.INITIAL_HANDLING):
        events += _enter_stage(state, stage_id, now, page_reason=PageReason.DECLARED)
    return state, events


# --- the decision function ----------------------------------------------------------------


def decide(state: IncidentState, command: Command, now: datetime) -> list[Event]:
    """Apply ``command`` to ``state`` at ``now``; return the events, or raise DomainError."""
    handler = _HANDLERS[type(command)]
    # A notice sent just before the end (resume uploads) is still confirmed after resolve.
    late_receipt = isinstance(command, ConfirmReceipt) and state.status is not Status.CANCELLED
    if not isinstance(command, FireTimer | Close) and not state.is_open and not late_receipt:
        raise DomainError(ErrorCode.INCIDENT_ENDED, status=state.status.value)
    return handler(state, command, now)


def _transition(state: IncidentState, how: Transition, actor: str, now: datetime) -> list[Event]:
    target = TRANSITIONS.get((state.status, how))
    if target is None:
        raise DomainError(ErrorCode.ILLEGAL_TRANSITION, status=state.status.value, action=how.value)
    before, state.status = state.status, target
    events = [Event("status_changed", actor, now, {"from": before.value, "to": target.value})]
    stage = _STAGE_OF_STATUS.get(target)
    if stage is not None:
        events += _enter_stage(state, stage, now, page_reason=PageReason.STAGE)
    if target is Status.EMERGENCY_RESPONSE:
        _restart_progress_prompts(state, now)
    if target in (Status.RESOLVED, Status.CANCELLED):
        _cancel_all_timers(state)
        for approval in state.approvals.values():
            if approval.status is ApprovalStatus.PENDING:
                approval.status = ApprovalStatus.WITHDRAWN
    return events


def _ack(state: IncidentState, cmd: AcknowledgePage, now: datetime) -> list[Event]:
    page = next((p for p in state.pages if p.key == cmd.page_key), None)
    if page is None:
        raise DomainError(ErrorCode.UNKNOWN, what=Text(zh_CN="该呼叫", en="this page"))
    role_acked = next((p for p in state.pages if p.role == page.role and p.acked_at), None)
    if role_acked is not None:
        raise DomainError(ErrorCode.ALREADY_ACKED, by=role_acked.acked_by or "?")
    if cmd.actor != page.person and cmd.actor not in state.members(page.role):
        raise DomainError(ErrorCode.NOT_PAGED)
    page.acked_at, page.acked_by = now, cmd.actor
    _cancel_timers(state, TimerKind.PAGE_ACK, lambda t: t.startswith(page.role + "#"))
    events = [
        Event(
            "page_acknowledged",
            cmd.actor,
            now,
            {
                "page": page.key,
                "role": page.role,
                "attempt": page.attempt,
                "seconds": int((now - page.sent_at).total_seconds()),
            },
        )
    ]
    for step in state.steps.values():
        if step.role == page.role and not step.finished and step.assignee != cmd.actor:
            step.assignee = cmd.actor
    if page.role == state.playbook.commander_role:
        state.commander = cmd.actor
        if state.status is Status.REPORTED:
            events += _transition(state, Transition.TAKE_CHARGE, cmd.actor, now)
    return events


def _authorize_step(state: IncidentState, step: StepState, actor: str) -> None:
    if actor == step.assignee or actor in state.members(step.role) or state.is_commander(actor):
        return
    raise DomainError(ErrorCode.NOT_RESPONSIBLE, role=state.role_text(step.role))


def _ensure_actionable(state: IncidentState, step: StepState) -> None:
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


def _complete(state: IncidentState, cmd: CompleteStep, now: datetime) -> list[Event]:
    step = state.step(cmd.step_id)
    _authorize_step(state, step, cmd.actor)
    _ensure_actionable(state, step)
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
    return _finish_step(state, step, StepStatus.DONE, cmd.actor, now, note=cmd.note)


def _check_in(state: IncidentState, cmd: CheckIn, now: datetime) -> list[Event]:
    step = state.step(cmd.step_id)
    if step.kind is not StepKind.CHECKIN:
        raise DomainError(ErrorCode.NOT_A_CHECKIN, step=state.step_text(step.step_id))
    _authorize_step(state, step, cmd.actor)
    _ensure_actionable(state, step)
    return _finish_step(state, step, StepStatus.DONE, cmd.actor, now, note=None)


def _skip(state: IncidentState, cmd: SkipStep, now: datetime) -> list[Event]:
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
        _cancel_timers(state, TimerKind.APPROVAL_EXPIRY, lambda t: t == approval.key)
    return _finish_step(state, step, StepStatus.SKIPPED, cmd.actor, now, note=cmd.reason)


def _reassign(state: IncidentState, cmd: ReassignStep, now: datetime) -> list[Event]:
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
            "step_reassigned",
            cmd.actor,
            now,
            {
                "step": step.step_id,
                "from": before,
                "to": cmd.assignee,
            },
        )
    ]


def _update(state: IncidentState, cmd: PostUpdate, now: datetime) -> list[Event]:
    if not cmd.text.strip():
        raise DomainError(ErrorCode.REASON_REQUIRED)
    return [Event("update_posted", cmd.actor, now, {"text": cmd.text, "status": state.status})]


def _escalation_step(state: IncidentState) -> Step | None:
    return next(
        (
            s
            for _, s in state.playbook.iter_steps()
            if s.kind is StepKind.APPROVAL and s.enters_stage is StageId.EMERGENCY_RESPONSE
        ),
        None,
    )


def _request_escalation(state: IncidentState, cmd: RequestEscalation, now: datetime) -> list[Event]:
    if not state.is_commander(cmd.actor):
        raise DomainError(ErrorCode.NOT_COMMANDER, action="request escalation")
    if state.status not in (Status.REPORTED, Status.INITIAL_HANDLING):
        raise DomainError(ErrorCode.ALREADY_ESCALATED)
    if any(
        a.kind is ApprovalKind.ESCALATION and a.status is ApprovalStatus.PENDING
        for a in state.approvals.values()
    ):
        raise DomainError(ErrorCode.ALREADY_ESCALATED)
    events = [Event("escalation_requested", cmd.actor, now, {"reason": cmd.reason})]
    gate = _escalation_step(state)
    if gate is not None:
        step = state.steps[gate.id]
        if step.status is not StepStatus.AWAITING_APPROVAL:
            # Also for non-major incidents, where the step's ``when`` left it out, and for a
            # gate refused before: a new approval, the refused one stays on the record.
            asked_before = state.approval_for(step.step_id) is not None
            step.status = StepStatus.AWAITING_APPROVAL
            step.done_at = step.done_by = step.note = None
            events += _request_approval(
                state,
                _approval_key(state, step.step_id),
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
    events += _request_approval(state, key, state.matrix.leadership_group, None, cmd.actor, now)
    return events


def _decide_approval(state: IncidentState, cmd: DecideApproval, now: datetime) -> list[Event]:
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
    _cancel_timers(state, TimerKind.APPROVAL_EXPIRY, lambda t: t == approval.key)
    events = [
        Event(
            "approval_decided",
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
            events += _finish_step(state, step, StepStatus.DONE, cmd.actor, now, note=cmd.reason)
            enters = spec.enters_stage
        else:
            step.status = StepStatus.OPEN
            events.append(Event("step_unblocked", cmd.actor, now, {"step": step.step_id}))
    elif approval.kind is ApprovalKind.ESCALATION and cmd.approve:
        enters = StageId.EMERGENCY_RESPONSE
    if enters is StageId.EMERGENCY_RESPONSE and state.is_open:
        events += _transition(state, Transition.ESCALATION_APPROVED, cmd.actor, now)
        events += _maybe_advance(state, cmd.actor, now)
    return events


def _refuse_step(
    state: IncidentState, step: StepState, actor: str, now: datetime, *, reason: str | None
) -> list[Event]:
    """A refused gate stays shut: the step is not done and nothing after it opens."""
    step.status, step.done_at, step.done_by, step.note = StepStatus.REJECTED, now, actor, reason
    _cancel_timers(
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
            "step_rejected",
            actor,
            now,
            {"step": step.step_id, "kind": step.kind.value, "note": reason, "held": waiting},
        )
    ]


def _approval_key(state: IncidentState, step_id: str) -> str:
    """``step`` for the first approval of a step, ``step#2`` when asked again, and so on."""
    asked = sum(a.step_id == step_id for a in state.approvals.values())
    key = step_id if asked == 0 else f"{step_id}#{asked + 1}"
    while key in state.approvals:
        asked += 1
        key = f"{step_id}#{asked + 1}"
    return key


def _ask_again(state: IncidentState, cmd: AskAgain, now: datetime) -> list[Event]:
    if not state.is_commander(cmd.actor):
        raise DomainError(ErrorCode.NOT_COMMANDER, action="ask again")
    if not cmd.reason.strip():
        raise DomainError(ErrorCode.REASON_REQUIRED)
    step = state.step(cmd.step_id)
    if step.status is not StepStatus.REJECTED:
        raise DomainError(ErrorCode.NOT_REFUSED, step=state.step_text(step.step_id))
    spec = state.playbook.step(step.step_id)
    if spec.kind is StepKind.APPROVAL and spec.enters_stage is StageId.EMERGENCY_RESPONSE:
        return _request_escalation(state, RequestEscalation(cmd.actor, cmd.reason), now)
    previous = state.approval_for(step.step_id)
    role = previous.approver_role if previous else (spec.requires_approval or spec.role)
    step.status = StepStatus.AWAITING_APPROVAL
    step.done_at = step.done_by = step.note = None
    events = [
        Event(
            "approval_asked_again",
            cmd.actor,
            now,
            {
                "step": step.step_id,
                "reason": cmd.reason,
                "refused_by": previous.decided_by if previous else None,
            },
        )
    ]
    events += _request_approval(
        state,
        _approval_key(state, step.step_id),
        role,
        spec,
        cmd.actor,
        now,
        due=now + DEFAULT_APPROVAL_TIMEOUT,
    )
    return events


def _may_judge_severity(state: IncidentState, actor: str) -> bool:
    """The commander, the emergency office or the leadership group (and its leader)."""
    judges = (
        state.matrix.emergency_office,
        state.matrix.leadership_group,
        state.matrix.leadership_leader,
    )
    return state.is_commander(actor) or any(actor in state.members(r) for r in judges)


def _change_severity(state: IncidentState, cmd: ChangeSeverity, now: datetime) -> list[Event]:
    if not _may_judge_severity(state, cmd.actor):
        raise DomainError(ErrorCode.NOT_SEVERITY_JUDGE)
    if not cmd.reason.strip():
        raise DomainError(ErrorCode.REASON_REQUIRED)
    before = state.severity
    if cmd.severity is before:
        raise DomainError(ErrorCode.SAME_SEVERITY, severity=cmd.severity.value)
    state.severity = cmd.severity
    events = [
        Event(
            "severity_changed",
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
                    step.assignee = step.assignee or _current_person(state, spec.role)
                    added.append(spec)
            elif _ends_with_severity(state, step):
                events += _end_step(state, step, cmd, now)
    for role in dict.fromkeys(s.role for s in added):
        events += _page_role(state, role, PageReason.SEVERITY, now)
    for spec in added:
        events += _activate(state, spec, now)
        # The plan's clocks (the 15-minute report) count from the change, not the declaration.
        _schedule_deadline(state, spec, now, counted_from=now)
    # Steps that waited only on a step that no longer applies can start now.
    for _, spec in state.playbook.iter_steps():
        if state.steps[spec.id].status is StepStatus.PENDING and spec not in added:
            events += _activate(state, spec, now)
            _schedule_deadline(state, spec, now)
    events += _maybe_advance(state, cmd.actor, now)
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
        _cancel_timers(state, TimerKind.APPROVAL_EXPIRY, lambda t: t == approval.key)
    _cancel_timers(
        state,
        None,
        lambda t: t == step.step_id,
        kinds=(TimerKind.STEP_REMINDER, TimerKind.STEP_DUE, TimerKind.STEP_NUDGE),
    )
    step.status = StepStatus.NOT_APPLICABLE
    return [
        Event(
            "step_not_applicable",
            cmd.actor,
            now,
            {"step": step.step_id, "severity": cmd.severity.value, "reason": cmd.reason},
        )
    ]


def recipients(state: IncidentState, to: tuple[Recipient, ...]) -> dict[str, Any]:
    """Who a report reaches: the people of each role (DMs) and each unit's channel."""
    people: list[str] = []
    channels: list[str] = []
    units: list[str] = []
    for r in to:
        if r.role is not None:
            people += [p for p in state.members(r.role) if p not in people]
        elif r.unit is not None:
            try:
                unit = state.matrix.unit(r.unit)
            except KeyError:
                continue
            if unit.channel and unit.channel not in channels:
                channels.append(unit.channel)
                units.append(unit.id)
    return {
        "roles": [r.role for r in to if r.role],
        "units": units,
        "people": people,
        "channels": channels,
    }


def progress_recipients(state: IncidentState) -> tuple[Recipient, ...]:
    """Where progress and final reports go: the playbook's, else the leadership group."""
    if state.playbook.progress_reports is not None and state.playbook.progress_reports.to:
        return state.playbook.progress_reports.to
    return (Recipient(role=state.matrix.leadership_group),)


def _may_report(state: IncidentState, actor: str) -> bool:
    return state.is_commander(actor) or actor in state.members(state.matrix.emergency_office)


def _send_report(state: IncidentState, cmd: SendReport, now: datetime) -> list[Event]:
    step = state.step(cmd.step_id) if cmd.step_id else None
    if step is not None:
        if step.kind is not StepKind.REPORT:
            raise DomainError(ErrorCode.NOT_A_REPORT, step=state.step_text(step.step_id))
        _authorize_step(state, step, cmd.actor)
        _ensure_actionable(state, step)
        spec = state.playbook.step(step.step_id)
        to = spec.report_to or progress_recipients(state)
        kind = ReportKind.PROGRESS if cmd.progress is not None else ReportKind.REPORT
    else:
        if not _may_report(state, cmd.actor):
            raise DomainError(ErrorCode.NOT_COMMANDER, action="send a progress report")
        to, kind = progress_recipients(state), ReportKind.PROGRESS
    data: dict[str, Any] = {
        "kind": kind.value,
        "step": step.step_id if step else None,
        "version": cmd.version,
        "report": _report_data(cmd.report),
        "progress": cmd.progress,
        **recipients(state, to),
    }
    if step is not None:
        data["on_time"] = step.due_at is None or now <= step.due_at
    events = [Event("report_sent", cmd.actor, now, data)]
    if kind is ReportKind.PROGRESS:
        _restart_progress_prompts(state, now)
    if step is not None:
        # No note: the report_sent line beside it names the version, in the reader's language.
        events += _finish_step(state, step, StepStatus.DONE, cmd.actor, now, note=None)
    return events


def _report_data(report: ReportFields) -> dict[str, Any]:
    return {
        "occurred_at": report.occurred_at.isoformat(),
        "place": report.place,
        "nature": report.nature,
        "scope": report.scope,
        "trend": report.trend,
        "measures": report.measures,
        "unit_id": report.unit_id,
        "contact_phone": report.contact_phone,
        "title": report.title,
    }


def _restart_progress_prompts(state: IncidentState, now: datetime) -> None:
    """The next 续报 prompt, one interval from ``now`` (the last report or the stage start)."""
    _cancel_timers(state, TimerKind.PROGRESS_PROMPT, lambda _t: True)
    progress = state.playbook.progress_reports
    if progress is not None and state.status in _PROGRESS_STATUSES:
        _add_timer(state, TimerKind.PROGRESS_PROMPT, "progress", now + progress.every)


_PROGRESS_STATUSES = frozenset({Status.EMERGENCY_RESPONSE, Status.COMMAND})


def _progress_prompt(state: IncidentState, now: datetime, lateness: dict[str, Any]) -> list[Event]:
    if state.status not in _PROGRESS_STATUSES or state.playbook.progress_reports is None:
        return []
    _restart_progress_prompts(state, now)
    commander = state.commander or _current_person(state, state.playbook.commander_role)
    return [
        Event(
            "progress_report_due",
            SYSTEM,
            now,
            {
                "commander": commander,
                "every_seconds": int(state.playbook.progress_reports.every.total_seconds()),
                **recipients(state, progress_recipients(state)),
                **lateness,
            },
        )
    ]


def receipt(state: IncidentState, target: str) -> ReceiptState:
    found = next((r for r in state.receipts if r.key == target), None)
    if found is None:
        raise DomainError(ErrorCode.UNKNOWN, what=f"receipt {target!r}")
    return found


def receipt_counts(state: IncidentState, step_id: str) -> tuple[int, int]:
    """(units confirmed, units asked) for one notice."""
    asked = [r for r in state.receipts if r.step_id == step_id]
    return sum(r.confirmed_at is not None for r in asked), len(asked)


def _confirm_receipt(state: IncidentState, cmd: ConfirmReceipt, now: datetime) -> list[Event]:
    found = receipt(state, cmd.target)
    unit = state.matrix.unit(found.unit_id)
    # Art. 3: each unit names a responsible person; the receipt is theirs (or their
    # backups', the same role's people), so someone else's click is refused, on the record.
    if found.responsible_role is None or cmd.actor not in state.members(found.responsible_role):
        raise DomainError(
            ErrorCode.NOT_UNIT_RESPONSIBLE,
            unit=unit.name,
            role=state.role_text(found.responsible_role or ""),
        )
    if found.confirmed_at is not None:
        raise DomainError(
            ErrorCode.ALREADY_CONFIRMED,
            by=found.confirmed_by or "?",
            at=found.confirmed_at.isoformat(),
        )
    found.confirmed_at, found.confirmed_by = now, cmd.actor
    _cancel_timers(state, TimerKind.RECEIPT_DUE, lambda t: t == found.key)
    done, asked = receipt_counts(state, found.step_id)
    return [
        Event(
            "receipt_confirmed",
            cmd.actor,
            now,
            {
                "step": found.step_id,
                "unit": found.unit_id,
                "channel": found.channel,
                "seconds": int((now - found.requested_at).total_seconds()),
                "confirmed": done,
                "asked": asked,
            },
        )
    ]


def _receipt_due(
    state: IncidentState, target: str, now: datetime, lateness: dict[str, Any]
) -> list[Event]:
    """Not confirmed in time: nudge the unit's channel; the next time, page its person."""
    found = next((r for r in state.receipts if r.key == target), None)
    if found is None or found.confirmed_at is not None:
        return []
    spec = state.playbook.step(found.step_id)
    data = {
        "step": found.step_id,
        "unit": found.unit_id,
        "channel": found.channel,
        "responsible_role": found.responsible_role,
        "responsible": list(state.members(found.responsible_role or "")),
        "paged": found.nudged_at is not None,
        **lateness,
    }
    events = [Event("receipt_overdue", SYSTEM, now, data)]
    if found.nudged_at is None:
        found.nudged_at = now
        if spec.receipt_within is not None:
            _add_timer(state, TimerKind.RECEIPT_DUE, found.key, now + spec.receipt_within)
    elif found.responsible_role:
        events += _page_role(
            state,
            found.responsible_role,
            PageReason.RECEIPT,
            now,
            step_id=found.step_id,
            force=True,
        )
    return events


def _open_blockers(state: IncidentState) -> list[str]:
    gate = _escalation_step(state)
    return [
        s.step_id
        for s in state.steps.values()
        if s.status not in FINISHED_STEP
        and s.status not in (StepStatus.INACTIVE, StepStatus.REJECTED)
        and not (gate is not None and s.step_id == gate.id)
        and not state.playbook.step(s.step_id).optional
    ]


def _resolve(state: IncidentState, cmd: Resolve, now: datetime) -> list[Event]:
    if not state.is_commander(cmd.actor):
        raise DomainError(ErrorCode.NOT_COMMANDER, action="resolve the incident")
    blockers = _open_blockers(state)
    if blockers:
        raise DomainError(
            ErrorCode.OPEN_STEPS, steps=joined([state.step_text(b) for b in blockers])
        )
    events = _transition(state, Transition.RESOLVE, cmd.actor, now)
    state.resolved_at = now
    gate = _escalation_step(state)
    for step in state.steps.values():
        # Steps the incident no longer needs: the unasked escalation, optional "if ..." steps.
        needless = (gate is not None and step.step_id == gate.id) or (
            state.playbook.step(step.step_id).optional
        )
        if needless and not step.finished:
            step.status = StepStatus.NOT_APPLICABLE
    events.append(Event("resolved", cmd.actor, now, {"summary": cmd.summary}))
    reported = StageId.EMERGENCY_RESPONSE in state.stages or any(
        s.kind is StepKind.REPORT and s.status is StepStatus.DONE for s in state.steps.values()
    )
    if not reported:
        return events
    # 终报: the closing report goes to whoever received the progress reports.
    events.append(
        Event(
            "final_report",
            cmd.actor,
            now,
            {
                "kind": ReportKind.FINAL.value,
                "summary": cmd.summary,
                **recipients(state, progress_recipients(state)),
            },
        )
    )
    return events


def _close(state: IncidentState, cmd: Close, now: datetime) -> list[Event]:
    if not state.is_commander(cmd.actor):
        raise DomainError(ErrorCode.NOT_COMMANDER, action="close the incident")
    events = _transition(state, Transition.CLOSE, cmd.actor, now)
    state.closed_at = now
    return events


def _cancel(state: IncidentState, cmd: Cancel, now: datetime) -> list[Event]:
    # A false alarm (误报) may be called by the reporter, or whoever may judge the severity.
    if not _may_judge_severity(state, cmd.actor) and cmd.actor != state.reporter:
        raise DomainError(ErrorCode.NOT_COMMANDER, action="cancel the incident")
    if not cmd.reason.strip():
        raise DomainError(ErrorCode.REASON_REQUIRED)
    events = _transition(state, Transition.CANCEL, cmd.actor, now)
    state.cancelled_at, state.cancel_reason = now, cmd.reason
    events.append(Event("cancelled", cmd.actor, now, {"reason": cmd.reason}))
    return events


# --- timers -------------------------------------------------------------------------------


def _fire(state: IncidentState, cmd: FireTimer, now: datetime) -> list[Event]:
    timer = next(
        (
            t
            for t in state.timers
            if (cmd.timer_id is not None and t.id == cmd.timer_id)
            or (
                cmd.timer_id is None
                and (t.kind, t.target, t.due_at) == (cmd.kind, cmd.target, cmd.due_at)
            )
        ),
        None,
    )
    if timer is not None:
        timer.fired_at = now
    if not state.is_open:
        return []
    lateness = {"due": cmd.due_at.isoformat(), "late_seconds": (now - cmd.due_at).total_seconds()}
    if cmd.kind is TimerKind.PAGE_ACK:
        return _page_timed_out(state, cmd.target, now, lateness)
    if cmd.kind is TimerKind.APPROVAL_EXPIRY:
        return _approval_expired(state, cmd.target, now, lateness)
    if cmd.kind is TimerKind.PROGRESS_PROMPT:
        return _progress_prompt(state, now, lateness)
    if cmd.kind is TimerKind.RECEIPT_DUE:
        return _receipt_due(state, cmd.target, now, lateness)
    step = state.steps.get(cmd.target)
    if step is None or step.finished:
        return []
    data = {
        "step": step.step_id,
        "assignee": step.assignee,
        "role": step.role,
        "due_at": step.due_at.isoformat() if step.due_at else None,
        **lateness,
    }
    spec = state.playbook.step(step.step_id)
    if cmd.kind is TimerKind.STEP_REMINDER:
        # A reminder fired late (after a restart) once the step is already due says nothing
        # the overdue notice does not: drop it rather than send "due soon" after the fact.
        if step.due_at is not None and now >= step.due_at:
            return []
        return [Event("step_reminder", SYSTEM, now, data)]
    if cmd.kind is TimerKind.STEP_DUE:
        step.overdue_at = now
        events = [Event("step_overdue", SYSTEM, now, data)]
        if spec.escalate_to:
            events += _page_role(
                state, spec.escalate_to, PageReason.OVERDUE, now, step_id=step.step_id, force=True
            )
        _schedule_nudge(state, spec, cmd.due_at, now)
        return events
    _schedule_nudge(state, spec, cmd.due_at, now)
    return [Event("step_nudge", SYSTEM, now, data)]


def _schedule_nudge(state: IncidentState, spec: Step, after: datetime, now: datetime) -> None:
    """The next nudge on the step's repeat grid that is still ahead of ``now``.

    Catching up after downtime sends one nudge, not one per missed interval, and never a
    second one at the same instant.
    """
    nudge = next_nudge(spec, after)
    while nudge is not None and nudge <= now:
        nudge = next_nudge(spec, nudge)
    if nudge is not None:
        _add_timer(state, TimerKind.STEP_NUDGE, spec.id, nudge)


def _page_timed_out(
    state: IncidentState, key: str, now: datetime, lateness: dict[str, Any]
) -> list[Event]:
    page = next((p for p in state.pages if p.key == key), None)
    if page is None or page.acked_at is not None:
        return []
    if any(p.role == page.role and p.acked_at for p in state.pages):
        return []
    page.timed_out_at = now
    events = [
        Event(
            "page_timed_out",
            SYSTEM,
            now,
            {
                "page": page.key,
                "role": page.role,
                "person": page.person,
                **lateness,
            },
        )
    ]
    people = state.members(page.role)
    tried = {p.person for p in state.pages if p.role == page.role}
    untried = [p for p in people if p not in tried]
    if untried:
        events += _send_page(state, page.role, untried[0], PageReason.BACKUP, now, page.step_id)
        return events
    role = state.matrix.role(page.role) if people else None
    target = role.escalate_to if role else None
    # A target already waiting on a page of its own is not paged twice (that would start a
    # second backup chain for it); the event still names it, so the card can say so.
    waiting = target is not None and any(
        p.role == target for p in state.pages if p.acked_at is None and p.timed_out_at is None
    )
    events.append(
        Event(
            "role_exhausted",
            SYSTEM,
            now,
            {"role": page.role, "escalate_to": target, "already_paged": waiting},
        )
    )
    if target and not waiting:
        events += _page_role(
            state, target, PageReason.ROLE_ESCALATION, now, step_id=page.step_id, force=True
        )
    return events


def _approval_expired(
    state: IncidentState, key: str, now: datetime, lateness: dict[str, Any]
) -> list[Event]:
    approval = state.approvals.get(key)
    if approval is None or approval.status is not ApprovalStatus.PENDING:
        return []
    approval.expired = True
    events = [
        Event(
            "approval_expired",
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
    events += _page_role(
        state,
        state.matrix.leadership_leader,
        PageReason.APPROVAL_EXPIRED,
        now,
        step_id=approval.step_id,
        force=True,
    )
    return events


# --- stages, steps, pages -----------------------------------------------------------------


def _enter_stage(
    state: IncidentState, stage_id: StageId, now: datetime, *, page_reason: PageReason
) -> list[Event]:
    if stage_id in state.stages:
        return []
    state.stages[stage_id] = now
    events = [Event("stage_entered", SYSTEM, now, {"stage": stage_id.value})]
    stage = state.playbook.stage(stage_id)
    roles: list[str] = []
    for spec in stage.steps if stage else ():
        step = state.steps[spec.id]
        if not spec.applies_to(state.severity):
            step.status = StepStatus.NOT_APPLICABLE
            continue
        step.status = StepStatus.PENDING
        step.assignee = step.assignee or _current_person(state, spec.role)
        if spec.role not in roles:
            roles.append(spec.role)
    for role in roles:
        events += _page_role(state, role, page_reason, now)
    for spec in stage.steps if stage else ():
        events += _activate(state, spec, now)
        _schedule_deadline(state, spec, now)
    return events


def _current_person(state: IncidentState, role_id: str) -> str | None:
    acked = next((p.acked_by for p in state.pages if p.role == role_id and p.acked_by), None)
    if acked:
        return acked
    members = state.members(role_id)
    return members[0] if members else None


def _activate(state: IncidentState, spec: Step, now: datetime) -> list[Event]:
    """Move a pending step forward when everything it depends on is finished."""
    step = state.steps[spec.id]
    if step.status is not StepStatus.PENDING:
        return []
    if any(not state.steps[d].finished for d in spec.depends_on):
        return []
    if spec.kind is StepKind.APPROVAL:
        step.status = StepStatus.AWAITING_APPROVAL
        key = _approval_key(state, spec.id)
        return _request_approval(state, key, spec.role, spec, SYSTEM, now)
    if spec.requires_approval:
        step.status = StepStatus.AWAITING_APPROVAL
        key = _approval_key(state, spec.id)
        return _request_approval(state, key, spec.requires_approval, spec, SYSTEM, now)
    step.status = StepStatus.OPEN
    return [Event("step_opened", SYSTEM, now, {"step": spec.id, "assignee": step.assignee})]


def _request_approval(
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
        due = step.due_at if step and step.due_at else now + DEFAULT_APPROVAL_TIMEOUT
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
    _add_timer(state, TimerKind.APPROVAL_EXPIRY, key, due)
    return [
        Event(
            "approval_requested",
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


def _schedule_deadline(
    state: IncidentState, spec: Step, now: datetime, *, counted_from: datetime | None = None
) -> None:
    """Set the step's deadline and reminders; ``counted_from`` moves every anchor up to it."""
    step = state.steps[spec.id]
    if step.finished or step.due_at is not None:
        return

    def at_least(moment: datetime | None) -> datetime | None:
        if moment is None or counted_from is None:
            return moment
        return max(moment, counted_from)

    declared = at_least(state.declared_at)
    assert declared is not None
    anchors = Anchors(
        declared_at=declared,
        stage_started_at=at_least(state.stages.get(step.stage_id)),
        step_done_at={
            s.step_id: max(s.done_at, counted_from or s.done_at)
            for s in state.steps.values()
            if s.done_at
        },
    )
    due = due_time(spec, anchors)
    if due is None:
        return
    step.due_at = due
    for _offset, at in reminder_times(spec, due, now):
        _add_timer(state, TimerKind.STEP_REMINDER, spec.id, at)
    _add_timer(state, TimerKind.STEP_DUE, spec.id, max(due, now))
    approval = state.approval_for(spec.id)
    if approval is not None and approval.status is ApprovalStatus.PENDING:
        approval.due_at = due
        for timer in state.timers:
            if (
                timer.kind is TimerKind.APPROVAL_EXPIRY
                and timer.target == approval.key
                and timer.live
            ):
                timer.due_at = max(due, now)


def _finish_step(
    state: IncidentState,
    step: StepState,
    status: StepStatus,
    actor: str,
    now: datetime,
    *,
    note: str | None,
) -> list[Event]:
    step.status, step.done_at, step.done_by, step.note = status, now, actor, note
    _cancel_timers(
        state,
        None,
        lambda t: t == step.step_id,
        kinds=(TimerKind.STEP_REMINDER, TimerKind.STEP_DUE, TimerKind.STEP_NUDGE),
    )
    on_time = step.due_at is None or now <= step.due_at
    spec = state.playbook.step(step.step_id)
    events = [
        Event(
            f"step_{status.value}",
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
        events.append(_broadcast(state, spec, actor, now))
    if state.status is Status.REPORTED and status is StepStatus.DONE:
        events += _transition(state, Transition.TAKE_CHARGE, actor, now)
    for _, other in state.playbook.iter_steps():
        waits = step.step_id in other.depends_on or (
            other.due is not None and other.due.step == step.step_id
        )
        if waits and state.steps[other.id].status is not StepStatus.INACTIVE:
            events += _activate(state, other, now)
            _schedule_deadline(state, other, now)
    events += _maybe_advance(state, actor, now)
    return events


def _broadcast(state: IncidentState, spec: Step, actor: str, now: datetime) -> Event:
    subordinate_only = spec.broadcast_to is BroadcastTarget.SUBORDINATE_UNITS
    units = [u for u in state.matrix.units if u.channel and (u.subordinate or not subordinate_only)]
    receipts = []
    if spec.receipt_within is not None:
        for unit in units:
            assert unit.channel is not None
            receipt = ReceiptState(
                step_id=spec.id,
                unit_id=unit.id,
                channel=unit.channel,
                requested_at=now,
                responsible_role=unit.responsible,
                due_at=now + spec.receipt_within,
            )
            state.receipts.append(receipt)
            _add_timer(state, TimerKind.RECEIPT_DUE, receipt.key, now + spec.receipt_within)
            receipts.append(
                {
                    "unit": unit.id,
                    "channel": unit.channel,
                    "responsible_role": unit.responsible,
                    "responsible": list(state.members(unit.responsible or "")),
                    "due_at": receipt.due_at.isoformat() if receipt.due_at else None,
                }
            )
    return Event(
        "broadcast",
        actor,
        now,
        {
            "step": spec.id,
            "target": spec.broadcast_to.value if spec.broadcast_to else None,
            "units": [u.id for u in units],
            "channels": [u.channel for u in units],
            "message_zh": spec.message.zh_CN if spec.message else spec.title.zh_CN,
            "message_en": spec.message.en if spec.message else spec.title.en,
            "receipts": receipts,
        },
    )


def _maybe_advance(state: IncidentState, actor: str, now: datetime) -> list[Event]:
    """Emergency response becomes command and coordination once its steps are finished."""
    if state.status is not Status.EMERGENCY_RESPONSE:
        return []
    response = [s for s in state.steps.values() if s.stage_id is StageId.EMERGENCY_RESPONSE]
    if all(s.finished for s in response):
        return _transition(state, Transition.RESPONSE_STEPS_DONE, actor, now)
    return []


def _page_role(
    state: IncidentState,
    role_id: str,
    reason: PageReason,
    now: datetime,
    *,
    step_id: str | None = None,
    force: bool = False,
) -> list[Event]:
    """Page a role's current person, unless the role already answered (or is being paged)."""
    members = state.members(role_id)
    if not members:
        return [Event("page_failed", SYSTEM, now, {"role": role_id, "reason": "no people"})]
    pages = [p for p in state.pages if p.role == role_id]
    acked = next((p for p in pages if p.acked_at), None)
    if not force and (acked is not None or any(p.timed_out_at is None for p in pages)):
        return []
    person = acked.acked_by if acked and acked.acked_by else members[0]
    if force and acked is None:
        waiting = [p for p in pages if p.timed_out_at is None and p.acked_at is None]
        if waiting:
            person = waiting[-1].person
    return _send_page(state, role_id, person, reason, now, step_id)


def _send_page(
    state: IncidentState,
    role_id: str,
    person: str,
    reason: PageReason,
    now: datetime,
    step_id: str | None,
) -> list[Event]:
    attempt = 1 + sum(p.role == role_id for p in state.pages)
    page = PageState(
        role=role_id, person=person, attempt=attempt, reason=reason, sent_at=now, step_id=step_id
    )
    state.pages.append(page)
    already_acked = any(p.role == role_id and p.acked_at for p in state.pages)
    if not already_acked:
        _add_timer(
            state, TimerKind.PAGE_ACK, page.key, now + state.matrix.role(role_id).ack_timeout
        )
    return [
        Event(
            "paged",
            SYSTEM,
            now,
            {
                "page": page.key,
                "role": role_id,
                "person": person,
                "attempt": attempt,
                "reason": reason.value,
                "step": step_id,
                "needs_ack": not already_acked,
            },
        )
    ]


def _add_timer(state: IncidentState, kind: TimerKind, target: str, due_at: datetime) -> None:
    state.timers.append(TimerState(kind=kind, target=target, due_at=due_at))


def _cancel_timers(
    state: IncidentState,
    kind: TimerKind | None,
    match: Callable[[str], bool],
    *,
    kinds: tuple[TimerKind, ...] = (),
) -> None:
    wanted = (kind,) if kind is not None else kinds
    for timer in state.timers:
        if timer.live and timer.kind in wanted and match(timer.target):
            timer.cancelled = True


def _cancel_all_timers(state: IncidentState) -> None:
    for timer in state.timers:
        if timer.live:
            timer.cancelled = True


_HANDLERS: dict[type, Callable[[IncidentState, Any, datetime], list[Event]]] = {
    AcknowledgePage: _ack,
    CompleteStep: _complete,
    SkipStep: _skip,
    ReassignStep: _reassign,
    CheckIn: _check_in,
    PostUpdate: _update,
    RequestEscalation: _request_escalation,
    AskAgain: _ask_again,
    DecideApproval: _decide_approval,
    ChangeSeverity: _change_severity,
    SendReport: _send_report,
    ConfirmReceipt: _confirm_receipt,
    Resolve: _resolve,
    Close: _close,
    Cancel: _cancel,
    FireTimer: _fire,
}


def live_timers(state: IncidentState) -> list[TimerState]:
    return [t for t in state.timers if t.live]


def upcoming_deadline(state: IncidentState) -> tuple[str, datetime] | None:
    """The open step due soonest, for the incident card's countdown."""
    due = [
        (s.due_at, s.step_id)
        for s in state.steps.values()
        if s.due_at is not None and not s.finished and s.status is not StepStatus.INACTIVE
    ]
    if not due:
        return None
    at, step_id = min(due)
    return step_id, at
