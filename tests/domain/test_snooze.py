"""Snooze and "I'm on it" (issue 14): reminders go quiet, the plan's deadline does not.

On the shipped db-crash playbook: ``report-leadership`` is due 15 minutes after declaring,
with reminders 10, 5 and 1 minute before (minutes 5, 10, 14), nudges every 2 minutes once
overdue, and the leadership leader paged at its deadline.
"""

from __future__ import annotations

from datetime import datetime

import pytest

from epbot.adapters.slack.refusals import explain
from epbot.domain import incident as dom
from epbot.domain.errors import DomainError, ErrorCode
from epbot.domain.incident import EventKind, PageReason, SnoozeStep, TimerKind
from tests.domain.escalation_helpers import OFFICE, T0, M, ack_all, db_crash, minute_by_minute, of

STEP = "report-leadership"
DUE = T0 + 15 * M


def _acked() -> dom.IncidentState:
    state, _ = db_crash()
    ack_all(state, T0 + M)
    assert state.steps[STEP].assignee == OFFICE[0]
    return state


def _reminders(events: list[dom.Event]) -> list[datetime]:
    return [e.at for e in of(events, EventKind.STEP_REMINDER) if e.data["step"] == STEP]


def _escalated_at_deadline(events: list[dom.Event]) -> None:
    overdue = [e for e in of(events, EventKind.STEP_OVERDUE) if e.data["step"] == STEP]
    assert [e.at for e in overdue] == [DUE]
    pages = [e for e in of(events, EventKind.PAGED) if e.data["step"] == STEP and e.at == DUE]
    assert [(e.at, e.data["role"], e.data["reason"]) for e in pages] == [
        (DUE, "leadership-leader", PageReason.OVERDUE.value)
    ]


def test_without_a_snooze_every_reminder_comes() -> None:
    state = _acked()
    events = minute_by_minute(state, T0 + M, 15)
    assert _reminders(events) == [T0 + 5 * M, T0 + 10 * M, T0 + 14 * M]
    _escalated_at_deadline(events)


def test_a_snoozed_step_is_quiet_until_the_snooze_ends_and_escalated_at_its_deadline() -> None:
    state = _acked()
    events = dom.decide(state, SnoozeStep(OFFICE[0], STEP, 10), T0 + 2 * M)
    snoozed = of(events, EventKind.STEP_SNOOZED)[0]
    assert snoozed.actor == OFFICE[0]
    assert snoozed.data == {
        "step": STEP,
        "assignee": OFFICE[0],
        "minutes": 10,
        "until": (T0 + 12 * M).isoformat(),
        "clamped": False,
        "deadline": DUE.isoformat(),
        "escalate_to": "leadership-leader",
        "quieted": 2,  # the reminders at 5 and 10
        "resumes": True,
    }
    later = minute_by_minute(state, T0 + 2 * M, 20)
    # quiet until 12, reminded when the snooze ends, then on the plan's grid
    assert _reminders(later) == [T0 + 12 * M, T0 + 14 * M]
    _escalated_at_deadline(later)
    nudges = [e.at for e in of(later, EventKind.STEP_NUDGE) if e.data["step"] == STEP]
    assert nudges == [T0 + 17 * M, T0 + 19 * M, T0 + 21 * M]


@pytest.mark.parametrize("minutes", [30, 60])
def test_a_snooze_never_goes_past_the_deadline(minutes: int) -> None:
    state = _acked()
    events = dom.decide(state, SnoozeStep(OFFICE[0], STEP, minutes), T0 + 2 * M)
    data = of(events, EventKind.STEP_SNOOZED)[0].data
    assert (data["until"], data["clamped"], data["resumes"]) == (DUE.isoformat(), True, False)
    later = minute_by_minute(state, T0 + 2 * M, 16)
    assert _reminders(later) == []
    _escalated_at_deadline(later)


def test_a_snooze_that_ends_between_reminders_adds_none() -> None:
    state = _acked()
    minute_by_minute(state, T0 + M, 10)
    events = dom.decide(state, SnoozeStep(OFFICE[0], STEP, 10), T0 + 11 * M)  # until 15: clamped
    assert of(events, EventKind.STEP_SNOOZED)[0].data["quieted"] == 1  # the one at 14
    assert _reminders(minute_by_minute(state, T0 + 11 * M, 5)) == []


def test_the_commander_may_snooze_a_step_of_someone_else() -> None:
    state = _acked()
    state.steps[STEP].assignee = OFFICE[1]
    assert state.commander == OFFICE[0]
    events = dom.decide(state, SnoozeStep(OFFICE[0], STEP, 10), T0 + 2 * M)
    assert of(events, EventKind.STEP_SNOOZED)[0].data["assignee"] == OFFICE[1]


