"""A full lifecycle for every shipped playbook, on SQLite and PostgreSQL."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from epbot.adapters.clock import FakeClock
from epbot.adapters.playbook_files import PlaybookLibrary
from epbot.domain.incident import Status, StepKind, StepStatus
from epbot.domain.playbook import Severity
from epbot.services.audit import AuditService
from epbot.services.incidents import IncidentService
from tests.services.conftest import PLAYBOOKS, ack_all, key, report

PLAYBOOK_IDS = [pb.id for pb in PlaybookLibrary(PLAYBOOKS).load()]


def test_every_shipped_playbook_is_covered() -> None:
    assert len(PLAYBOOK_IDS) >= 7


async def drive(service: IncidentService, clock: FakeClock, incident_id: int) -> list[str]:
    """Act as the right people until nothing is left to do; return the actions taken."""
    done: list[str] = []
    for _ in range(200):
        clock.advance(timedelta(seconds=30))
        await service.tick()
        await ack_all(service, incident_id)
        state = await service.state(incident_id)
        step = next(
            (
                s
                for s in state.steps.values()
                if s.status in (StepStatus.OPEN, StepStatus.AWAITING_APPROVAL)
            ),
            None,
        )
        if step is None:
            return done
        if step.status is StepStatus.AWAITING_APPROVAL:
            approval = state.approvals[step.step_id]
            approver = state.members(approval.approver_role)[-1]
            await service.decide_approval(
                key=key("approve"),
                incident_id=incident_id,
                approval=approval.key,
                actor=approver,
                approve=True,
            )
            done.append(f"approve:{step.step_id}")
            continue
        actor = step.assignee or state.members(step.role)[0]
        if step.kind is StepKind.CHECKIN:
            await service.check_in(
                key=key("checkin"), incident_id=incident_id, step=step.step_id, actor=actor
            )
        elif step.kind is StepKind.REPORT:  # a report step is met by a delivered report
            await service.send_report(
                key=key("report"), incident_id=incident_id, step=step.step_id, actor=actor
            )
        else:
            await service.complete_step(
                key=key("done"), incident_id=incident_id, step=step.step_id, actor=actor
            )
        done.append(f"done:{step.step_id}")
    raise AssertionError(f"no end in sight after {done}")


@pytest.mark.parametrize("playbook", PLAYBOOK_IDS)
async def test_full_lifecycle(
    playbook: str, service: IncidentService, clock: FakeClock, engine: AsyncEngine
) -> None:
    outcome = await service.declare(
        key=key("declare"),
        playbook=playbook,
        severity=Severity.II,
        report=report(),
        reporter="U09REPORTER",
    )
    iid = outcome.incident_id
    actions = await drive(service, clock, iid)
    assert "approve:approve-emergency-response" in actions

    state = await service.state(iid)
    assert state.status is Status.COMMAND
    assert all(s.finished for s in state.steps.values()), {
        s.step_id: s.status for s in state.steps.values() if not s.finished
    }
    commander = state.commander
    assert commander is not None
    await service.resolve(key=key("resolve"), incident_id=iid, actor=commander, summary="ok")
    await service.close(key=key("close"), incident_id=iid, actor=commander)

    state = await service.state(iid)
    assert state.status is Status.CLOSED
    assert all(
        s.status in (StepStatus.DONE, StepStatus.NOT_APPLICABLE) for s in state.steps.values()
    )
    assert state.timers == []
    async with engine.connect() as conn:
        live = await conn.scalar(
            sa.text(
                "SELECT count(*) FROM timer WHERE incident_id = :i "
                "AND fired_at IS NULL AND cancelled = :f"
            ),
            {"i": iid, "f": False},
        )
    assert live == 0
    checked, problem = await AuditService(service.store).check(iid)
    assert problem is None
    timeline = await service.timeline(iid)
    assert checked == len(timeline) > 0
    path = [
        (json.loads(e["payload"])["from"], json.loads(e["payload"])["to"])
        for e in timeline
        if e["kind"] == "status_changed"
    ]
    assert path == [
        ("reported", "initial_handling"),
        ("initial_handling", "emergency_response"),
        ("emergency_response", "command_coordination"),
        ("command_coordination", "resolved"),
        ("resolved", "closed"),
    ]
    assert "refused" not in {e["kind"] for e in timeline}
