"""Approvals: who may decide, first decision wins, expiry pages the leader, gated steps."""

from __future__ import annotations

import asyncio
import json
from datetime import timedelta

import pytest

from epbot.adapters.clock import FakeClock
from epbot.adapters.slack.refusals import explain
from epbot.domain.errors import DomainError, ErrorCode
from epbot.domain.incident import ApprovalStatus, Status, StepStatus
from epbot.domain.playbook import Severity
from epbot.services.incidents import IncidentService
from tests.services.conftest import ack_all, key

GATED = "stop-system"  # attack: requires_approval security-officer (U01SEC0003, U01SEC0004)
ESCALATION = "approve-emergency-response"  # leadership-group: U01LDR0001..3


async def test_non_approver_is_refused_and_it_is_on_the_timeline(
    declare, service: IncidentService
) -> None:
    iid = (await declare("attack")).incident_id
    for actor in ("U02INS0002", "U01EOF0001", "U01LDR0001"):  # staff, commander, leader
        with pytest.raises(DomainError) as err:
            await service.decide_approval(
                key=key(), incident_id=iid, approval=GATED, actor=actor, approve=True
            )
        assert err.value.code is ErrorCode.NOT_APPROVER
    assert "安全责任人" in explain(err.value, "zh-CN")
    state = await service.state(iid)
    assert state.approvals[GATED].status is ApprovalStatus.PENDING
    refused = [e for e in await service.timeline(iid) if e["kind"] == "refused"]
    assert [r["actor"] for r in refused] == ["U02INS0002", "U01EOF0001", "U01LDR0001"]


async def test_gated_step_waits_for_its_approval(declare, service: IncidentService) -> None:
    iid = (await declare("attack")).incident_id
    await ack_all(service, iid)
    with pytest.raises(DomainError) as err:
        await service.complete_step(key=key(), incident_id=iid, step=GATED, actor="U02INS0002")
    assert err.value.code is ErrorCode.AWAITING_APPROVAL
    await service.decide_approval(
        key=key(), incident_id=iid, approval=GATED, actor="U01SEC0004", approve=True
    )
    state = await service.state(iid)
    assert state.steps[GATED].status is StepStatus.OPEN
    await service.complete_step(key=key(), incident_id=iid, step=GATED, actor="U02INS0002")
    state = await service.state(iid)
    assert state.steps[GATED].status is StepStatus.DONE
    assert state.steps["trace-source"].status is StepStatus.OPEN  # depended on it


async def test_second_decision_is_told_who_decided(declare, service: IncidentService) -> None:
    iid = (await declare("attack")).incident_id
    await service.decide_approval(
        key=key(),
        incident_id=iid,
        approval=GATED,
        actor="U01SEC0003",
        approve=False,
        reason="keep serving",
    )
    with pytest.raises(DomainError) as err:
        await service.decide_approval(
            key=key(), incident_id=iid, approval=GATED, actor="U01SEC0004", approve=True
        )
    assert err.value.code is ErrorCode.ALREADY_DECIDED
    assert "U01SEC0003" in explain(err.value, "en")
    assert "U01SEC0003" in explain(err.value, "zh-CN")
    state = await service.state(iid)
    assert state.approvals[GATED].status is ApprovalStatus.REJECTED
    assert state.steps[GATED].status is StepStatus.REJECTED


async def test_rejection_needs_a_reason(declare, service: IncidentService) -> None:
    iid = (await declare("attack")).incident_id
    with pytest.raises(DomainError) as err:
        await service.decide_approval(
            key=key(), incident_id=iid, approval=GATED, actor="U01SEC0003", approve=False
        )
    assert err.value.code is ErrorCode.REASON_REQUIRED


