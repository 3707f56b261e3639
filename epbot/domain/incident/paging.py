"""Paging a role: who its current person is, and sending a page (with its ack timer)
unless the role already answered.
"""

from __future__ import annotations

from datetime import datetime

from epbot.domain.incident.events import Event, EventKind
from epbot.domain.incident.state import SYSTEM, IncidentState, PageReason, PageState, TimerKind
from epbot.domain.incident.timers import add_timer


def current_person(state: IncidentState, role_id: str) -> str | None:
    acked = next((p.acked_by for p in state.pages if p.role == role_id and p.acked_by), None)
    if acked:
        return acked
    members = state.members(role_id)
    return members[0] if members else None


def page_role(
    state: IncidentState,
    role_id: str,
    reason: PageReason,
    now: datetime,
    *,
    step_id: str | None = None,
    force: bool = False,
) -> list[Event]:
    """Page a role's current person, unless the role already answered (or is being paged)."""
    members = state.members(role_id)
    if not members:
        return [Event(EventKind.PAGE_FAILED, SYSTEM, now, {"role": role_id, "reason": "no people"})]
    pages = [p for p in state.pages if p.role == role_id]
    acked = next((p for p in pages if p.acked_at), None)
    if not force and (acked is not None or any(p.timed_out_at is None for p in pages)):
        return []
    person = acked.acked_by if acked and acked.acked_by else members[0]
    if force and acked is None:
        waiting = [p for p in pages if p.timed_out_at is None and p.acked_at is None]
        if waiting:
            person = waiting[-1].person
    return send_page(state, role_id, person, reason, now, step_id)


def send_page(
    state: IncidentState,
    role_id: str,
    person: str,
    reason: PageReason,
    now: datetime,
    step_id: str | None,
) -> list[Event]:
    attempt = 1 + sum(p.role == role_id for p in state.pages)
    page = PageState(
        role=role_id, person=person, attempt=attempt, reason=reason, sent_at=now, step_id=step_id
    )
    state.pages.append(page)
    already_acked = any(p.role == role_id and p.acked_at for p in state.pages)
    if not already_acked:
        add_timer(state, TimerKind.PAGE_ACK, page.key, now + state.matrix.role(role_id).ack_timeout)
    return [
        Event(
            EventKind.PAGED,
            SYSTEM,
            now,
            {
                "page": page.key,
                "role": role_id,
                "person": person,
                "attempt": attempt,
                "reason": reason.value,
                "step": step_id,
                "needs_ack": not already_acked,
            },
        )
    ]
