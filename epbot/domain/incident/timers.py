"""The incident's timer rows: adding and cancelling them, a step's deadline and reminders,
nudges after the deadline, the 续报 prompt, and the queries the card and scheduler read.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from epbot.domain.deadlines import (
    DEFAULT_APPROVAL_TIMEOUT,
    Anchors,
    due_time,
    next_nudge,
    reminder_times,
)
from epbot.domain.incident.state import (
    ApprovalStatus,
    IncidentState,
    Status,
    StepStatus,
    TimerKind,
    TimerState,
)
from epbot.domain.playbook import Step


def add_timer(state: IncidentState, kind: TimerKind, target: str, due_at: datetime) -> None:
    state.timers.append(TimerState(kind=kind, target=target, due_at=due_at))


def cancel_timers(
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


def cancel_all_timers(state: IncidentState) -> None:
    for timer in state.timers:
        if timer.live:
            timer.cancelled = True


def schedule_deadline(
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
        add_timer(state, TimerKind.STEP_REMINDER, spec.id, at)
    add_timer(state, TimerKind.STEP_DUE, spec.id, max(due, now))
    approval = state.approval_for(spec.id)
    if approval is not None and approval.status is ApprovalStatus.PENDING:
        # the step's deadline while it is ahead, else a fresh window (approvals.decision_time)
        approval.due_at = due if due > now else now + DEFAULT_APPROVAL_TIMEOUT
        for timer in state.timers:
            if (
                timer.kind is TimerKind.APPROVAL_EXPIRY
                and timer.target == approval.key
                and timer.live
            ):
                timer.due_at = approval.due_at


def schedule_nudge(state: IncidentState, spec: Step, after: datetime, now: datetime) -> None:
    """The next nudge on the step's repeat grid that is still ahead of ``now``.

    Catching up after downtime sends one nudge, not one per missed interval, and never a
    second one at the same instant.
    """
    nudge = next_nudge(spec, after)
    while nudge is not None and nudge <= now:
        nudge = next_nudge(spec, nudge)
    if nudge is not None:
        add_timer(state, TimerKind.STEP_NUDGE, spec.id, nudge)


def restart_progress_prompts(state: IncidentState, now: datetime) -> None:
    """The next 续报 prompt, one interval from ``now`` (the last report or the stage start)."""
    cancel_timers(state, TimerKind.PROGRESS_PROMPT, lambda _t: True)
    progress = state.playbook.progress_reports
    if progress is not None and state.status in PROGRESS_STATUSES:
        add_timer(state, TimerKind.PROGRESS_PROMPT, "progress", now + progress.every)


PROGRESS_STATUSES = frozenset({Status.EMERGENCY_RESPONSE, Status.COMMAND})


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