@pytest.mark.parametrize(
    ("actor", "step", "minutes", "at", "code"),
    [
        ("U01LDR0001", STEP, 10, T0 + 2 * M, ErrorCode.NOT_STEP_ASSIGNEE),
        # the role's backup (the office's backup is a commander: the security officer's is not)
        ("U01SEC0004", "report-security-officer", 10, T0 + 2 * M, ErrorCode.NOT_STEP_ASSIGNEE),
        (OFFICE[0], STEP, 20, T0 + 2 * M, ErrorCode.SNOOZE_MINUTES),
        (OFFICE[0], STEP, 0, T0 + 2 * M, ErrorCode.SNOOZE_MINUTES),
        (OFFICE[0], STEP, 10, DUE, ErrorCode.SNOOZE_PAST_DEADLINE),
        (OFFICE[0], "start-plan", 10, T0 + 2 * M, ErrorCode.STEP_INACTIVE),
    ],
)
def test_a_snooze_is_refused(
    actor: str, step: str, minutes: int, at: datetime, code: ErrorCode
) -> None:
    state = _acked()
    before = [(t.kind, t.target, t.due_at, t.live) for t in state.timers]
    with pytest.raises(DomainError) as err:
        dom.decide(state, SnoozeStep(actor, step, minutes), at)
    assert err.value.code is code
    assert explain(err.value, "zh-CN")
    assert explain(err.value, "en")
    assert [(t.kind, t.target, t.due_at, t.live) for t in state.timers] == before


def test_a_step_without_a_deadline_has_nothing_to_snooze() -> None:
    state, _ = db_crash(playbook_id="system-fault")
    ack_all(state, T0 + M)
    step = state.steps["report-project-manager"]  # no deadline in the playbook
    assert step.due_at is None
    with pytest.raises(DomainError) as err:
        dom.decide(state, SnoozeStep(state.commander or "", step.step_id, 10), T0 + 2 * M)
    assert err.value.code is ErrorCode.NO_DEADLINE


def test_a_finished_step_cannot_be_snoozed() -> None:
    state = _acked()
    dom.decide(state, dom.SendReport(OFFICE[0], STEP, 1, _report()), T0 + 2 * M)
    with pytest.raises(DomainError) as err:
        dom.decide(state, SnoozeStep(OFFICE[0], STEP, 10), T0 + 3 * M)
    assert err.value.code is ErrorCode.STEP_FINISHED


# --- "I'm on it" ---------------------------------------------------------------------------


def test_on_it_quiets_the_reminders_but_not_the_deadline() -> None:
    state = _acked()
    minute_by_minute(state, T0 + M, 4)  # the first reminder, at 5
    events = dom.decide(state, dom.OnIt(OFFICE[0], STEP), T0 + 5 * M)
    assert of(events, EventKind.STEP_ON_IT)[0].data == {
        "step": STEP,
        "from": None,
        "deadline": DUE.isoformat(),
        "overdue": False,
        "escalate_to": "leadership-leader",
        "quieted": 2,  # 10 and 14 (the one at 5 already fired)
    }
    later = minute_by_minute(state, T0 + 5 * M, 16)
    assert _reminders(later) == []
    _escalated_at_deadline(later)


def test_on_it_from_the_roles_backup_takes_the_step() -> None:
    state = _acked()
    events = dom.decide(state, dom.OnIt(OFFICE[1], STEP), T0 + 5 * M)
    assert of(events, EventKind.STEP_ON_IT)[0].data["from"] == OFFICE[0]
    assert state.steps[STEP].assignee == OFFICE[1]


def test_on_it_past_the_deadline_is_recorded_and_the_nudges_go_on() -> None:
    state = _acked()
    minute_by_minute(state, T0 + M, 15)
    events = dom.decide(state, dom.OnIt(OFFICE[0], STEP), T0 + 16 * M)
    data = of(events, EventKind.STEP_ON_IT)[0].data
    assert (data["overdue"], data["quieted"]) == (True, 0)
    nudges = [
        t for t in state.timers if t.live and t.kind is TimerKind.STEP_NUDGE and t.target == STEP
    ]
    assert [t.due_at for t in nudges] == [T0 + 17 * M]


def test_on_it_from_someone_else_is_refused() -> None:
    state = _acked()
    with pytest.raises(DomainError) as err:
        dom.decide(state, dom.OnIt("U01LDR0001", STEP), T0 + 5 * M)
    assert err.value.code is ErrorCode.NOT_STEP_ASSIGNEE
    assert OFFICE[0] in (explain(err.value, "en") or "")


def _report() -> dom.ReportFields:
    from tests.domain.escalation_helpers import REPORT

    return REPORT
