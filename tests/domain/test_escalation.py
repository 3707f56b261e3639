"""Escalation a person can follow (issue 14), on the shipped db-crash playbook with the
clock fast-forwarded an hour, as in the sandbox: one tick at the end of the hour, or a tick
a minute. Each test is one of the issue's findings."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from datetime import datetime

import pytest

from epbot.domain import incident as dom
from epbot.domain.errors import DomainError, ErrorCode
from epbot.domain.incident import EventKind, PageReason, PageStatus, TimerKind
from tests.domain.escalation_helpers import (
    LEADER,
    OFFICE,
    T0,
    M,
    ack_all,
    db_crash,
    minute_by_minute,
    of,
    tick,
)

HOUR = 60 * M
FastForward = Callable[[dom.IncidentState], list[dom.Event]]


@pytest.fixture(params=["one jump", "minute by minute"])
def fast_forward(request: pytest.FixtureRequest) -> FastForward:
    """An hour of plan time: one tick at its end (the sandbox), or a tick a minute."""

    def run(state: dom.IncidentState) -> list[dom.Event]:
        if request.param == "one jump":
            return tick(state, T0 + HOUR)
        return minute_by_minute(state, T0, 60)

    return run


# --- "the same 'did not acknowledge in time' line posted twice in the same minute" --------


@pytest.mark.parametrize("acked", [False, True], ids=["nobody answers", "all but the leader"])
def test_one_timeout_line_per_person_role_and_moment(
    fast_forward: FastForward, acked: bool
) -> None:
    state, _ = db_crash()
    if acked:
        ack_all(state, T0 + M)
    events = fast_forward(state)
    events += tick(state, T0 + HOUR + 10 * M)  # the last pages' clocks run out too
    lines = Counter(
        (e.at, e.data["role"], e.data["person"]) for e in of(events, EventKind.PAGE_TIMED_OUT)
    )
    assert lines, "the hour has pages that time out"
    assert [k for k, n in lines.items() if n > 1] == []
    exhausted = Counter((e.at, e.data["role"]) for e in of(events, EventKind.ROLE_EXHAUSTED))
    assert [k for k, n in exhausted.items() if n > 1] == []
    # A role waits on one acknowledgement clock at a time, however many reasons it is paged for.
    live = Counter(
        t.target.split("#")[0] for t in state.timers if t.live and t.kind is TimerKind.PAGE_ACK
    )
    assert [r for r, n in live.items() if n > 1] == []


def test_a_second_timer_for_a_page_already_timed_out_says_nothing() -> None:
    state, _ = db_crash()
    tick(state, T0 + 10 * M)
    page = next(p for p in state.pages if p.role == "emergency-office" and p.timed_out_at)
    again = dom.FireTimer(None, TimerKind.PAGE_ACK, page.key, T0 + 3 * M)
    assert dom.decide(state, again, T0 + 10 * M) == []


# --- "an approval request created already past its decision time" -------------------------


def test_an_approval_requested_late_gets_a_fresh_window_from_its_request() -> None:
    state, _ = db_crash()
    ack_all(state, T0 + M)
    tick(state, T0 + HOUR)  # the leadership report (due at 15m) and the approval (30m) are late
    office = state.commander
    assert office in OFFICE
    now = T0 + HOUR
    events = dom.decide(state, dom.SendReport(office, "report-leadership", 1, _report()), now)
    requested = of(events, EventKind.APPROVAL_REQUESTED)
    assert [e.data["approval"] for e in requested] == ["approve-emergency-response"]
    window = dom.DEFAULT_APPROVAL_TIMEOUT
    assert requested[0].data["due_at"] == (now + window).isoformat()
    approval = state.approvals["approve-emergency-response"]
    assert approval.due_at == now + window
    # Not born expired: the same moment's tick does not expire it, its window's end does.
    assert of(tick(state, now), EventKind.APPROVAL_EXPIRED) == []
    assert of(tick(state, now + window - M), EventKind.APPROVAL_EXPIRED) == []
    expired = tick(state, now + window)
    assert [e.data["approval"] for e in of(expired, EventKind.APPROVAL_EXPIRED)] == [
        "approve-emergency-response"
    ]
    # The step's own overdue escalation waits for the same window, not for the old deadline.
    overdue = [e.data["step"] for e in of(expired, EventKind.STEP_OVERDUE)]
    assert "approve-emergency-response" in overdue


def test_an_approval_requested_in_time_keeps_the_plans_deadline() -> None:
    state, _ = db_crash()
    ack_all(state, T0 + M)
    events = dom.decide(
        state, dom.SendReport(state.commander or "", "report-leadership", 1, _report()), T0 + 5 * M
    )
    requested = of(events, EventKind.APPROVAL_REQUESTED)[0]
    assert requested.data["due_at"] == (T0 + 30 * M).isoformat()  # 30m from declared


# --- "a step still waiting for earlier steps paging the leader as overdue" -----------------


def test_a_step_waiting_for_earlier_steps_is_waiting_not_overdue(fast_forward: FastForward) -> None:
    state, _ = db_crash()
    ack_all(state, T0 + M)
    events = fast_forward(state)
    step = "approve-emergency-response"  # due 30m after declaring; waits for report-leadership
    assert state.steps[step].status is dom.StepStatus.PENDING
    assert [e for e in of(events, EventKind.STEP_OVERDUE) if e.data["step"] == step] == []
    assert [e for e in of(events, EventKind.STEP_NUDGE) if e.data["step"] == step] == []
    assert [e for e in of(events, EventKind.PAGED) if e.data["step"] == step] == []
    waiting = [e for e in of(events, EventKind.STEP_WAITING) if e.data["step"] == step]
    assert len(waiting) == 1
    assert waiting[0].data["waiting_for"] == ["report-leadership"]
    assert waiting[0].data["due_at"] == (T0 + 30 * M).isoformat()
    # what it waits for is itself overdue and escalated, on its own account
    assert "report-leadership" in [e.data["step"] for e in of(events, EventKind.STEP_OVERDUE)]


def test_a_reminder_of_a_waiting_step_says_what_it_waits_for() -> None:
    state, _ = db_crash()
    ack_all(state, T0 + M)
    events = tick(state, T0 + 20 * M)  # approve-emergency-response: reminder 10m before 30m
    reminders = [
        e
        for e in of(events, EventKind.STEP_REMINDER)
        if e.data["step"] == "approve-emergency-response"
    ]
    assert [e.data["waiting_for"] for e in reminders] == [["report-leadership"]]


def test_a_plain_step_that_opens_after_its_deadline_is_overdue_once_it_opens() -> None:
    state, _ = db_crash()
    ack_all(state, T0 + M)
    tick(state, T0 + 3 * HOUR)  # recover-data (2h) waits for check-offsite-backup (30m)
    assert state.steps["recover-data"].overdue_at is None
    engineer = state.steps["check-offsite-backup"].assignee or ""
    events = dom.decide(state, dom.CompleteStep(engineer, "check-offsite-backup"), T0 + 3 * HOUR)
    assert "recover-data" in [e.data["step"] for e in of(events, EventKind.STEP_OPENED)]
    later = tick(state, T0 + 3 * HOUR)
    overdue = [e for e in of(later, EventKind.STEP_OVERDUE) if e.data["step"] == "recover-data"]
    assert len(overdue) == 1
    assert [e.data["role"] for e in of(later, EventKind.PAGED)] == ["security-group-lead"]


# --- "a page that timed out still showing a live Acknowledge button, while a later page to
# the same person shows 'acknowledged at 11:14' and the closing report calls it unanswered" --


def test_every_timed_out_page_says_when_its_clock_ran_out(fast_forward: FastForward) -> None:
    # Its own timer, or an overdue step's page to the role in the same tick (which times
    # the chain out first): either way the event states the chain's deadline and lateness,
    # like every other timer's event.
    state, _ = db_crash()
    events = fast_forward(state)
    timed_out = of(events, EventKind.PAGE_TIMED_OUT)
    assert timed_out
    for event in timed_out:
        due = datetime.fromisoformat(event.data["due"])
        assert event.data["late_seconds"] == (event.at - due).total_seconds() >= 0


def test_a_timed_out_page_is_marked_so_and_names_who_is_paged_next() -> None:
    state, _ = db_crash()
    events = tick(state, T0 + 3 * M)  # the office's 3-minute ack timeout
    timed_out = [
        e for e in of(events, EventKind.PAGE_TIMED_OUT) if e.data["role"] == "emergency-office"
    ]
    assert len(timed_out) == 1
    data = timed_out[0].data
    assert data["pages"] == ["emergency-office#1"]
    assert data["next"] == OFFICE[1]
    first = next(p for p in state.pages if p.key == "emergency-office#1")
    assert dom.page_status(state, first) is PageStatus.TIMED_OUT
    second = next(p for p in state.pages if p.key == "emergency-office#2")
    assert dom.page_status(state, second) is PageStatus.WAITING


def test_a_page_to_a_role_that_already_answered_is_for_information() -> None:
    state, _ = db_crash()
    ack_all(state, T0 + M)
    tick(state, T0 + 5 * M)  # report-office is overdue: the leader is paged
    leader = [p for p in state.pages if p.role == "leadership-leader"]
    dom.decide(state, dom.AcknowledgePage(leader[0].person, leader[0].key), T0 + 6 * M)
    events = tick(state, T0 + 10 * M)  # pause-uploads is overdue: the leader again
    paged = [e for e in of(events, EventKind.PAGED) if e.data["role"] == "leadership-leader"]
    assert [e.data["needs_ack"] for e in paged] == [False]
    later = next(p for p in state.pages if p.key == paged[0].data["page"])
    assert dom.page_status(state, later) is PageStatus.INFORMATION
    assert dom.page_status(state, leader[0]) is PageStatus.ACKNOWLEDGED


def _leader_paged_for_four_steps() -> tuple[dom.IncidentState, list[dom.PageState]]:
    """Everyone answers but the leader; an hour later four overdue steps page the leader."""
    state, _ = db_crash()
    ack_all(state, T0 + M, but=("leadership-leader",))
    tick(state, T0 + HOUR)
    pages = [p for p in state.pages if p.role == "leadership-leader"]
    assert [p.step_id for p in pages] == [
        "report-office",
        "pause-uploads",
        "report-leadership",
        "contain",
    ]
    return state, pages


def test_one_acknowledgement_answers_every_waiting_page_of_the_role() -> None:
    state, pages = _leader_paged_for_four_steps()
    events = dom.decide(state, dom.AcknowledgePage(pages[1].person, pages[1].key), T0 + HOUR + M)
    assert of(events, EventKind.PAGE_ACKNOWLEDGED)[0].data["pages"] == [p.key for p in pages]
    assert [dom.page_status(state, p) for p in pages] == [PageStatus.ACKNOWLEDGED] * 4
    later = of(tick(state, T0 + 2 * HOUR), EventKind.PAGE_TIMED_OUT)
    assert [e for e in later if e.data["role"] == "leadership-leader"] == []


def test_pages_end_with_the_incident() -> None:
    state, _ = db_crash()
    dom.decide(state, dom.Cancel(OFFICE[0], "false alarm"), T0 + M)
    assert {dom.page_status(state, p) for p in state.pages} == {PageStatus.ENDED}


# --- "the 'attempt N' counter running across unrelated steps" ------------------------------


def test_the_attempt_counts_people_tried_in_one_chain_not_pages_of_the_role(
    fast_forward: FastForward,
) -> None:
    state, _ = db_crash()
    ack_all(state, T0 + M, but=("leadership-leader",))
    events = fast_forward(state)
    leader = [e for e in of(events, EventKind.PAGED) if e.data["role"] == "leadership-leader"]
    assert leader, "overdue steps page the leader"
    for e in leader:
        assert e.data["attempt"] == LEADER.index(e.data["person"]) + 1
    for page in state.pages:
        members = state.members(page.role)
        assert dom.page_attempt(state, page) == members.index(page.person) + 1


# --- "the reporter paged about her own report and escalated for not acknowledging it" -----


def test_the_reporter_is_not_paged_to_acknowledge_her_own_report(fast_forward: FastForward) -> None:
    reporter = OFFICE[0]
    state, declared = db_crash(reporter=reporter)
    assert [e for e in of(declared, EventKind.PAGED) if e.data["person"] == reporter] == []
    acked = of(declared, EventKind.PAGE_ACKNOWLEDGED)
    assert [(e.actor, e.data["role"], e.data["implied"]) for e in acked] == [
        (reporter, "emergency-office", True)
    ]
    assert state.commander == reporter
    assert state.status is dom.Status.INITIAL_HANDLING
    assert state.steps["report-office"].assignee == reporter
    events = fast_forward(state)
    office = [e for e in events if e.data.get("role") == "emergency-office"]
    assert [
        e.kind for e in office if e.kind in (EventKind.PAGE_TIMED_OUT, EventKind.ROLE_EXHAUSTED)
    ] == []
    # the office is still told, for information, of what escalates to it (the IT lead's silence)
    office_pages = [p for p in state.pages if p.role == "emergency-office"]
    assert office_pages[0].person == reporter
    assert {dom.page_status(state, p) for p in office_pages[1:]} <= {PageStatus.INFORMATION}


def test_a_reporter_outside_the_role_still_pages_it() -> None:
    state, declared = db_crash()
    paged = [e.data["role"] for e in of(declared, EventKind.PAGED)]
    assert paged[0] == "emergency-office"
    assert of(declared, EventKind.PAGE_ACKNOWLEDGED) == []
    assert state.status is dom.Status.REPORTED


# --- "pages sent in one tick to one person are one DM" -------------------------------------


def test_pages_to_one_person_in_one_tick_share_a_group() -> None:
    state, _ = db_crash()
    ack_all(state, T0 + M, but=("leadership-leader",))
    events = tick(state, T0 + HOUR)
    paged = of(events, EventKind.PAGED)
    groups: dict[str, set[str]] = {}
    for e in paged:
        groups.setdefault(e.data["group"], set()).add(e.data["person"])
        assert e.data["group"] == f"{e.data['person']}@{e.at.isoformat()}"
    assert all(len(people) == 1 for people in groups.values())
    biggest = max(groups, key=lambda g: sum(e.data["group"] == g for e in paged))
    pages = [p for p in state.pages if f"{p.person}@{p.sent_at.isoformat()}" == biggest]
    assert len(pages) > 1, "the leader is paged for several overdue steps at once"
    assert dom.page_group(state, pages[-1]) == pages
    # one acknowledgement clock for the group's role, not one per page
    ack_timers = [t for t in state.timers if t.kind is TimerKind.PAGE_ACK and t.live]
    assert len([t for t in ack_timers if t.target in {p.key for p in pages}]) == 1


def test_backup_pages_carry_every_reason_the_first_person_left_unanswered() -> None:
    state, pages = _leader_paged_for_four_steps()
    events = tick(state, T0 + HOUR + 5 * M)  # the leader's 5-minute acknowledgement timeout
    timed_out = [
        e for e in of(events, EventKind.PAGE_TIMED_OUT) if e.data["role"] == "leadership-leader"
    ]
    assert [e.data["pages"] for e in timed_out] == [[p.key for p in pages]]
    assert timed_out[0].data["next"] == LEADER[1]
    backup = [e for e in of(events, EventKind.PAGED) if e.data["reason"] == PageReason.BACKUP]
    backup = [e for e in backup if e.data["role"] == "leadership-leader"]
    assert {e.data["person"] for e in backup} == {LEADER[1]}
    assert [e.data["step"] for e in backup] == [p.step_id for p in pages]
    assert {e.data["attempt"] for e in backup} == {2}
    assert len({e.data["group"] for e in backup}) == 1


def _report() -> dom.ReportFields:
    from tests.domain.escalation_helpers import REPORT

    return REPORT


def test_unknown_page_is_refused() -> None:
    state, _ = db_crash()
    with pytest.raises(DomainError) as err:
        dom.decide(state, dom.AcknowledgePage(OFFICE[0], "nobody#9"), T0)
    assert err.value.code is ErrorCode.UNKNOWN


def test_the_scorecard_counts_people_tried_not_pages() -> None:
    from epbot.domain.reports import scorecard

    state, pages = _leader_paged_for_four_steps()
    tick(state, T0 + HOUR + 5 * M)  # to the deputy, with all four steps
    deputy = next(p for p in state.pages if p.role == "leadership-leader" and p.person == LEADER[1])
    dom.decide(state, dom.AcknowledgePage(LEADER[1], deputy.key), T0 + HOUR + 6 * M)
    card = scorecard(state, T0 + 2 * HOUR)
    leader = next(a for a in card.acks if a.role == "leadership-leader")
    assert len([p for p in state.pages if p.role == "leadership-leader"]) == 8
    assert (leader.attempts, leader.acked_by) == (2, LEADER[1])
