"""Paging a role: who its current person is, sending a page (with its ack timer) unless
the role already answered, and an unanswered chain of pages timing out.

A role waits on one acknowledgement at a time. Its pages form a *chain*: the first person
of the role's list is paged; when nobody answers in the role's ``ack_timeout``, the next
person is paged, and so on down the list; past its end the role is exhausted and its
escalation target is paged. A reason to page a role that is already being paged (another
overdue step) joins the chain: the same person is told, under the same clock, and the
reasons time out, move on to the backup, or are acknowledged together. So a person reads
one "did not acknowledge in time" per role and moment, and "attempt N" means the N-th
person of the role's list, whatever else the role was paged for.

Once a role has answered, a later page to it is for information: its person is told, and
no acknowledgement is asked (``needs_ack`` false, no timer).
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from epbot.domain.incident.events import Event, EventKind
from epbot.domain.incident.state import SYSTEM, IncidentState, PageReason, PageState, TimerKind
from epbot.domain.incident.timers import add_timer, cancel_timers


class PageStatus(StrEnum):
    """Where a page stands, for its DM and the closing report."""

    WAITING = "waiting"  # live: it asks for an acknowledgement
    ACKNOWLEDGED = "acknowledged"  # answered (``acked_by`` at ``acked_at``)
    TIMED_OUT = "timed_out"  # nobody answered in time; the chain moved on
    INFORMATION = "information"  # the role had already answered when it was sent
    ENDED = "ended"  # the incident ended before anyone answered


def current_person(state: IncidentState, role_id: str) -> str | None:
    acked = next((p.acked_by for p in state.pages if p.role == role_id and p.acked_by), None)
    if acked:
        return acked
    members = state.members(role_id)
    return members[0] if members else None


def waiting_pages(state: IncidentState, role_id: str) -> list[PageState]:
    """The role's live chain: its pages nobody answered and that have not timed out."""
    return [
        p
        for p in state.pages
        if p.role == role_id and p.acked_at is None and p.timed_out_at is None
    ]


def role_answer(state: IncidentState, role_id: str) -> PageState | None:
    """The page by which the role answered first, if it did."""
    acked = [p for p in state.pages if p.role == role_id and p.acked_at is not None]
    return min(acked, key=lambda p: (p.acked_at, p.attempt)) if acked else None


def page_attempt(state: IncidentState, page: PageState) -> int:
    """The page's attempt in its chain: the position of its person in the role's list.

    ``PageState.attempt`` is the page's number among all of the role's pages (its key);
    this is what a person reads as "attempt N".
    """
    members = state.members(page.role)
    return members.index(page.person) + 1 if page.person in members else 1


def page_status(state: IncidentState, page: PageState) -> PageStatus:
    if page.acked_at is not None:
        return PageStatus.ACKNOWLEDGED
    answer = role_answer(state, page.role)
    if answer is not None and answer.acked_at is not None and answer.acked_at <= page.sent_at:
        return PageStatus.INFORMATION
    if page.timed_out_at is not None:
        return PageStatus.TIMED_OUT
    return PageStatus.WAITING if state.is_open else PageStatus.ENDED


def page_group(state: IncidentState, page: PageState) -> list[PageState]:
    """The pages sent to the page's person at the same moment (one tick, one decision):
    they make one DM. The ``group`` of their ``paged`` events is the same."""
    return [p for p in state.pages if p.person == page.person and p.sent_at == page.sent_at]


def group_key(person: str, at: datetime) -> str:
    return f"{person}@{at.isoformat()}"


