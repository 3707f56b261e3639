"""A page ends: its person (or a backup of the role) acknowledges it, or its ack timer
fires and the next person, then the role's escalation target, is paged; and the reporter's
implied answer for the roles she holds.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from epbot.domain.errors import DomainError, ErrorCode
from epbot.domain.incident.commands import AcknowledgePage, FireTimer
from epbot.domain.incident.events import Event, EventKind
from epbot.domain.incident.flow import transition
from epbot.domain.incident.paging import (
    page_attempt,
    role_answer,
    time_out_chain,
    waiting_pages,
)
from epbot.domain.incident.state import (
    IncidentState,
    PageReason,
    PageState,
    Status,
    TimerKind,
    Transition,
)
from epbot.domain.incident.timers import cancel_timers
from epbot.domain.playbook import Text


def acknowledge(state: IncidentState, cmd: AcknowledgePage, now: datetime) -> list[Event]:
    """The role answers: the page, and every page of its chain still waiting, are
    acknowledged by ``cmd.actor`` (one answer for every reason the role was paged for)."""
    page = next((p for p in state.pages if p.key == cmd.page_key), None)
    if page is None:
        raise DomainError(ErrorCode.UNKNOWN, what=Text(zh_CN="该呼叫", en="this page"))
    role_acked = role_answer(state, page.role)
    if role_acked is not None:
        raise DomainError(ErrorCode.ALREADY_ACKED, by=role_acked.acked_by or "?")
    if cmd.actor != page.person and cmd.actor not in state.members(page.role):
        raise DomainError(ErrorCode.NOT_PAGED)
    answered = [page, *(p for p in waiting_pages(state, page.role) if p is not page)]
    answered.sort(key=lambda p: p.attempt)
    for p in answered:
        p.acked_at, p.acked_by = now, cmd.actor
    cancel_timers(state, TimerKind.PAGE_ACK, lambda t: t.startswith(page.role + "#"))
    events = [
        Event(
            EventKind.PAGE_ACKNOWLEDGED,
            cmd.actor,
            now,
            {
                "page": page.key,
                "pages": [p.key for p in answered],
                "role": page.role,
                "attempt": page_attempt(state, page),
                "seconds": int((now - page.sent_at).total_seconds()),
                "implied": False,
            },
        )
    ]
    return events + take_role(state, page.role, cmd.actor, now)


def take_role(
    state: IncidentState, role_id: str, person: str, now: datetime, *, take_charge: bool = True
) -> list[Event]:
    """``person`` answers for the role: its unfinished steps are theirs; the commander
    role's answer makes them the commander, and (``take_charge``) starts initial handling."""
    for step in state.steps.values():
        if step.role == role_id and not step.finished and step.assignee != person:
            step.assignee = person
    if role_id != state.playbook.commander_role:
        return []
    state.commander = person
    if take_charge and state.status is Status.REPORTED:
        return transition(state, Transition.TAKE_CHARGE, person, now)
    return []


def implied_acknowledgements(state: IncidentState, roles: list[str], now: datetime) -> list[Event]:
    """The reporter holds some of the roles paged at declaration: she knows of her own report,
    so her answer for them is implied (Art. 5.1: the emergency office confirms receiving the
    report; a report filed by the office itself is received). She is not paged for them, and
    nobody is escalated for her not acknowledging. The caller takes charge once the
    declaration's stages have started."""
    events: list[Event] = []
    for role_id in roles:
        if state.reporter not in state.members(role_id) or role_answer(state, role_id):
            continue
        page = PageState(
            role=role_id,
            person=state.reporter,
            attempt=1 + sum(p.role == role_id for p in state.pages),
            reason=PageReason.DECLARED,
            sent_at=now,
            acked_at=now,
            acked_by=state.reporter,
        )
        state.pages.append(page)
        events.append(
            Event(
                EventKind.PAGE_ACKNOWLEDGED,
                state.reporter,
                now,
                {
                    "page": page.key,
                    "pages": [page.key],
                    "role": role_id,
                    "attempt": page_attempt(state, page),
                    "seconds": 0,
                    "implied": True,
                },
            )
        )
        take_role(state, role_id, state.reporter, now, take_charge=False)
    return events


def page_timed_out(
    state: IncidentState, timer: FireTimer, now: datetime, lateness: dict[str, Any]
) -> list[Event]:
    """Nobody answered in time: the chain moves to the role's next person, or escalates.

    Said once: a page already timed out (its chain timed out by another page's timer, or
    by a reason that came in after the chain's clock ran out) says nothing more.
    """
    page = next((p for p in state.pages if p.key == timer.target), None)
    if page is None or page.acked_at is not None or page.timed_out_at is not None:
        return []
    if role_answer(state, page.role) is not None:
        return []
    return time_out_chain(state, page, now, lateness)
