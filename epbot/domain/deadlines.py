"""Due times, reminder offsets and nudges. Pure: time is an argument."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from epbot.domain.playbook import DueFrom, Step

DEFAULT_APPROVAL_TIMEOUT = timedelta(minutes=15)


@dataclass(frozen=True)
class Anchors:
    """The moments a step's deadline may count from."""

    declared_at: datetime
    stage_started_at: datetime | None
    step_done_at: dict[str, datetime]


def due_time(step: Step, anchors: Anchors) -> datetime | None:
    """When ``step`` is due, or None when it has no deadline or its anchor is not yet known."""
    if step.due is None:
        return None
    start: datetime | None
    if step.due.from_ is DueFrom.DECLARED:
        start = anchors.declared_at
    elif step.due.from_ is DueFrom.STAGE_START:
        start = anchors.stage_started_at
    else:
        start = anchors.step_done_at.get(step.due.step or "")
    return None if start is None else start + step.due.after


def reminder_times(step: Step, due_at: datetime, now: datetime) -> list[tuple[timedelta, datetime]]:
    """(offset, time) of each reminder before ``due_at`` that is still in the future."""
    times = []
    for offset in sorted(set(step.reminders.before), reverse=True):
        at = due_at - offset
        if at > now and offset > timedelta(0):
            times.append((offset, at))
    return times


def next_nudge(step: Step, after: datetime) -> datetime | None:
    """The next overdue nudge after ``after``, if the playbook repeats them."""
    repeat = step.reminders.repeat
    if repeat is None or repeat <= timedelta(0):
        return None
    return after + repeat
