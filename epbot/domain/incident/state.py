"""What an incident is: its statuses, the ``TRANSITIONS`` table, and the records of its
steps, approvals, pages, receipts and timers. The bottom of the package: imports nothing of it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum

from epbot.domain.errors import DomainError, ErrorCode
from epbot.domain.matrix import ApprovalKind, Matrix
from epbot.domain.playbook import Playbook, Severity, StageId, StepKind, Text


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


SYSTEM = "epbot"
