"""A page ends: its person (or a backup of the role) acknowledges it, or its ack timer
fires and the next person, then the role's escalation target, is paged.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from epbot.domain.errors import DomainError, ErrorCode
from epbot.domain.incident.commands import AcknowledgePage, FireTimer
from epbot.domain.incident.events import Event, EventKind
from epbot.domain.incident.flow import transition
from epbot.domain.incident.paging import page_role, send_page
from epbot.domain.incident.state import (
    SYSTEM,
    IncidentState,
    PageReason,
    Status,
    TimerKind,
    Transition,
)
from epbot.domain.incident.timers import cancel_timers
from epbot.domain.playbook import Text


def acknowledge(state: IncidentState, cmd: AcknowledgePage, now: datetime) -> list[Event]:
    page = next((p for p in state.pages if p.key == cmd.page_key), None)
    if page is None:
        raise DomainError(ErrorCode.UNKNOWN, what=Text(zh_CN="该呼叫", en="this page"))
    role_acked = next((p for p in state.pages if p.role == page.role and p.acked_at), None)
    if role_acked is not None:
        raise DomainError(ErrorCode.ALREADY_ACKED, by=role_acked.acked_by or "?")
    if cmd.actor != page.person and cmd.actor not in state.members(page.role):
        raise DomainError(ErrorCode.NOT_PAGED)
    page.acked_at, page.acked_by = now, cmd.actor
    cancel_timers(state, TimerKind.PAGE_ACK, lambda t: t.startswith(page.role + "#"))
    events = [
        Event(
            EventKind.PAGE_ACKNOWLEDGED,
            cmd.actor,
            now,
            {
                "page": page.key,
                "role": page.role,
                "attempt": page.attempt,
                "seconds": int((now - page.sent_at).total_seconds()),
            },
        )
    ]
    for step in state.steps.values():
        if step.role == page.role and not step.finished and step.assignee != cmd.actor:
            step.assignee = cmd.actor
    if page.role == state.playbook.commander_role:
        state.commander = cmd.actor
        if state.status is Status.REPORTED:
            events += transition(state, Transition.TAKE_CHARGE, cmd.actor, now)
    return events


def page_timed_out(
    state: IncidentState, timer: FireTimer, now: datetime, lateness: dict[str, Any]
) -> list[Event]:
    """Nobody answered in time: page the role's next person, or its escalation target."""
    page = next((p for p in state.pages if p.key == timer.target), None)
    if page is None or page.acked_at is not None:
        return []
    if any(p.role == page.role and p.acked_at for p in state.pages):
        return []
    page.timed_out_at = now
    events = [
        Event(
            EventKind.PAGE_TIMED_OUT,
            SYSTEM,
            now,
            {
                "page": page.key,
                "role": page.role,
                "person": page.person,
                **lateness,
            },
        )
    ]
    people = state.members(page.role)
    tried = {p.person for p in state.pages if p.role == page.role}
    untried = [p for p in people if p not in tried]
    if untried:
        events += send_page(state, page.role, untried[0], PageReason.BACKUP, now, page.step_id)
        return events
    role = state.matrix.role(page.role) if people else None
    target = role.escalate_to if role else None
    # A target already waiting on a page of its own is not paged twice (that would start a
    # second backup chain for it); the event still names it, so the card can say so.
    waiting = target is not None and any(
        p.role == target for p in state.pages if p.acked_at is None and p.timed_out_at is None
    )
    events.append(
        Event(
            EventKind.ROLE_EXHAUSTED,
            SYSTEM,
            now,
            {"role": page.role, "escalate_to": target, "already_paged": waiting},
        )
    )
    if target and not waiting:
        events += page_role(
            state, target, PageReason.ROLE_ESCALATION, now, step_id=page.step_id, force=True
        )
    return events
