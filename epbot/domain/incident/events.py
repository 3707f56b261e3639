"""What ``decide`` returns: the events that go on the timeline and to the notifier.

Every event has a kind from :class:`EventKind`. The values are the strings stored in the
timeline and the outbox, so a member's value never changes; a kind is added here first,
and a test holds that each one is produced somewhere.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any


class EventKind(StrEnum):
    """What an event says happened; its value is what the timeline and the outbox store."""

    # the incident
    DECLARED = "declared"
    STATUS_CHANGED = "status_changed"
    STAGE_ENTERED = "stage_entered"
    SEVERITY_CHANGED = "severity_changed"
    UPDATE_POSTED = "update_posted"
    RESOLVED = "resolved"
    CANCELLED = "cancelled"  # a false alarm (误报)
    # pages
    PAGED = "paged"
    PAGE_FAILED = "page_failed"  # the role has no people
    PAGE_ACKNOWLEDGED = "page_acknowledged"
    PAGE_TIMED_OUT = "page_timed_out"
    ROLE_EXHAUSTED = "role_exhausted"  # every person of the role was paged, none answered
    # steps
    STEP_OPENED = "step_opened"
    STEP_UNBLOCKED = "step_unblocked"  # its approval was granted
    STEP_DONE = "step_done"
    STEP_SKIPPED = "step_skipped"
    STEP_REJECTED = "step_rejected"  # its approval was refused
    STEP_NOT_APPLICABLE = "step_not_applicable"  # the severity changed
    STEP_REASSIGNED = "step_reassigned"
    STEP_REMINDER = "step_reminder"
    STEP_OVERDUE = "step_overdue"
    STEP_NUDGE = "step_nudge"
    STEP_WAITING = "step_waiting"  # due while still waiting for the steps it depends on
    STEP_SNOOZED = "step_snoozed"  # its reminders quieted for a while (never its deadline)
    STEP_ON_IT = "step_on_it"  # "I'm on it": its person is working on it; reminders stop
    # approvals
    ESCALATION_REQUESTED = "escalation_requested"
    APPROVAL_REQUESTED = "approval_requested"
    APPROVAL_DECIDED = "approval_decided"
    APPROVAL_ASKED_AGAIN = "approval_asked_again"
    APPROVAL_EXPIRED = "approval_expired"
    # notices, reports and receipts (回执)
    BROADCAST = "broadcast"
    REPORT_SENT = "report_sent"  # 信息报告 / 续报
    PROGRESS_REPORT_DUE = "progress_report_due"  # a 续报 is due
    FINAL_REPORT = "final_report"  # 终报
    RECEIPT_CONFIRMED = "receipt_confirmed"
    RECEIPT_OVERDUE = "receipt_overdue"
    # written by the service, not by decide(): a person's attempt the domain refused
    REFUSED = "refused"


@dataclass
class Event:
    """Something that happened: it goes on the timeline and to the notifier."""

    kind: EventKind
    actor: str
    at: datetime
    data: dict[str, Any] = field(default_factory=dict)
