"""The incident state machine: synchronous, table-driven, on a small hand-made plan."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from itertools import product
from typing import get_args

import pytest

from epbot.domain import incident as dom
from epbot.domain.errors import MESSAGES, DomainError, ErrorCode
from epbot.domain.incident import (
    TRANSITIONS,
    AcknowledgePage,
    ApprovalStatus,
    Cancel,
    CheckIn,
    Close,
    CompleteStep,
    DecideApproval,
    FireTimer,
    PageReason,
    PostUpdate,
    ReassignStep,
    RequestEscalation,
    Resolve,
    SkipStep,
    Status,
    StepStatus,
    TimerKind,
    Transition,
    dispatch,
)
from epbot.domain.incident.flow import transition
from epbot.domain.matrix import Matrix
from epbot.domain.playbook import Playbook, Severity, StageId, StepKind

T0 = datetime(2026, 11, 24, 1, 0, tzinfo=UTC)
M = timedelta(minutes=1)


def _t(en: str) -> dict[str, str]:
    return {"zh-CN": f"「{en}」", "en": en}


MATRIX = Matrix.model_validate(
    {
        "leadership_group": "group",
        "leadership_leader": "leader",
        "emergency_office": "office",
        "units": [
            {"id": "hq", "name": _t("HQ"), "channel": "#hq"},
            {"id": "sub", "name": _t("Sub"), "channel": "#sub", "subordinate": True},
        ],
        "roles": [
            {
                "id": "group",
                "name": _t("Group"),
                "unit": "hq",
                "people": ["L1", "L2", "L3"],
                "may_approve": ["escalation", "decision", "gated_step"],
            },
            {"id": "leader", "name": _t("Leader"), "unit": "hq", "people": ["L1", "L2"]},
            {
                "id": "office",
                "name": _t("Office"),
                "unit": "hq",
                "people": ["O1", "O2"],
                "ack_timeout": "3m",
                "escalate_to": "leader",
            },
            {
                "id": "worker",
                "name": _t("Worker"),
                "unit": "hq",
                "people": ["W1", "W2"],
                "ack_timeout": "5m",
                "escalate_to": "office",
            },
            {
                "id": "sec",
                "name": _t("Security"),
                "unit": "hq",
                "people": ["S1"],
                "may_approve": ["gated_step"],
                "escalate_to": "leader",
            },
            {"id": "expert", "name": _t("Expert"), "unit": "hq", "people": ["E1"]},
        ],
    }
)


def _step(id_: str, role: str, **more: object) -> dict[str, object]:
    return {"id": id_, "title": _t(id_), "role": role, **more}


PLAYBOOK = Playbook.model_validate(
    {
        "id": "demo",
        "title": _t("Demo"),
        "fault_class": "system",
        "default_severity": "III",
        "commander_role": "office",
        "stages": [
            {
                "id": "report",
                "steps": [
                    _step(
                        "report",
                        "office",
                        kind="report",
                        due={"after": "5m", "from": "declared"},
                        reminders={"before": ["2m"], "repeat": "2m"},
                        escalate_to="leader",
                    ),
                    _step(
                        "report-major",
                        "office",
                        kind="report",
                        due={"after": "15m", "from": "declared"},
                        when={"severities": ["I", "II"]},
                    ),
                ],
            },
            {
                "id": "initial_handling",
                "steps": [
                    _step("fix", "worker", due={"after": "10m"}, escalate_to="office"),
                    _step(
                        "verify",
                        "worker",
                        depends_on=["fix"],
                        due={"after": "30m", "from": "step", "step": "fix"},
                    ),
                    _step("stop", "worker", requires_approval="sec"),
                    _step("on-site", "worker", kind="checkin"),
                    _step(
                        "notify",
                        "office",
                        kind="broadcast",
                        broadcast_to="subordinate_units",
                        message=_t("check your machines"),
                    ),
                    _step(
                        "approve",
                        "group",
                        kind="approval",
                        enters_stage="emergency_response",
                        when={"severities": ["I", "II"]},
                        depends_on=["report-major"],
                        due={"after": "30m", "from": "declared"},
                    ),
                ],
            },
            {
                "id": "emergency_response",
                "steps": [
                    _step("respond", "office"),
                    _step("call-expert", "expert"),
                ],
            },
            {"id": "command_coordination", "steps": [_step("coordinate", "group")]},
        ],
    }
)


_REPORT = dom.ReportFields(
    occurred_at=T0,
    place="room",
    nature="fault",
    scope="all",
    trend="worse",
    measures="none",
    unit_id="hq",
    contact_phone="1",
    title="demo",
)


def declare(severity: Severity = Severity.III) -> tuple[dom.IncidentState, list[dom.Event]]:
    report = dom.ReportFields(
        occurred_at=T0,
        place="room",
        nature="fault",
        scope="all",
        trend="worse",
        measures="none",
        unit_id="hq",
        contact_phone="1",
        title="demo",
    )
    return dom.declare(
        playbook=PLAYBOOK,
        matrix=MATRIX,
        severity=severity,
        report=report,
        reporter="R1",
        drill=False,
        now=T0,
    )


def acked(severity: Severity = Severity.III) -> dom.IncidentState:
    state, _ = declare(severity)
    for page in list(state.pages):
        dom.decide(state, AcknowledgePage(page.person, page.key), T0 + M)
    return state


def run_timers(state: dom.IncidentState, until: datetime) -> list[dom.Event]:
    """Fire every live timer due by ``until``, in due order, as the service would."""
    events: list[dom.Event] = []
    while True:
        due = sorted(
            (t for t in state.timers if t.live and t.due_at <= until), key=lambda t: t.due_at
        )
        if not due:
            return events
        t = due[0]
        events += dom.decide(state, FireTimer(None, t.kind, t.target, t.due_at), t.due_at)


def kinds(events: list[dom.Event]) -> list[str]:
    return [e.kind for e in events]


# --- the transition table -----------------------------------------------------------------

EXPECTED = {
    (Status.REPORTED, Transition.TAKE_CHARGE): Status.INITIAL_HANDLING,
    (Status.REPORTED, Transition.ESCALATION_APPROVED): Status.EMERGENCY_RESPONSE,
    (Status.INITIAL_HANDLING, Transition.ESCALATION_APPROVED): Status.EMERGENCY_RESPONSE,
    (Status.EMERGENCY_RESPONSE, Transition.RESPONSE_STEPS_DONE): Status.COMMAND,
    (Status.REPORTED, Transition.RESOLVE): Status.RESOLVED,
    (Status.INITIAL_HANDLING, Transition.RESOLVE): Status.RESOLVED,
    (Status.EMERGENCY_RESPONSE, Transition.RESOLVE): Status.RESOLVED,
    (Status.COMMAND, Transition.RESOLVE): Status.RESOLVED,
    (Status.RESOLVED, Transition.CLOSE): Status.CLOSED,
    (Status.REPORTED, Transition.CANCEL): Status.CANCELLED,
    (Status.INITIAL_HANDLING, Transition.CANCEL): Status.CANCELLED,
    (Status.EMERGENCY_RESPONSE, Transition.CANCEL): Status.CANCELLED,
    (Status.COMMAND, Transition.CANCEL): Status.CANCELLED,
}


def test_transition_table_is_exactly_the_plan() -> None:
    assert TRANSITIONS == EXPECTED


def test_every_command_and_every_timer_kind_has_its_handler() -> None:
    """A command or timer kind added without a handler fails here, not in production."""
    assert set(dispatch._HANDLERS) == set(get_args(dom.Command))
    assert set(dispatch._ON_TIMER) == set(TimerKind)


@pytest.mark.parametrize(("status", "how"), list(product(Status, Transition)))
def test_every_status_and_transition(status: Status, how: Transition) -> None:
    state, _ = declare()
    state.status = status
    target = EXPECTED.get((status, how))
    if target is None:
        with pytest.raises(DomainError) as err:
            transition(state, how, "O1", T0)
        assert err.value.code is ErrorCode.ILLEGAL_TRANSITION
        assert state.status is status
    else:
        events = transition(state, how, "O1", T0)
        assert state.status is target
        assert events[0].data == {"from": status.value, "to": target.value}


@pytest.mark.parametrize("status", [Status.RESOLVED, Status.CLOSED, Status.CANCELLED])
@pytest.mark.parametrize(
    "command",
    [
        AcknowledgePage("O1", "office#1"),
        CompleteStep("O1", "fix"),
        SkipStep("O1", "fix", "n/a"),
        ReassignStep("O1", "fix", "W2"),
        CheckIn("W1", "on-site"),
        PostUpdate("O1", "hello"),
        RequestEscalation("O1", "worse"),
        DecideApproval("S1", "stop", True),
        Resolve("O1"),
        Cancel("O1", "why"),
    ],
    ids=lambda c: type(c).__name__,
)
def test_an_ended_incident_refuses_commands(status: Status, command: dom.Command) -> None:
    state, _ = declare()
    state.status = status
    with pytest.raises(DomainError) as err:
        dom.decide(state, command, T0)
    assert err.value.code is ErrorCode.INCIDENT_ENDED


@pytest.mark.parametrize(
    ("status", "error"),
    [
        (Status.RESOLVED, None),
        (Status.CLOSED, ErrorCode.ILLEGAL_TRANSITION),
        (Status.INITIAL_HANDLING, ErrorCode.ILLEGAL_TRANSITION),
    ],
)
def test_close_only_after_resolve(status: Status, error: ErrorCode | None) -> None:
    state, _ = declare()
    state.status = status
    if error is None:
        dom.decide(state, Close("O1"), T0)
        assert state.status is Status.CLOSED
        assert state.closed_at == T0
    else:
        with pytest.raises(DomainError) as err:
            dom.decide(state, Close("O1"), T0)
        assert err.value.code is error


# --- declaring and paging -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("severity", "report_major", "approve"),
    [
        (Severity.I, StepStatus.OPEN, StepStatus.PENDING),
        (Severity.II, StepStatus.OPEN, StepStatus.PENDING),
        (Severity.III, StepStatus.NOT_APPLICABLE, StepStatus.NOT_APPLICABLE),
        (Severity.IV, StepStatus.NOT_APPLICABLE, StepStatus.NOT_APPLICABLE),
    ],
)
def test_declare_opens_early_stages_by_severity(
    severity: Severity, report_major: StepStatus, approve: StepStatus
) -> None:
    state, events = declare(severity)
    assert state.status is Status.REPORTED
    assert set(state.stages) == {StageId.REPORT, StageId.INITIAL_HANDLING}
    assert state.steps["report-major"].status is report_major
    assert state.steps["approve"].status is approve
    assert state.steps["fix"].status is StepStatus.OPEN
    assert state.steps["verify"].status is StepStatus.PENDING
    assert state.steps["stop"].status is StepStatus.AWAITING_APPROVAL
    assert state.steps["respond"].status is StepStatus.INACTIVE
    assert events[0].kind == "declared"
    assert events[0].data["major"] is severity.is_major
    paged = [(p.role, p.person, p.reason) for p in state.pages]
    assert paged[0] == ("office", "O1", PageReason.DECLARED)
    roles = {"office", "worker"} | ({"group"} if severity.is_major else set())
    assert {p.role for p in state.pages} == roles
    assert len(paged) == len(roles)  # each role once


def test_commander_ack_takes_charge() -> None:
    state, _ = declare()
    events = dom.decide(state, AcknowledgePage("O2", "office#1"), T0 + M)
    assert kinds(events) == ["page_acknowledged", "status_changed"]
    assert state.commander == "O2"
    assert state.status is Status.INITIAL_HANDLING
    assert state.steps["report"].assignee == "O2"
    assert not [t for t in state.timers if t.live and t.target == "office#1"]


def test_work_starting_takes_charge_too() -> None:
    state, _ = declare()
    events = dom.decide(state, CompleteStep("W1", "fix"), T0 + M)
    assert "status_changed" in kinds(events)
    assert state.status is Status.INITIAL_HANDLING
    assert state.steps["verify"].status is StepStatus.OPEN
    assert state.steps["verify"].due_at == T0 + 31 * M


@pytest.mark.parametrize(
    ("actor", "page", "error"),
    [
        ("O1", "office#1", None),
        ("O2", "office#1", None),  # another member of the role
        ("W1", "office#1", ErrorCode.NOT_PAGED),
        ("O1", "office#9", ErrorCode.UNKNOWN),
    ],
)
def test_who_may_acknowledge(actor: str, page: str, error: ErrorCode | None) -> None:
    state, _ = declare()
    if error is None:
        dom.decide(state, AcknowledgePage(actor, page), T0)
        with pytest.raises(DomainError) as err:
            dom.decide(state, AcknowledgePage(actor, page), T0)
        assert err.value.code is ErrorCode.ALREADY_ACKED
        assert actor in err.value.message("zh-CN")
    else:
        with pytest.raises(DomainError) as err:
            dom.decide(state, AcknowledgePage(actor, page), T0)
        assert err.value.code is error


def test_ack_timeout_pages_backup_then_escalation_target() -> None:
    state, _ = declare()
    # the report is filed without answering the page, so no overdue step pages the leader
    dom.decide(state, CompleteStep("O1", "report"), T0 + M)
    events = run_timers(state, T0 + 3 * M)
    assert [
        (e.kind, e.data.get("person"), e.data.get("reason"))
        for e in events
        if e.data.get("role") == "office" and e.kind.startswith("page")
    ] == [
        ("page_timed_out", "O1", None),
        ("paged", "O2", "backup"),
    ]
    events = run_timers(state, T0 + 6 * M)
    exhausted = [e.data for e in events if e.kind == "role_exhausted"]
    assert {"role": "office", "escalate_to": "leader", "already_paged": False} in exhausted
    leader = [p for p in state.pages if p.role == "leader"]
    assert [(p.person, p.reason) for p in leader][:1] == [("L1", PageReason.ROLE_ESCALATION)]
    # the worker's list (W1, W2, 5m each) runs out at 10m and escalates to the office
    events = run_timers(state, T0 + 10 * M)
    assert ("worker", "office") in [
        (e.data["role"], e.data["escalate_to"]) for e in events if e.kind == "role_exhausted"
    ]
    assert any(
        p.role == "office" and p.acked_at is None and p.timed_out_at is None for p in state.pages
    )


def test_acked_role_is_not_paged_by_its_stale_timers() -> None:
    state, _ = declare()
    run_timers(state, T0 + 3 * M)  # O2 is paged as backup
    dom.decide(state, AcknowledgePage("O1", "office#1"), T0 + 4 * M)  # late, but counts
    events = run_timers(state, T0 + 20 * M)
    assert not [e for e in events if e.kind == "page_timed_out" and e.data["role"] == "office"]


# --- deadlines ----------------------------------------------------------------------------


def test_reminder_overdue_escalation_and_nudges() -> None:
    state = acked()
    minutes = []
    for m in range(1, 12):
        for e in run_timers(state, T0 + m * M):
            if e.data.get("step") == "report":
                tag = e.kind if e.kind != "paged" else f"paged:{e.data['role']}:{e.data['reason']}"
                minutes.append((m, tag))
    assert minutes == [
        (3, "step_reminder"),
        (5, "step_overdue"),
        (5, "paged:leader:overdue"),
        (7, "step_nudge"),
        (9, "step_nudge"),
        (10, "paged:leader:backup"),  # L1 did not answer the overdue page
        (11, "step_nudge"),
    ]
    dom.decide(state, CompleteStep("O1", "report"), T0 + 12 * M)
    assert state.steps["report"].status is StepStatus.DONE
    assert not [e for e in run_timers(state, T0 + 60 * M) if e.data.get("step") == "report"]


def test_a_late_tick_sends_one_overdue_and_no_burst() -> None:
    state = acked()
    events = [e for e in run_timers(state, T0 + 30 * M) if e.data.get("step") == "report"]
    # run_timers fires each timer at its own due time; firing all at once at +30m:
    state = acked()
    late = []
    for t in sorted(
        (t for t in state.timers if t.live and t.target == "report"), key=lambda t: t.due_at
    ):
        late += dom.decide(state, FireTimer(None, t.kind, t.target, t.due_at), T0 + 30 * M)
    assert kinds(late) == ["step_overdue", "paged"]  # the stale reminder is dropped
    nudges = [t.due_at for t in state.timers if t.live and t.target == "report"]
    assert nudges == [T0 + 31 * M]
    assert kinds(events).count("step_overdue") == 1


# --- steps --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("command", "error"),
    [
        (CompleteStep("W2", "fix"), None),  # a member of the role
        (CompleteStep("O1", "fix"), None),  # the commander
        (CompleteStep("S1", "fix"), ErrorCode.NOT_RESPONSIBLE),
        (CompleteStep("W1", "verify"), ErrorCode.STEP_BLOCKED),
        (CompleteStep("W1", "stop"), ErrorCode.AWAITING_APPROVAL),
        (CompleteStep("W1", "respond"), ErrorCode.NOT_RESPONSIBLE),
        (CompleteStep("O1", "respond"), ErrorCode.STEP_INACTIVE),
        (CompleteStep("O1", "nope"), ErrorCode.UNKNOWN),
        (CompleteStep("L1", "approve"), ErrorCode.STEP_FINISHED),  # not applicable (III)
        (CheckIn("W1", "fix"), ErrorCode.NOT_A_CHECKIN),
        (CheckIn("W2", "on-site"), None),
        (SkipStep("W1", "fix", "n/a"), ErrorCode.NOT_COMMANDER),
        (SkipStep("O1", "fix", " "), ErrorCode.REASON_REQUIRED),
        (SkipStep("O1", "fix", "n/a"), None),
        (ReassignStep("S1", "fix", "S1"), ErrorCode.NOT_RESPONSIBLE),
        (ReassignStep("W1", "fix", "W2"), None),
        (PostUpdate("O1", "  "), ErrorCode.REASON_REQUIRED),
        (RequestEscalation("W1", "worse"), ErrorCode.NOT_COMMANDER),
        (Resolve("W1"), ErrorCode.NOT_COMMANDER),
        (Resolve("O1"), ErrorCode.OPEN_STEPS),
        (Cancel("W1", "why"), ErrorCode.NOT_COMMANDER),
        (Cancel("R1", ""), ErrorCode.REASON_REQUIRED),
        (Cancel("R1", "false alarm"), None),  # the reporter may cancel
        (DecideApproval("W1", "stop", True), ErrorCode.NOT_APPROVER),
        (DecideApproval("O1", "stop", True), ErrorCode.NOT_APPROVER),
        (DecideApproval("S1", "stop", False), ErrorCode.REASON_REQUIRED),
        (DecideApproval("S1", "nope", True), ErrorCode.UNKNOWN),
        (DecideApproval("S1", "stop", True), None),
    ],
    ids=lambda v: type(v).__name__ if not isinstance(v, ErrorCode | None) else str(v),
)
def test_who_may_do_what(command: dom.Command, error: ErrorCode | None) -> None:
    state = acked()
    if error is None:
        assert dom.decide(state, command, T0 + 2 * M)
    else:
        with pytest.raises(DomainError) as err:
            dom.decide(state, command, T0 + 2 * M)
        assert err.value.code is error
        for locale in ("zh-CN", "en"):
            assert err.value.message(locale)


def test_broadcast_reaches_subordinate_units() -> None:
    state = acked()
    events = dom.decide(state, CompleteStep("O1", "notify"), T0 + 2 * M)
    broadcast = next(e for e in events if e.kind == "broadcast")
    assert broadcast.data["channels"] == ["#sub"]
    assert broadcast.data["message_zh"] == "「check your machines」"


# --- approvals ----------------------------------------------------------------------------


def test_first_decision_wins_and_the_second_is_told_who() -> None:
    state = acked()
    dom.decide(state, DecideApproval("S1", "stop", True), T0 + 2 * M)
    state.approvals["stop"].approver_role = "group"  # let a second member try
    with pytest.raises(DomainError) as err:
        dom.decide(state, DecideApproval("L2", "stop", False, "no"), T0 + 3 * M)
    assert err.value.code is ErrorCode.ALREADY_DECIDED
    assert "S1" in err.value.message("en")
    assert err.value.params["decision"] == "approved"


def test_expired_approval_pages_the_leader_who_may_then_decide() -> None:
    state = acked()
    with pytest.raises(DomainError):
        dom.decide(state, DecideApproval("L1", "stop", True), T0 + 2 * M)
    events = run_timers(state, T0 + 16 * M)  # default approval timeout: 15m
    expired = next(e for e in events if e.kind == "approval_expired")
    assert expired.data["approval"] == "stop"
    assert expired.data["escalate_to"] == "leader"
    assert [(p.role, p.reason) for p in state.pages if p.reason is PageReason.APPROVAL_EXPIRED] == [
        ("leader", PageReason.APPROVAL_EXPIRED)
    ]
    dom.decide(state, DecideApproval("L1", "stop", True), T0 + 17 * M)
    assert state.approvals["stop"].status is ApprovalStatus.APPROVED
    assert state.steps["stop"].status is StepStatus.OPEN


def test_a_refused_gate_stays_shut() -> None:
    """Issue 15: a refusal is not "done" (it used to finish the step and open what followed)."""
    state = acked()
    events = dom.decide(state, DecideApproval("S1", "stop", False, "too risky"), T0 + 2 * M)
    assert state.steps["stop"].status is StepStatus.REJECTED
    assert not state.steps["stop"].finished
    assert "step_rejected" in kinds(events)
    for command in (CompleteStep("W1", "stop"), CompleteStep("O1", "stop")):
        with pytest.raises(DomainError) as err:
            dom.decide(state, command, T0 + 3 * M)
        assert err.value.code is ErrorCode.STEP_REFUSED


def _attack(severity: Severity = Severity.III) -> dom.IncidentState:
    from pathlib import Path

    from epbot.adapters.playbook_files import PlaybookLibrary

    current = PlaybookLibrary(Path("playbooks")).load()
    attack = current.get("attack")
    assert attack is not None
    state, _ = dom.declare(
        playbook=attack,
        matrix=current.matrix,
        severity=severity,
        report=_REPORT,
        reporter="R1",
        drill=False,
        now=T0,
    )
    for page in list(state.pages):
        dom.decide(state, AcknowledgePage(page.person, page.key), T0 + M)
    return state


def test_a_refused_stop_keeps_the_forensics_after_it_closed() -> None:
    state = _attack()
    officer = state.members("security-officer")[0]
    commander = state.members(state.playbook.commander_role)[0]
    events = dom.decide(
        state, DecideApproval(officer, "stop-system", False, "service must stay up"), T0 + 2 * M
    )
    held = next(e for e in events if e.kind == "step_rejected").data["held"]
    assert "trace-source" in held
    assert state.steps["trace-source"].status is StepStatus.PENDING
    assert "step_opened" not in kinds(events)
    # only the commander may ask again, and only with a reason
    with pytest.raises(DomainError) as err:
        dom.decide(state, dom.AskAgain(officer, "stop-system", "please"), T0 + 3 * M)
    assert err.value.code is ErrorCode.NOT_COMMANDER
    with pytest.raises(DomainError) as err:
        dom.decide(state, dom.AskAgain(commander, "stop-system", " "), T0 + 3 * M)
    assert err.value.code is ErrorCode.REASON_REQUIRED
    events = dom.decide(
        state, dom.AskAgain(commander, "stop-system", "data is being destroyed"), T0 + 3 * M
    )
    assert kinds(events) == ["approval_asked_again", "approval_requested"]
    assert state.steps["stop-system"].status is StepStatus.AWAITING_APPROVAL
    assert state.approvals["stop-system"].status is ApprovalStatus.REJECTED  # on the record
    again = state.approval_for("stop-system")
    assert again is not None
    assert again.key == "stop-system#2"
    assert again.due_at == T0 + 3 * M + dom.DEFAULT_APPROVAL_TIMEOUT
    with pytest.raises(DomainError) as err:
        dom.decide(state, dom.AskAgain(commander, "stop-system", "again"), T0 + 3 * M)
    assert err.value.code is ErrorCode.NOT_REFUSED
    dom.decide(state, DecideApproval(officer, "stop-system#2", True), T0 + 4 * M)
    assert state.steps["stop-system"].status is StepStatus.OPEN
    dom.decide(state, CompleteStep(commander, "stop-system"), T0 + 5 * M)
    assert state.steps["trace-source"].status is StepStatus.OPEN


def test_another_path_skipping_a_refused_step_is_the_commanders_choice() -> None:
    state = _attack()
    officer = state.members("security-officer")[0]
    commander = state.members(state.playbook.commander_role)[0]
    dom.decide(state, DecideApproval(officer, "stop-system", False, "no"), T0 + 2 * M)
    events = dom.decide(
        state, SkipStep(commander, "stop-system", "isolate the host instead"), T0 + 3 * M
    )
    assert state.steps["stop-system"].status is StepStatus.SKIPPED
    assert "step_opened" in kinds(events)


def _finish_initial(state: dom.IncidentState, at: datetime) -> None:
    for step_id in ("report", "fix", "verify", "notify"):
        dom.decide(state, CompleteStep("O1", step_id), at)
    dom.decide(state, CheckIn("W1", "on-site"), at)
    dom.decide(state, DecideApproval("S1", "stop", True), at)
    dom.decide(state, CompleteStep("W1", "stop"), at)


def test_major_incident_goes_through_every_stage() -> None:
    state = acked(Severity.II)
    at = T0 + 5 * M
    _finish_initial(state, at)
    assert state.steps["approve"].status is StepStatus.PENDING
    events = dom.decide(state, CompleteStep("O1", "report-major"), at)
    assert "approval_requested" in kinds(events)
    assert state.approvals["approve"].approver_role == "group"
    with pytest.raises(DomainError) as err:
        dom.decide(state, CompleteStep("O1", "approve"), at)
    assert err.value.code is ErrorCode.AWAITING_APPROVAL
    events = dom.decide(state, DecideApproval("L3", "approve", True), at)
    assert state.status is Status.EMERGENCY_RESPONSE
    assert StageId.EMERGENCY_RESPONSE in state.stages
    # a role first needed in this stage is paged now
    assert [p.reason for p in state.pages if p.role == "expert"] == [PageReason.STAGE]
    dom.decide(state, CompleteStep("O1", "respond"), at)
    assert state.status is Status.EMERGENCY_RESPONSE
    events = dom.decide(state, CompleteStep("E1", "call-expert"), at)
    assert state.status is Status.COMMAND
    assert kinds(events).count("status_changed") == 1
    dom.decide(state, CompleteStep("L1", "coordinate"), at)
    dom.decide(state, Resolve("O1", "done"), at)
    assert state.status is Status.RESOLVED
    assert not [t for t in state.timers if t.live]
    dom.decide(state, Close("O1"), at)
    assert state.status is Status.CLOSED
    assert all(s.finished for s in state.steps.values())


def test_minor_incident_escalates_on_the_commanders_request() -> None:
    state = acked(Severity.III)
    at = T0 + 5 * M
    dom.decide(state, RequestEscalation("O1", "spreading"), at)
    assert state.approvals["approve"].status is ApprovalStatus.PENDING
    with pytest.raises(DomainError) as err:
        dom.decide(state, RequestEscalation("O1", "again"), at)
    assert err.value.code is ErrorCode.ALREADY_ESCALATED
    dom.decide(state, DecideApproval("L1", "approve", True), at)
    assert state.status is Status.EMERGENCY_RESPONSE


def test_resolve_without_escalation_marks_the_gate_not_applicable() -> None:
    state = acked(Severity.II)
    at = T0 + 5 * M
    _finish_initial(state, at)
    dom.decide(state, CompleteStep("O1", "report-major"), at)  # the gate is now awaiting
    dom.decide(state, Resolve("O1"), at)
    assert state.status is Status.RESOLVED
    assert state.steps["approve"].status is StepStatus.NOT_APPLICABLE
    assert state.approvals["approve"].status is ApprovalStatus.WITHDRAWN


# --- error messages -----------------------------------------------------------------------

PARAMS = {
    ErrorCode.NOT_COMMANDER: {"action": "x"},
    ErrorCode.NOT_RESPONSIBLE: {"role": "x"},
    ErrorCode.NOT_APPROVER: {"role": "x"},
    ErrorCode.ALREADY_DECIDED: {"by": "x", "at": "x", "decision": "x"},
    ErrorCode.AWAITING_APPROVAL: {"step": "x", "role": "x"},
    ErrorCode.STEP_BLOCKED: {"step": "x", "waiting": "x"},
    ErrorCode.STEP_FINISHED: {"step": "x", "status": "x"},
    ErrorCode.STEP_INACTIVE: {"step": "x"},
    ErrorCode.NOT_A_CHECKIN: {"step": "x"},
    ErrorCode.ILLEGAL_TRANSITION: {"status": "x", "action": "x"},
    ErrorCode.INCIDENT_ENDED: {"status": "x"},
    ErrorCode.OPEN_STEPS: {"steps": "x"},
    ErrorCode.REASON_REQUIRED: {},
    ErrorCode.UNKNOWN: {"what": "x"},
    ErrorCode.ALREADY_ESCALATED: {},
    ErrorCode.ALREADY_ACKED: {"by": "x"},
    ErrorCode.NOT_PAGED: {},
    ErrorCode.STEP_REFUSED: {"step": "x"},
    ErrorCode.NOT_REFUSED: {"step": "x"},
    ErrorCode.NOT_SEVERITY_JUDGE: {},
    ErrorCode.SAME_SEVERITY: {"severity": "II"},
    ErrorCode.REPORT_REQUIRED: {"step": "x"},
    ErrorCode.NOT_UNIT_RESPONSIBLE: {"unit": "x", "role": "x"},
    ErrorCode.ALREADY_CONFIRMED: {"by": "x", "at": "x"},
    ErrorCode.NOT_A_REPORT: {"step": "x"},
    ErrorCode.NOT_STEP_ASSIGNEE: {"step": "x", "assignee": "x"},
    ErrorCode.SNOOZE_MINUTES: {},
    ErrorCode.NO_DEADLINE: {"step": "x"},
    ErrorCode.SNOOZE_PAST_DEADLINE: {"step": "x"},
}


@pytest.mark.parametrize("code", list(ErrorCode))
@pytest.mark.parametrize("locale", ["zh-CN", "en"])
def test_every_error_speaks_both_languages(code: ErrorCode, locale: str) -> None:
    assert code in MESSAGES
    text = DomainError(code, **PARAMS[code]).message(locale)
    assert text
    assert "{" not in text


def test_role_names_follow_the_locale() -> None:
    state = acked()
    with pytest.raises(DomainError) as err:
        dom.decide(state, DecideApproval("W1", "stop", True), T0)
    assert "「Security」" in err.value.message("zh-CN")
    assert "Security" in err.value.message("en")
    assert "「" not in err.value.message("en")


def test_optional_steps_do_not_block_resolve_and_end_not_applicable() -> None:
    """An "if ..." step (``optional``) the incident never needed does not hold up resolve."""
    from pathlib import Path

    from epbot.adapters.playbook_files import PlaybookLibrary
    from epbot.domain import incident as d
    from epbot.domain.playbook import Severity

    library = PlaybookLibrary(Path("playbooks"))
    current = library.load()
    virus = current.get("virus")
    assert virus is not None
    optional = [s.id for _, s in virus.iter_steps() if s.optional]
    assert optional, "the virus playbook has 'if it cannot be cleaned' steps"
    now = datetime(2026, 11, 24, 1, 0, tzinfo=UTC)
    report = d.ReportFields(
        occurred_at=now,
        place="p",
        nature="n",
        scope="s",
        trend="t",
        measures="m",
        unit_id="user-it",
        contact_phone="13800000000",
        title="virus",
    )
    state, _ = d.declare(
        playbook=virus,
        matrix=current.matrix,
        severity=Severity.IV,
        report=report,
        reporter="U0",
        drill=False,
        now=now,
    )
    commander = current.matrix.role(virus.commander_role).people[0]
    for _ in range(20):
        open_steps = [
            s
            for s in state.steps.values()
            if s.status in (d.StepStatus.OPEN,) and not virus.step(s.step_id).optional
        ]
        if not open_steps:
            break
        for step in open_steps:
            # A report step is done by sending its report (issue 15), the others by a tick.
            command: d.Command = (
                d.SendReport(commander, step.step_id, 1, report)
                if step.kind is StepKind.REPORT
                else d.CompleteStep(actor=commander, step_id=step.step_id)
            )
            d.decide(state, command, now)
    still_open = [
        s.step_id
        for s in state.steps.values()
        if s.status is d.StepStatus.OPEN or s.status is d.StepStatus.PENDING
    ]
    assert set(still_open) <= set(optional)
    d.decide(state, d.Resolve(actor=commander), now)
    assert state.status is d.Status.RESOLVED
    for step_id in optional:
        if state.steps[step_id].status is not d.StepStatus.INACTIVE:
            assert state.steps[step_id].finished


# --- severity changes and false alarms (issue 15) -----------------------------------------


@pytest.mark.parametrize(
    ("actor", "error"),
    [
        ("O2", None),  # emergency office (the commander's role)
        ("L3", None),  # leadership group
        ("W1", ErrorCode.NOT_SEVERITY_JUDGE),
        ("R1", ErrorCode.NOT_SEVERITY_JUDGE),  # the reporter may cancel, not re-grade
    ],
)
def test_who_may_change_the_severity(actor: str, error: ErrorCode | None) -> None:
    state = acked()
    command = dom.ChangeSeverity(actor, Severity.II, "spreading")
    if error is None:
        dom.decide(state, command, T0 + 2 * M)
        assert state.severity is Severity.II
    else:
        with pytest.raises(DomainError) as err:
            dom.decide(state, command, T0 + 2 * M)
        assert err.value.code is error
        assert state.severity is Severity.III


def test_a_severity_change_needs_a_reason_and_a_change() -> None:
    state = acked()
    with pytest.raises(DomainError) as err:
        dom.decide(state, dom.ChangeSeverity("O1", Severity.II, " "), T0)
    assert err.value.code is ErrorCode.REASON_REQUIRED
    with pytest.raises(DomainError) as err:
        dom.decide(state, dom.ChangeSeverity("O1", Severity.III, "same"), T0)
    assert err.value.code is ErrorCode.SAME_SEVERITY


def test_raising_to_major_starts_the_major_steps_counted_from_the_change() -> None:
    state = acked(Severity.IV)
    assert state.steps["report-major"].status is StepStatus.NOT_APPLICABLE
    at = T0 + 40 * M  # long after the declaration: 15 minutes count from now
    events = dom.decide(state, dom.ChangeSeverity("O1", Severity.II, "all units hit"), at)
    assert kinds(events)[0] == "severity_changed"
    assert events[0].data == {
        "from": "IV",
        "to": "II",
        "reason": "all units hit",
        "major": True,
        "raised": True,
    }
    assert events[0].actor == "O1"
    major = state.steps["report-major"]
    assert major.status is StepStatus.OPEN
    assert major.due_at == at + 15 * M
    assert state.steps["approve"].status is StepStatus.PENDING  # waits for the report
    dom.decide(state, CompleteStep("O1", "report-major"), at + M)
    assert state.steps["approve"].status is StepStatus.AWAITING_APPROVAL


def test_lowering_ends_the_steps_that_no_longer_apply_on_the_record() -> None:
    state = acked(Severity.II)
    events = dom.decide(state, dom.ChangeSeverity("L1", Severity.III, "contained"), T0 + 2 * M)
    ended = [e for e in events if e.kind == "step_not_applicable"]
    assert {e.data["step"] for e in ended} == {"report-major", "approve"}
    assert all(e.actor == "L1" and e.data["reason"] == "contained" for e in ended)
    assert state.steps["report-major"].status is StepStatus.NOT_APPLICABLE
    assert not [t for t in state.timers if t.live and t.target == "report-major"]
    # a later raise brings them back
    dom.decide(state, dom.ChangeSeverity("O1", Severity.I, "worse"), T0 + 5 * M)
    assert state.steps["report-major"].status is StepStatus.OPEN


def test_lowering_keeps_an_escalation_the_commander_asked_for() -> None:
    state = acked(Severity.III)
    dom.decide(state, RequestEscalation("O1", "needs coordination"), T0 + 2 * M)
    dom.decide(state, dom.ChangeSeverity("O1", Severity.IV, "smaller"), T0 + 3 * M)
    assert state.steps["approve"].status is StepStatus.AWAITING_APPROVAL


def test_a_false_alarm_stops_every_timer_and_nothing_more_happens() -> None:
    state = acked(Severity.II)
    with pytest.raises(DomainError) as err:
        dom.decide(state, Cancel("W1", "false alarm"), T0 + 2 * M)
    assert err.value.code is ErrorCode.NOT_COMMANDER
    events = dom.decide(state, Cancel("L2", "误报：监控探针故障"), T0 + 2 * M)
    assert kinds(events)[-1] == "cancelled"
    assert state.status is Status.CANCELLED
    assert state.cancel_reason == "误报：监控探针故障"
    assert not [t for t in state.timers if t.live]
    assert run_timers(state, T0 + 10 * 60 * M) == []


# --- reports: 信息报告, 续报, 终报 (issue 15) -----------------------------------------------


def _db_crash(severity: Severity = Severity.II) -> dom.IncidentState:
    from pathlib import Path

    from epbot.adapters.playbook_files import PlaybookLibrary

    current = PlaybookLibrary(Path("playbooks")).load()
    playbook = current.get("db-crash")
    assert playbook is not None
    state, _ = dom.declare(
        playbook=playbook,
        matrix=current.matrix,
        severity=severity,
        report=_REPORT,
        reporter="R1",
        drill=False,
        now=T0,
    )
    for page in list(state.pages):
        dom.decide(state, AcknowledgePage(page.person, page.key), T0 + M)
    return state


def test_a_report_step_is_met_by_a_delivered_report_not_a_tick() -> None:
    state = _db_crash()
    office = state.members("emergency-office")[0]
    with pytest.raises(DomainError) as err:
        dom.decide(state, CompleteStep(office, "report-leadership"), T0 + 5 * M)
    assert err.value.code is ErrorCode.REPORT_REQUIRED
    events = dom.decide(
        state, dom.SendReport(office, "report-leadership", 2, _REPORT), T0 + 6 * M
    )
    sent = events[0]
    assert sent.kind == "report_sent"
    assert sent.data["kind"] == "report"
    assert sent.data["version"] == 2
    assert sent.data["people"] == list(state.members("leadership-group"))
    assert sent.data["channels"] == ["#ep-leadership"]
    assert sent.data["report"]["place"] == "room"
    assert sent.data["on_time"] is True
    step = state.steps["report-leadership"]
    assert step.status is StepStatus.DONE
    assert step.done_at == T0 + 6 * M  # the delivery is the completion
    assert state.steps["approve-emergency-response"].status is StepStatus.AWAITING_APPROVAL


def test_only_the_steps_role_or_the_commander_sends_its_report() -> None:
    state = _db_crash()
    with pytest.raises(DomainError) as err:
        dom.decide(state, dom.SendReport("U05DBV0001", "report-leadership", 1, _REPORT), T0)
    assert err.value.code is ErrorCode.NOT_RESPONSIBLE
    with pytest.raises(DomainError) as err:
        dom.decide(state, dom.SendReport("U01EOF0001", "contain", 1, _REPORT), T0)
    assert err.value.code is ErrorCode.NOT_A_REPORT


def _escalated(state: dom.IncidentState, at: datetime) -> None:
    office = state.members("emergency-office")[0]
    dom.decide(state, dom.SendReport(office, "report-leadership", 1, _REPORT), at)
    dom.decide(state, DecideApproval("U01LDR0001", "approve-emergency-response", True), at)
    assert state.status is Status.EMERGENCY_RESPONSE


def test_progress_reports_are_prompted_at_the_playbooks_interval() -> None:
    state = _db_crash()
    at = T0 + 10 * M
    _escalated(state, at)
    events = run_timers(state, at + 59 * M)
    assert "progress_report_due" not in kinds(events)
    events = run_timers(state, at + 60 * M)
    [due] = [e for e in events if e.kind == "progress_report_due"]
    assert due.data["commander"] == "U01EOF0001"
    assert due.data["people"] == list(state.members("leadership-group"))
    # a progress report (续报) restarts the interval from when it was sent
    sent_at = at + 80 * M
    progress = {"changes": "replica promoted", "next_steps": "verify", "help": "none"}
    events = dom.decide(state, dom.SendReport("U01EOF0002", None, 3, _REPORT, progress), sent_at)
    assert events[0].data["kind"] == "progress"
    assert events[0].data["progress"] == progress
    events = run_timers(state, sent_at + 59 * M)
    assert "progress_report_due" not in kinds(events)
    assert "progress_report_due" in kinds(run_timers(state, sent_at + 60 * M))


def test_no_progress_prompts_before_emergency_response() -> None:
    state = _db_crash(Severity.III)
    events = run_timers(state, T0 + 5 * 60 * M)
    assert "progress_report_due" not in kinds(events)
    with pytest.raises(DomainError) as err:
        dom.decide(state, dom.SendReport("U05DBV0001", None, 1, _REPORT, {}), T0)
    assert err.value.code is ErrorCode.NOT_COMMANDER


def test_resolve_sends_the_final_report_to_the_same_recipients() -> None:
    state = _db_crash()
    at = T0 + 10 * M
    _escalated(state, at)
    for step in state.steps.values():
        if step.status in (StepStatus.OPEN, StepStatus.PENDING, StepStatus.AWAITING_APPROVAL):
            dom.decide(state, SkipStep("U01EOF0001", step.step_id, "test"), at)
    events = dom.decide(state, Resolve("U01EOF0001", "restored"), at)
    final = events[-1]
    assert final.kind == "final_report"
    assert final.data["kind"] == "final"
    assert final.data["summary"] == "restored"
    assert final.data["channels"] == ["#ep-leadership"]
    assert not [t for t in state.timers if t.live]


def test_a_false_alarm_sends_no_final_report() -> None:
    state = _db_crash()
    events = dom.decide(state, Cancel("U01EOF0001", "误报"), T0 + 2 * M)
    assert "final_report" not in kinds(events)


# --- receipts (回执) of notices (issue 15) -------------------------------------------------


def _paused(state: dom.IncidentState, at: datetime) -> list[dom.Event]:
    return dom.decide(state, CompleteStep("U01EOF0001", "pause-uploads"), at)


def test_a_notice_asks_every_unit_for_a_receipt_naming_its_responsible_person() -> None:
    state = _db_crash()
    events = _paused(state, T0 + 2 * M)
    broadcast = next(e for e in events if e.kind == "broadcast")
    receipts = {r["unit"]: r for r in broadcast.data["receipts"]}
    assert set(receipts) == {u.id for u in state.matrix.units if u.channel}
    assert receipts["district-drc"]["responsible"] == ["U07DRC0001"]
    assert dom.receipt_counts(state, "pause-uploads") == (0, len(receipts))


def test_the_responsible_person_confirms_and_others_are_refused() -> None:
    state = _db_crash()
    _paused(state, T0 + 2 * M)
    with pytest.raises(DomainError) as err:
        dom.decide(state, dom.ConfirmReceipt("U07SMR0001", "pause-uploads@district-drc"), T0)
    assert err.value.code is ErrorCode.NOT_UNIT_RESPONSIBLE
    events = dom.decide(
        state, dom.ConfirmReceipt("U07DRC0001", "pause-uploads@district-drc"), T0 + 5 * M
    )
    assert events[0].kind == "receipt_confirmed"
    assert events[0].data["seconds"] == 180
    assert events[0].data["confirmed"] == 1
    with pytest.raises(DomainError) as err:
        dom.decide(state, dom.ConfirmReceipt("U07DRC0001", "pause-uploads@district-drc"), T0)
    assert err.value.code is ErrorCode.ALREADY_CONFIRMED
    assert dom.receipt_counts(state, "pause-uploads")[0] == 1


def test_a_late_unit_is_nudged_then_its_responsible_person_paged() -> None:
    state = _db_crash()
    at = T0 + 2 * M
    _paused(state, at)
    for unit in state.matrix.units:
        if unit.channel and unit.id != "district-tax" and unit.responsible:
            person = state.members(unit.responsible)[0]
            dom.decide(state, dom.ConfirmReceipt(person, f"pause-uploads@{unit.id}"), at)
    events = run_timers(state, at + 30 * M)
    [nudge] = [e for e in events if e.kind == "receipt_overdue"]
    assert nudge.data["unit"] == "district-tax"
    assert nudge.data["paged"] is False
    assert not [p for p in state.pages if p.reason is PageReason.RECEIPT]
    events = run_timers(state, at + 60 * M)
    assert [e.data["paged"] for e in events if e.kind == "receipt_overdue"] == [True]
    [page] = [p for p in state.pages if p.reason is PageReason.RECEIPT]
    assert (page.role, page.person) == ("tax-contact", "U07TAX0001")


def test_a_receipt_after_resolve_still_counts_but_not_after_a_false_alarm() -> None:
    state = _db_crash()
    _paused(state, T0 + 2 * M)
    dom.decide(state, Cancel("U01EOF0001", "误报"), T0 + 3 * M)
    with pytest.raises(DomainError) as err:
        dom.decide(state, dom.ConfirmReceipt("U07DRC0001", "pause-uploads@district-drc"), T0)
    assert err.value.code is ErrorCode.INCIDENT_ENDED
