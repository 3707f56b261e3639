"""Reports and receipts: delivering a 信息报告 / 续报, the 续报 prompt when one is due,
a unit confirming a notice (回执), and a receipt not confirmed in time.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from epbot.domain.errors import DomainError, ErrorCode
from epbot.domain.incident.commands import ConfirmReceipt, FireTimer, ReportKind, SendReport
from epbot.domain.incident.events import Event, EventKind
from epbot.domain.incident.flow import finish_step
from epbot.domain.incident.notices import progress_recipients, receipt, receipt_counts, recipients
from epbot.domain.incident.paging import current_person, page_role
from epbot.domain.incident.state import (
    SYSTEM,
    IncidentState,
    PageReason,
    ReportFields,
    StepStatus,
    TimerKind,
)
from epbot.domain.incident.steps import authorize_step, ensure_actionable
from epbot.domain.incident.timers import (
    PROGRESS_STATUSES,
    add_timer,
    cancel_timers,
    restart_progress_prompts,
)
from epbot.domain.playbook import StepKind


def _may_report(state: IncidentState, actor: str) -> bool:
    return state.is_commander(actor) or actor in state.members(state.matrix.emergency_office)


def send_report(state: IncidentState, cmd: SendReport, now: datetime) -> list[Event]:
    step = state.step(cmd.step_id) if cmd.step_id else None
    if step is not None:
        if step.kind is not StepKind.REPORT:
            raise DomainError(ErrorCode.NOT_A_REPORT, step=state.step_text(step.step_id))
        authorize_step(state, step, cmd.actor)
        ensure_actionable(state, step)
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
    events = [Event(EventKind.REPORT_SENT, cmd.actor, now, data)]
    if kind is ReportKind.PROGRESS:
        restart_progress_prompts(state, now)
    if step is not None:
        # No note: the report_sent line beside it names the version, in the reader's language.
        events += finish_step(state, step, StepStatus.DONE, cmd.actor, now, note=None)
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


def progress_prompt(
    state: IncidentState, _timer: FireTimer, now: datetime, lateness: dict[str, Any]
) -> list[Event]:
    """A 续报 is due: prompt the commander, and set the next prompt."""
    if state.status not in PROGRESS_STATUSES or state.playbook.progress_reports is None:
        return []
    restart_progress_prompts(state, now)
    commander = state.commander or current_person(state, state.playbook.commander_role)
    return [
        Event(
            EventKind.PROGRESS_REPORT_DUE,
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


def confirm_receipt(state: IncidentState, cmd: ConfirmReceipt, now: datetime) -> list[Event]:
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
    cancel_timers(state, TimerKind.RECEIPT_DUE, lambda t: t == found.key)
    done, asked = receipt_counts(state, found.step_id)
    return [
        Event(
            EventKind.RECEIPT_CONFIRMED,
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


def receipt_due(
    state: IncidentState, timer: FireTimer, now: datetime, lateness: dict[str, Any]
) -> list[Event]:
    """Not confirmed in time: nudge the unit's channel; the next time, page its person."""
    found = next((r for r in state.receipts if r.key == timer.target), None)
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
    events = [Event(EventKind.RECEIPT_OVERDUE, SYSTEM, now, data)]
    if found.nudged_at is None:
        found.nudged_at = now
        if spec.receipt_within is not None:
            add_timer(state, TimerKind.RECEIPT_DUE, found.key, now + spec.receipt_within)
    elif found.responsible_role:
        events += page_role(
            state,
            found.responsible_role,
            PageReason.RECEIPT,
            now,
            step_id=found.step_id,
            force=True,
        )
    return events
