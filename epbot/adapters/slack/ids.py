"""Slack ``action_id``s and ``callback_id``s: a public, stable contract (docs/slack.md).

A button's ``value`` carries what it acts on, as ``<incident id>:<target>`` where target
is a page key (``security-officer#2``), a step id or an approval key.
"""

from __future__ import annotations

from enum import StrEnum


class Action(StrEnum):
    INCIDENT_ACK = "incident.ack"  # value: "<incident>:<page key>"
    STEP_DONE = "step.done"  # value: "<incident>:<step id>"
    STEP_CHECKIN = "step.checkin"  # value: "<incident>:<step id>"
    APPROVAL_APPROVE = "approval.approve"  # value: "<incident>:<approval key>"
    APPROVAL_REJECT = "approval.reject"  # value: "<incident>:<approval key>" (opens a reason modal)
    ESCALATION_REQUEST = "escalation.request"  # value: "<incident>"
    INCIDENT_RESOLVE = "incident.resolve"  # value: "<incident>"
    STEP_SKIP = "step.skip"  # value: "<incident>:<step id>" (commander; opens a reason modal)
    STEP_REASSIGN = "step.reassign"  # value: "<incident>:<step id>" (opens a user picker)
    ALERT_DECLARE = "alert.declare"  # value: "<alert id>" (opens the pre-filled report)
    ALERT_DISMISS = "alert.dismiss"  # value: "<alert id>" (opens a reason modal)
    APPROVAL_ASK_AGAIN = "approval.ask_again"  # value: "<incident>:<step id>" (a refused step)
    STEP_REPORT = "step.report"  # value: "<incident>:<step id>" (opens the report to send)
    REPORT_PROGRESS = "report.progress"  # value: "<incident>" (opens the progress report, 续报)
    BROADCAST_RECEIPT = "broadcast.receipt"  # value: "<incident>:<step id>@<unit id>" (回执)
    STEP_SNOOZE_10 = "step.snooze_10"  # value: "<incident>:<step id>" (quiet reminders 10 min)
    STEP_SNOOZE_30 = "step.snooze_30"  # value: "<incident>:<step id>"
    STEP_SNOOZE_60 = "step.snooze_60"  # value: "<incident>:<step id>"
    STEP_ON_IT = "step.on_it"  # value: "<incident>:<step id>" ("I'm on it" from a reminder)


class Callback(StrEnum):
    REPORT = "incident.report"  # the Article 5.1 report modal
    REJECT_REASON = "approval.reject_reason"  # reason for a rejection
    ESCALATION_REASON = "escalation.reason"
    SKIP_REASON = "step.skip_reason"  # reason for skipping a step
    REASSIGN = "step.reassign_to"  # the user picker of a reassignment
    ALERT_REPORT = "alert.report"  # the report modal pre-filled from a warning
    ALERT_DISMISS = "alert.dismiss_reason"  # why a warning needs no incident
    ASK_AGAIN_REASON = "approval.ask_again_reason"  # why a refused step is asked again
    REPORT_SEND = "report.send"  # the report (or progress report) to deliver


def button_value(incident_id: int, target: str = "") -> str:
    return f"{incident_id}:{target}" if target else str(incident_id)


def parse_value(value: str) -> tuple[int, str]:
    """``(incident id, target)`` from a button value; ValueError if malformed."""
    head, _, target = value.partition(":")
    return int(head), target