def page_role(
    state: IncidentState,
    role_id: str,
    reason: PageReason,
    now: datetime,
    *,
    step_id: str | None = None,
    force: bool = False,
) -> list[Event]:
    """Page a role's current person, unless the role already answered (or is being paged).

    ``force`` pages it anyway: a role that answered is told for information, a role being
    paged is told under the clock already running (a chain whose clock ran out is timed
    out first, so the reason goes to whoever is next).
    """
    members = state.members(role_id)
    if not members:
        return [Event(EventKind.PAGE_FAILED, SYSTEM, now, {"role": role_id, "reason": "no people"})]
    acked = role_answer(state, role_id)
    waiting = waiting_pages(state, role_id)
    if not force and (acked is not None or waiting):
        return []
    events: list[Event] = []
    if acked is None and waiting and (deadline := chain_deadline(state, waiting)) <= now:
        # The chain's own timer fires in this tick too (after this, or claimed before): time
        # it out first, so this reason goes to whoever is next, not to who did not answer;
        # stating its deadline and lateness, as that timer would have.
        late = {"due": deadline.isoformat(), "late_seconds": (now - deadline).total_seconds()}
        events = time_out_chain(state, waiting[0], now, late)
        waiting = waiting_pages(state, role_id)
    if acked is not None and acked.acked_by:
        person = acked.acked_by
    elif waiting:
        person = waiting[-1].person
    else:  # a new chain: the role's list from the top (also after it was exhausted)
        person = members[0]
    return events + send_page(state, role_id, person, reason, now, step_id)


def send_page(
    state: IncidentState,
    role_id: str,
    person: str,
    reason: PageReason,
    now: datetime,
    step_id: str | None,
) -> list[Event]:
    needs_ack = role_answer(state, role_id) is None
    clock_running = bool(waiting_pages(state, role_id))
    attempt = 1 + sum(p.role == role_id for p in state.pages)
    page = PageState(
        role=role_id, person=person, attempt=attempt, reason=reason, sent_at=now, step_id=step_id
    )
    state.pages.append(page)
    if needs_ack and not clock_running:
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
                "attempt": page_attempt(state, page),
                "reason": reason.value,
                "step": step_id,
                "needs_ack": needs_ack,
                "group": group_key(person, now),
            },
        )
    ]


def chain_deadline(state: IncidentState, waiting: list[PageState]) -> datetime:
    """When the role's live chain times out: its first page's time plus the ack timeout."""
    return min(p.sent_at for p in waiting) + state.matrix.role(waiting[0].role).ack_timeout


def time_out_chain(
    state: IncidentState, page: PageState, now: datetime, lateness: dict[str, Any]
) -> list[Event]:
    """Nobody answered ``page``'s chain in time: its pages time out together (one event),
    and each reason (a step, or none) goes to the role's next person, or the role is
    exhausted and its escalation target is paged."""
    role_id = page.role
    chain = waiting_pages(state, role_id)
    for p in chain:
        p.timed_out_at = now
    cancel_timers(state, TimerKind.PAGE_ACK, lambda t: t.startswith(role_id + "#"))
    members = state.members(role_id)
    later = members[members.index(page.person) + 1 :] if page.person in members else members
    following = later[0] if later else None
    target = state.matrix.role(role_id).escalate_to if members else None
    events = [
        Event(
            EventKind.PAGE_TIMED_OUT,
            SYSTEM,
            now,
            {
                "page": page.key,
                "pages": [p.key for p in chain],
                "role": role_id,
                "person": page.person,
                "next": following,
                "escalate_to": None if following else target,
                **lateness,
            },
        )
    ]
    steps = list(dict.fromkeys(p.step_id for p in chain))
    if following is not None:
        for step_id in steps:
            events += send_page(state, role_id, following, PageReason.BACKUP, now, step_id)
        return events
    # A target already waiting on a page of its own is not paged again for this: it is
    # being paged; the event names it (``already_paged``), so the card can say so.
    already = target is not None and bool(waiting_pages(state, target))
    events.append(
        Event(
            EventKind.ROLE_EXHAUSTED,
            SYSTEM,
            now,
            {"role": role_id, "escalate_to": target, "already_paged": already},
        )
    )
    if target and not already:
        for step_id in steps:
            events += page_role(
                state, target, PageReason.ROLE_ESCALATION, now, step_id=step_id, force=True
            )
    return events