async def test_two_concurrent_decisions_one_wins(
    declare, service: IncidentService, make_service
) -> None:
    iid = (await declare("attack")).incident_id
    await service.send_report(
        key=key(), incident_id=iid, step="report-leadership", actor="U01EOF0001"
    )
    first, second = make_service(holder="a"), make_service(holder="b")
    results = await asyncio.gather(
        first.decide_approval(
            key=key(), incident_id=iid, approval=ESCALATION, actor="U01LDR0001", approve=True
        ),
        second.decide_approval(
            key=key(),
            incident_id=iid,
            approval=ESCALATION,
            actor="U01LDR0002",
            approve=False,
            reason="not needed",
        ),
        return_exceptions=True,
    )
    errors = [r for r in results if isinstance(r, BaseException)]
    assert len(errors) == 1, results
    assert isinstance(errors[0], DomainError)
    assert errors[0].code is ErrorCode.ALREADY_DECIDED
    state = await first.state(iid)
    approval = state.approvals[ESCALATION]
    winner = approval.decided_by
    assert winner in ("U01LDR0001", "U01LDR0002")
    assert winner in explain(errors[0], "en")
    decided = [e for e in await first.timeline(iid) if e["kind"] == "approval_decided"]
    assert len(decided) == 1
    expected = Status.EMERGENCY_RESPONSE if winner == "U01LDR0001" else Status.INITIAL_HANDLING
    assert state.status is expected


async def test_unanswered_approval_expires_and_pages_the_leader_who_may_decide(
    declare, service: IncidentService, clock: FakeClock
) -> None:
    iid = (await declare("attack")).incident_id
    with pytest.raises(DomainError):
        await service.decide_approval(
            key=key(), incident_id=iid, approval=GATED, actor="U01LDR0001", approve=True
        )
    clock.advance(timedelta(minutes=15))
    await service.tick()
    timeline = await service.timeline(iid)
    expired = [json.loads(e["payload"]) for e in timeline if e["kind"] == "approval_expired"]
    assert [(x["approval"], x["escalate_to"]) for x in expired] == [(GATED, "leadership-leader")]
    pages = [
        json.loads(e["payload"])
        for e in timeline
        if e["kind"] == "paged" and json.loads(e["payload"])["reason"] == "approval_expired"
    ]
    assert [(p["role"], p["step"]) for p in pages] == [("leadership-leader", GATED)]
    state = await service.state(iid)
    assert state.approvals[GATED].expired
    await service.decide_approval(
        key=key(), incident_id=iid, approval=GATED, actor="U01LDR0001", approve=True
    )
    state = await service.state(iid)
    assert state.approvals[GATED].status is ApprovalStatus.APPROVED
    assert state.steps[GATED].status is StepStatus.OPEN


async def test_major_incident_requests_escalation_by_itself(declare, service) -> None:
    iid = (await declare("attack", Severity.I)).incident_id
    await ack_all(service, iid)
    state = await service.state(iid)
    assert state.steps[ESCALATION].status is StepStatus.PENDING  # waits for report-leadership
    await service.send_report(
        key=key(), incident_id=iid, step="report-leadership", actor="U01EOF0001"
    )
    state = await service.state(iid)
    assert state.steps[ESCALATION].status is StepStatus.AWAITING_APPROVAL
    assert state.approvals[ESCALATION].approver_role == "leadership-group"


async def test_commander_requests_escalation_for_a_minor_incident(
    declare, service: IncidentService
) -> None:
    iid = (await declare("attack", Severity.III)).incident_id
    await ack_all(service, iid)
    state = await service.state(iid)
    assert state.steps[ESCALATION].status is StepStatus.NOT_APPLICABLE
    assert ESCALATION not in state.approvals
    with pytest.raises(DomainError) as err:
        await service.request_escalation(
            key=key(), incident_id=iid, actor="U02INS0002", reason="spreading"
        )
    assert err.value.code is ErrorCode.NOT_COMMANDER
    await service.request_escalation(
        key=key(), incident_id=iid, actor="U01EOF0001", reason="spreading"
    )
    with pytest.raises(DomainError) as err:
        await service.request_escalation(
            key=key(), incident_id=iid, actor="U01EOF0001", reason="again"
        )
    assert err.value.code is ErrorCode.ALREADY_ESCALATED
    await service.decide_approval(
        key=key(), incident_id=iid, approval=ESCALATION, actor="U01LDR0003", approve=True
    )
    state = await service.state(iid)
    assert state.status is Status.EMERGENCY_RESPONSE
    assert state.steps["start-plan"].status is StepStatus.OPEN
