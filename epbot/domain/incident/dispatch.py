"""The entry points: ``declare`` opens an incident, ``decide`` dispatches a command to
its handler through one table, and ``fire`` routes a due timer to its reaction.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from epbot.domain.errors import DomainError, ErrorCode
from epbot.domain.incident.acks import acknowledge, implied_acknowledgements, page_timed_out
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
    RequestEscalation,
    Resolve,
    SendReport,
    SkipStep,
    SnoozeStep,
)
from epbot.domain.incident.decisions import (
    approval_expired,
    ask_again,
    decide_approval,
    request_escalation,
)
from epbot.domain.incident.ending import cancel, close, resolve
from epbot.domain.incident.events import Event, EventKind
from epbot.domain.incident.flow import enter_stage, transition
from epbot.domain.incident.paging import page_role
from epbot.domain.incident.reporting import (
    confirm_receipt,
    progress_prompt,
    receipt_due,
    send_report,
)
from epbot.domain.incident.severity import change_severity
from epbot.domain.incident.snooze import on_it, snooze
from epbot.domain.incident.state import (
    IncidentState,
    PageReason,
    ReportFields,
    Status,
    StepState,
    TimerKind,
    Transition,
)
from epbot.domain.incident.steps import check_in, complete, post_update, reassign, skip, step_timer
from epbot.domain.matrix import Matrix
from epbot.domain.playbook import Playbook, Severity, StageId


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
            EventKind.DECLARED,
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
    declaration_stages = (StageId.REPORT, StageId.INITIAL_HANDLING)
    roles = [playbook.commander_role] + [
        step.role
        for stage, step in playbook.iter_steps()
        if stage.id in declaration_stages and step.applies_to(severity)
    ]
    events += implied_acknowledgements(state, list(dict.fromkeys(roles)), now)
    events += page_role(state, playbook.commander_role, PageReason.DECLARED, now)
    for stage_id in declaration_stages:
        events += enter_stage(state, stage_id, now, page_reason=PageReason.DECLARED)
    if state.commander is not None:  # the reporter holds the commander role
        events += transition(state, Transition.TAKE_CHARGE, state.commander, now)
    return state, events


def decide(state: IncidentState, command: Command, now: datetime) -> list[Event]:
    """Apply ``command`` to ``state`` at ``now``; return the events, or raise DomainError."""
    handler = _HANDLERS[type(command)]
    # A notice sent just before the end (resume uploads) is still confirmed after resolve.
    late_receipt = isinstance(command, ConfirmReceipt) and state.status is not Status.CANCELLED
    if not isinstance(command, FireTimer | Close) and not state.is_open and not late_receipt:
        raise DomainError(ErrorCode.INCIDENT_ENDED, status=state.status.value)
    return handler(state, command, now)


def fire(state: IncidentState, cmd: FireTimer, now: datetime) -> list[Event]:
    """Mark the timer fired; while the incident is open, do what its kind asks."""
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
    return _ON_TIMER[cmd.kind](state, cmd, now, lateness)


TimerReaction = Callable[[IncidentState, FireTimer, datetime, dict[str, Any]], list[Event]]

# What each timer does when it fires; every TimerKind has one (a test holds this).
_ON_TIMER: dict[TimerKind, TimerReaction] = {
    TimerKind.PAGE_ACK: page_timed_out,
    TimerKind.APPROVAL_EXPIRY: approval_expired,
    TimerKind.PROGRESS_PROMPT: progress_prompt,
    TimerKind.RECEIPT_DUE: receipt_due,
    TimerKind.STEP_REMINDER: step_timer,
    TimerKind.STEP_DUE: step_timer,
    TimerKind.STEP_NUDGE: step_timer,
}


_HANDLERS: dict[type, Callable[[IncidentState, Any, datetime], list[Event]]] = {
    AcknowledgePage: acknowledge,
    CompleteStep: complete,
    SkipStep: skip,
    ReassignStep: reassign,
    CheckIn: check_in,
    SnoozeStep: snooze,
    OnIt: on_it,
    PostUpdate: post_update,
    RequestEscalation: request_escalation,
    AskAgain: ask_again,
    DecideApproval: decide_approval,
    ChangeSeverity: change_severity,
    SendReport: send_report,
    ConfirmReceipt: confirm_receipt,
    Resolve: resolve,
    Close: close,
    Cancel: cancel,
    FireTimer: fire,
}
