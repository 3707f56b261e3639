"""What a person (or a timer) asks of an incident: one frozen dataclass per command."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from epbot.domain.incident.state import ReportFields, TimerKind
from epbot.domain.playbook import Severity


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
class SnoozeStep:
    """Quiet the step's reminders for ``minutes`` (10, 30 or 60), never past its deadline."""

    actor: str
    step_id: str
    minutes: int


@dataclass(frozen=True)
class OnIt:
    """ "I'm on it", said from a reminder: the step's person is working on it."""

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
    | SnoozeStep
    | OnIt
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
