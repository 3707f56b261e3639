"""Quieting a step's reminders: a snooze (10, 30 or 60 minutes, never past the deadline)
and "I'm on it", said from a reminder.

Both quiet reminders only. The deadline is the plan's: at it the step is overdue and its
escalation target is paged whatever was snoozed, and the events say so (``deadline``,
``escalate_to``) for the confirmation to repeat it. A reminder is a timer row, so quieting
one is cancelling it: nothing new is stored on the step.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from epbot.domain.errors import DomainError, ErrorCode
from epbot.domain.incident.commands import OnIt, SnoozeStep
from epbot.domain.incident.events import Event, EventKind
from epbot.domain.incident.state import IncidentState, StepState, StepStatus, TimerKind, TimerState
from epbot.domain.incident.timers import add_timer

SNOOZE_MINUTES = (10, 30, 60)


def snooze(state: IncidentState, cmd: SnoozeStep, now: datetime) -> list[Event]:
    """No reminder of the step until ``until`` (the snooze's end, or the deadline if that
    comes first); a reminder it quieted comes back once, when a snooze ends before the
    deadline."""
    step = state.step(cmd.step_id)
    if cmd.actor != step.assignee and not state.is_commander(cmd.actor):
        raise DomainError(
            ErrorCode.NOT_STEP_ASSIGNEE,
            step=state.step_text(step.step_id),
            assignee=step.assignee or "?",
        )
    _ensure_unfinished(state, step)
    if cmd.minutes not in SNOOZE_MINUTES:
        raise DomainError(ErrorCode.SNOOZE_MINUTES)
    if step.due_at is None:
        raise DomainError(ErrorCode.NO_DEADLINE, step=state.step_text(step.step_id))
    if now >= step.due_at:
        raise DomainError(ErrorCode.SNOOZE_PAST_DEADLINE, step=state.step_text(step.step_id))
    asked = now + timedelta(minutes=cmd.minutes)
    until = min(asked, step.due_at)
    quieted = _quiet(state, step, until)
    resumes = bool(quieted) and until < step.due_at
    if resumes and not any(t.due_at == until for t in _reminders(state, step)):
        add_timer(state, TimerKind.STEP_REMINDER, step.step_id, until)
    spec = state.playbook.step(step.step_id)
    return [
        Event(
            EventKind.STEP_SNOOZED,
            cmd.actor,
            now,
            {
                "step": step.step_id,
                "assignee": step.assignee,
                "minutes": cmd.minutes,
                "until": until.isoformat(),
                "clamped": until < asked,
                "deadline": step.due_at.isoformat(),
                "escalate_to": spec.escalate_to,
                "quieted": len(quieted),
                "resumes": resumes,
            },
        )
    ]


def on_it(state: IncidentState, cmd: OnIt, now: datetime) -> list[Event]:
    """ "I'm on it": the step is the speaker's (a member of its role takes it over), and no
    further reminder of it comes before its deadline. Past the deadline the plan's repeated
    nudges go on: only finishing the step ends them."""
    step = state.step(cmd.step_id)
    if cmd.actor != step.assignee and cmd.actor not in state.members(step.role):
        raise DomainError(
            ErrorCode.NOT_STEP_ASSIGNEE,
            step=state.step_text(step.step_id),
            assignee=step.assignee or "?",
        )
    _ensure_unfinished(state, step)
    before, step.assignee = step.assignee, cmd.actor
    quieted = _quiet(state, step, None)
    spec = state.playbook.step(step.step_id)
    return [
        Event(
            EventKind.STEP_ON_IT,
            cmd.actor,
            now,
            {
                "step": step.step_id,
                "from": before if before != cmd.actor else None,
                "deadline": step.due_at.isoformat() if step.due_at else None,
                "overdue": step.overdue_at is not None,
                "escalate_to": spec.escalate_to,
                "quieted": len(quieted),
            },
        )
    ]


def _reminders(state: IncidentState, step: StepState) -> list[TimerState]:
    return [
        t
        for t in state.timers
        if t.live and t.kind is TimerKind.STEP_REMINDER and t.target == step.step_id
    ]


def _quiet(state: IncidentState, step: StepState, until: datetime | None) -> list[TimerState]:
    """Cancel the step's reminders due before ``until`` (all of them for None)."""
    quieted = [t for t in _reminders(state, step) if until is None or t.due_at < until]
    for timer in quieted:
        timer.cancelled = True
    return quieted


def _ensure_unfinished(state: IncidentState, step: StepState) -> None:
    """A step that can still be reminded of: begun, not finished, not refused."""
    if step.finished:
        raise DomainError(
            ErrorCode.STEP_FINISHED, step=state.step_text(step.step_id), status=step.status.value
        )
    if step.status is StepStatus.INACTIVE:
        raise DomainError(ErrorCode.STEP_INACTIVE, step=state.step_text(step.step_id))
    if step.status is StepStatus.REJECTED:
        raise DomainError(ErrorCode.STEP_REFUSED, step=state.step_text(step.step_id))
