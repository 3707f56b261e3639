"""The incident state machine and the rules of the plan, with no I/O.

``decide(state, command, now)`` applies one command to an incident's state (mutating the
given state, which the caller loaded for this purpose) and returns the events it caused.
Stage changes follow the explicit ``TRANSITIONS`` table; everything a person may not do
raises ``DomainError`` with a message fit to show them. Time only arrives as ``now``.

The package is cut by job, from the bottom up: ``state`` / ``events`` / ``commands`` (what
an incident is and what may be asked of it); ``timers``, ``paging``, ``approvals``,
``notices`` (the mechanics the rules share); ``flow`` (transitions, stages, finishing a
step); one module per group of commands (``acks``, ``steps``, ``decisions``, ``severity``,
``reporting``, ``ending``); and ``dispatch`` on top, with ``declare`` and ``decide``.
Callers import from here; the modules import only downwards, so there is no cycle.
"""

from epbot.domain.deadlines import DEFAULT_APPROVAL_TIMEOUT
from epbot.domain.incident.commands import (
    AcknowledgePage,
    AskAgain,
    Cancel,
    ChangeSeverity,
    CheckIn,
    Close,
    Command,
    CompleteStep,
    ConfirmReceipt,
    DecideApproval,
    FireTimer,
    OnIt,
    PostUpdate,
    ReassignStep,
    ReportKind,
    RequestEscalation,
    Resolve,
    SendReport,
    SkipStep,
    SnoozeStep,
)
from epbot.domain.incident.dispatch import decide, declare
from epbot.domain.incident.events import Event, EventKind
from epbot.domain.incident.notices import (
    progress_recipients,
    receipt,
    receipt_counts,
    recipients,
)
from epbot.domain.incident.paging import PageStatus, page_attempt, page_group, page_status
from epbot.domain.incident.state import (
    FINISHED_STEP,
    OPEN_STATUSES,
    SYSTEM,
    TRANSITIONS,
    ApprovalState,
    ApprovalStatus,
    IncidentState,
    PageReason,
    PageState,
    ReceiptState,
    ReportFields,
    Status,
    StepState,
    StepStatus,
    TimerKind,
    TimerState,
    Transition,
)
from epbot.domain.incident.timers import live_timers, upcoming_deadline
from epbot.domain.matrix import ApprovalKind
from epbot.domain.playbook import StepKind

__all__ = [
    "DEFAULT_APPROVAL_TIMEOUT",
    "FINISHED_STEP",
    "OPEN_STATUSES",
    "SYSTEM",
    "TRANSITIONS",
    "AcknowledgePage",
    "ApprovalKind",
    "ApprovalState",
    "ApprovalStatus",
    "AskAgain",
    "Cancel",
    "ChangeSeverity",
    "CheckIn",
    "Close",
    "Command",
    "CompleteStep",
    "ConfirmReceipt",
    "DecideApproval",
    "Event",
    "EventKind",
    "FireTimer",
    "IncidentState",
    "OnIt",
    "PageReason",
    "PageState",
    "PageStatus",
    "PostUpdate",
    "ReassignStep",
    "ReceiptState",
    "ReportFields",
    "ReportKind",
    "RequestEscalation",
    "Resolve",
    "SendReport",
    "SkipStep",
    "SnoozeStep",
    "Status",
    "StepKind",
    "StepState",
    "StepStatus",
    "TimerKind",
    "TimerState",
    "Transition",
    "decide",
    "declare",
    "live_timers",
    "page_attempt",
    "page_group",
    "page_status",
    "progress_recipients",
    "receipt",
    "receipt_counts",
    "recipients",
    "upcoming_deadline",
]
