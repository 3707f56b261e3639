"""A scripted incident on the fake clock, whose figures the report tests know exactly.

system-fault, severity II, declared at START (09:00 in Asia/Shanghai):
  +2 min   the emergency office acknowledges its page (commander U01EOF0001; ack_after)
  +3 min   report-office done (due +5 min: 2 min early)
  +6 min   the commander asks for emergency response; +10 min the leader approves
  +11 min  every new page acknowledged
  +20 min  report-leadership done (due +15 min: 5 min late)
  +25 min  start-unit-plan skipped
  then one open step done per minute by the commander, and resolved.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from epbot.adapters.clock import FakeClock
from epbot.domain.incident import FINISHED_STEP, StepStatus
from epbot.domain.playbook import Severity, StepKind
from epbot.services.incidents import IncidentService
from tests.services.conftest import START, ack_all, key, report

COMMANDER = "U01EOF0001"
LEADER = "U01LDR0001"
ESCALATION = "approve-emergency-response"


async def finish(service: IncidentService, iid: int, step: str) -> None:
    """The commander does a step: a report step by sending its report, where that exists."""
    state = await service.state(iid)
    send = getattr(service, "send_report", None)
    if state.steps[step].kind is StepKind.REPORT and send is not None:
        await send(key=key(), incident_id=iid, actor=COMMANDER, step=step)
    else:
        await service.complete_step(key=key(), incident_id=iid, step=step, actor=COMMANDER)


async def scripted_incident(
    service: IncidentService,
    clock: FakeClock,
    *,
    at: datetime = START,
    drill: bool = False,
    leadership_after: timedelta = timedelta(minutes=20),
    severity: Severity = Severity.II,
    resolve: bool = True,
    ack_after: timedelta = timedelta(minutes=2),
) -> int:
    clock.set(at)
    outcome = await service.declare(
        key=key("declare"),
        playbook="system-fault",
        severity=severity,
        report=report("核心交换机故障 | core switch down", at=at),
        reporter="U09REPORTER",
        drill=drill,
    )
    iid = outcome.incident_id
    clock.set(at + ack_after)
    await service.acknowledge_page(
        key=key("ack"), incident_id=iid, page="emergency-office#1", actor=COMMANDER
    )
    clock.set(at + timedelta(minutes=3))
    await finish(service, iid, "report-office")
    clock.set(at + timedelta(minutes=6))
    await service.request_escalation(
        key=key(), incident_id=iid, actor=COMMANDER, reason="not contained"
    )
    clock.set(at + timedelta(minutes=10))
    await service.decide_approval(
        key=key(), incident_id=iid, approval=ESCALATION, actor=LEADER, approve=True
    )
    clock.set(at + timedelta(minutes=11))
    await ack_all(service, iid)
    if severity.is_major:
        clock.set(at + leadership_after)
        await finish(service, iid, "report-leadership")
    clock.set(at + timedelta(minutes=25))
    if (await service.state(iid)).steps["start-unit-plan"].status is StepStatus.OPEN:
        await service.skip_step(
            key=key(), incident_id=iid, step="start-unit-plan", actor=COMMANDER, reason="演练不需要"
        )
    minute = 26
    for _ in range(60):
        state = await service.state(iid)
        todo = [s for s in state.steps.values() if s.status is StepStatus.OPEN]
        if not todo:
            break
        clock.set(at + timedelta(minutes=minute))
        await finish(service, iid, todo[0].step_id)
        minute += 1
    if resolve:
        state = await service.state(iid)
        assert all(
            s.status in FINISHED_STEP or s.status is StepStatus.INACTIVE
            for s in state.steps.values()
        ), {s.step_id: s.status for s in state.steps.values()}
        clock.set(at + timedelta(minutes=minute))
        await service.resolve(key=key(), incident_id=iid, actor=COMMANDER, summary="已恢复")
    return iid
