"""Audit chain, idempotency keys, numbering, and the commander's end-of-incident rules."""

from __future__ import annotations

import asyncio
import json

import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from epbot.adapters.slack.refusals import explain
from epbot.domain.errors import DomainError, ErrorCode
from epbot.domain.incident import Status
from epbot.domain.playbook import Severity
from epbot.services.audit import AuditService
from epbot.services.incidents import IncidentService
from tests.services.conftest import ack_all, key, report


async def test_audit_chain_detects_an_edited_row(
    declare, service: IncidentService, engine: AsyncEngine
) -> None:
    iid = (await declare("system-fault")).incident_id
    await ack_all(service, iid)
    checked, problem = await AuditService(service.store).check(iid)
    assert problem is None
    assert checked == len(await service.timeline(iid)) > 5
    victim = 4
    async with engine.begin() as conn:
        await conn.execute(
            sa.text("UPDATE timeline_event SET payload = :p WHERE incident_id = :i AND seq = :s"),
            {"p": json.dumps({"forged": True}), "i": iid, "s": victim},
        )
    checked, problem = await AuditService(service.store).check(iid)
    assert problem is not None
    assert problem.seq == victim
    assert "edited" in problem.reason


async def test_audit_chain_detects_a_removed_row(
    declare, service: IncidentService, engine: AsyncEngine
) -> None:
    iid = (await declare("system-fault")).incident_id
    async with engine.begin() as conn:
        await conn.execute(
            sa.text("DELETE FROM timeline_event WHERE incident_id = :i AND seq = 3"), {"i": iid}
        )
    _, problem = await AuditService(service.store).check(iid)
    assert problem is not None
    assert problem.seq == 4


async def snapshot(service: IncidentService, engine: AsyncEngine, iid: int) -> tuple:
    async with engine.connect() as conn:
        counts = []
        for table in ("timeline_event", "outbox", "timer", "page", "approval", "step"):
            counts.append(await conn.scalar(sa.text(f"SELECT count(*) FROM {table}")))  # noqa: S608
        version = await conn.scalar(
            sa.text("SELECT version FROM incident WHERE id = :i"), {"i": iid}
        )
    state = await service.state(iid)
    return (
        tuple(counts),
        version,
        state.status,
        {s.step_id: s.status for s in state.steps.values()},
    )


@pytest.mark.parametrize(
    "use_case",
    ["ack", "complete", "report", "skip", "update", "approve", "escalate", "cancel"],
)
async def test_the_same_key_twice_changes_nothing_the_second_time(
    use_case: str, declare, service: IncidentService, engine: AsyncEngine
) -> None:
    iid = (await declare("attack", Severity.III)).incident_id
    if use_case not in ("ack", "escalate"):
        await ack_all(service, iid)
    calls = {
        "ack": lambda k: service.acknowledge_page(
            key=k, incident_id=iid, page="emergency-office#1", actor="U01EOF0001"
        ),
        "complete": lambda k: service.complete_step(
            key=k, incident_id=iid, step="contain", actor="U01EOF0001"
        ),
        "report": lambda k: service.send_report(
            key=k, incident_id=iid, step="report-office", actor="U01EOF0001"
        ),
        "skip": lambda k: service.skip_step(
            key=k, incident_id=iid, step="check-backups", actor="U01EOF0001", reason="n/a"
        ),
        "update": lambda k: service.post_update(
            key=k, incident_id=iid, actor="U01EOF0001", text="still working"
        ),
        "approve": lambda k: service.decide_approval(
            key=k, incident_id=iid, approval="stop-system", actor="U01SEC0003", approve=True
        ),
        "escalate": lambda k: service.request_escalation(
            key=k, incident_id=iid, actor="U01EOF0001", reason="spreading"
        ),
        "cancel": lambda k: service.cancel(
            key=k, incident_id=iid, actor="U01EOF0001", reason="false alarm"
        ),
    }
    k = key(use_case)
    first = await calls[use_case](k)
    assert not first.duplicate
    assert first.events
    before = await snapshot(service, engine, iid)
    again = await calls[use_case](k)
    assert again.duplicate
    assert again.incident_id == iid
    assert again.events == []
    assert await snapshot(service, engine, iid) == before


async def test_the_same_key_at_once_from_two_instances_applies_once(
    declare, make_service, engine: AsyncEngine
) -> None:
    iid = (await declare("system-fault")).incident_id
    a, b = make_service(holder="a"), make_service(holder="b")
    k = key("update")
    outcomes = await asyncio.gather(
        *(svc.post_update(key=k, incident_id=iid, actor="U01EOF0001", text="x") for svc in (a, b))
    )
    assert sorted(o.duplicate for o in outcomes) == [False, True]
    kinds = [e["kind"] for e in await a.timeline(iid)]
    assert kinds.count("update_posted") == 1


async def test_declare_twice_with_one_key_opens_one_incident(
    service: IncidentService, engine: AsyncEngine
) -> None:
    outcomes = [
        await service.declare(
            key="slack-view-V123",
            playbook="virus",
            severity=None,
            report=report(),
            reporter="U09REPORTER",
        )
        for _ in range(2)
    ]
    assert outcomes[0].incident_id == outcomes[1].incident_id
    assert [o.duplicate for o in outcomes] == [False, True]
    async with engine.connect() as conn:
        assert await conn.scalar(sa.text("SELECT count(*) FROM incident")) == 1


async def test_drills_are_numbered_apart(declare) -> None:
    numbers = []
    for drill in (False, True, True, False):
        outcome = await declare("virus", drill=drill)
        numbers.append(outcome.events[0].data["number"])
    assert numbers == ["2026-0001", "DRILL-2026-0001", "DRILL-2026-0002", "2026-0002"]


async def test_resolve_is_refused_while_steps_are_open(declare, service: IncidentService) -> None:
    iid = (await declare("system-fault")).incident_id
    await ack_all(service, iid)
    with pytest.raises(DomainError) as err:
        await service.resolve(key=key(), incident_id=iid, actor="U01EOF0001")
    assert err.value.code is ErrorCode.OPEN_STEPS
    # The open steps by title, not by id (issue 18).
    assert "第一时间向本单位应急办公室和有关部门报告" in explain(err.value, "zh-CN")
    assert "report-office" not in explain(err.value, "zh-CN")
    with pytest.raises(DomainError) as err:
        await service.resolve(key=key(), incident_id=iid, actor="U02INS0002")
    assert err.value.code is ErrorCode.NOT_COMMANDER


@pytest.mark.parametrize("stage", ["reported", "initial_handling", "emergency_response"])
async def test_cancel_from_any_open_stage(stage: str, declare, service: IncidentService) -> None:
    iid = (await declare("attack", Severity.III)).incident_id
    if stage != "reported":
        await ack_all(service, iid)
    if stage == "emergency_response":
        await service.request_escalation(key=key(), incident_id=iid, actor="U01EOF0001", reason="x")
        await service.decide_approval(
            key=key(),
            incident_id=iid,
            approval="approve-emergency-response",
            actor="U01LDR0001",
            approve=True,
        )
    assert (await service.state(iid)).status.value == stage
    await service.cancel(key=key(), incident_id=iid, actor="U09REPORTER", reason="drill ended")
    state = await service.state(iid)
    assert state.status is Status.CANCELLED
    assert state.timers == []
    with pytest.raises(DomainError) as err:
        await service.post_update(key=key(), incident_id=iid, actor="U01EOF0001", text="late")
    assert err.value.code is ErrorCode.INCIDENT_ENDED
