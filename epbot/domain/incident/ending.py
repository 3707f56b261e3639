"""How an incident ends: resolved (with its 终报), closed, or cancelled as a false alarm
(误报).
"""

from __future__ import annotations

from datetime import datetime

from epbot.domain.errors import DomainError, ErrorCode, joined
from epbot.domain.incident.approvals import escalation_step
from epbot.domain.incident.commands import Cancel, Close, ReportKind, Resolve
from epbot.domain.incident.events import Event, EventKind
from epbot.domain.incident.flow import transition
from epbot.domain.incident.notices import progress_recipients, recipients
from epbot.domain.incident.severity import may_judge_severity
from epbot.domain.incident.state import FINISHED_STEP, IncidentState, StepStatus, Transition
from epbot.domain.playbook import StageId, StepKind


def _open_blockers(state: IncidentState) -> list[str]:
    gate = escalation_step(state)
    return [
        s.step_id
        for s in state.steps.values()
        if s.status not in FINISHED_STEP
        and s.status not in (StepStatus.INACTIVE, StepStatus.REJECTED)
        and not (gate is not None and s.step_id == gate.id)
        and not state.playbook.step(s.step_id).optional
    ]


def resolve(state: IncidentState, cmd: Resolve, now: datetime) -> list[Event]:
    if not state.is_commander(cmd.actor):
        raise DomainError(ErrorCode.NOT_COMMANDER, action="resolve the incident")
    blockers = _open_blockers(state)
    if blockers:
        raise DomainError(
            ErrorCode.OPEN_STEPS, steps=joined([state.step_text(b) for b in blockers])
        )
    events = transition(state, Transition.RESOLVE, cmd.actor, now)
    state.resolved_at = now
    gate = escalation_step(state)
    for step in state.steps.values():
        # Steps the incident no longer needs: the unasked escalation, optional "if ..." steps.
        needless = (gate is not None and step.step_id == gate.id) or (
            state.playbook.step(step.step_id).optional
        )
        if needless and not step.finished:
            step.status = StepStatus.NOT_APPLICABLE
    events.append(Event(EventKind.RESOLVED, cmd.actor, now, {"summary": cmd.summary}))
    reported = StageId.EMERGENCY_RESPONSE in state.stages or any(
        s.kind is StepKind.REPORT and s.status is StepStatus.DONE for s in state.steps.values()
    )
    if not reported:
        return events
    # 终报: the closing report goes to whoever received the progress reports.
    events.append(
        Event(
            EventKind.FINAL_REPORT,
            cmd.actor,
            now,
            {
                "kind": ReportKind.FINAL.value,
                "summary": cmd.summary,
                **recipients(state, progress_recipients(state)),
            },
        )
    )
    return events


def close(state: IncidentState, cmd: Close, now: datetime) -> list[Event]:
    if not state.is_commander(cmd.actor):
        raise DomainError(ErrorCode.NOT_COMMANDER, action="close the incident")
    events = transition(state, Transition.CLOSE, cmd.actor, now)
    state.closed_at = now
    return events


def cancel(state: IncidentState, cmd: Cancel, now: datetime) -> list[Event]:
    # A false alarm (误报) may be called by the reporter, or whoever may judge the severity.
    if not may_judge_severity(state, cmd.actor) and cmd.actor != state.reporter:
        raise DomainError(ErrorCode.NOT_COMMANDER, action="cancel the incident")
    if not cmd.reason.strip():
        raise DomainError(ErrorCode.REASON_REQUIRED)
    events = transition(state, Transition.CANCEL, cmd.actor, now)
    state.cancelled_at, state.cancel_reason = now, cmd.reason
    events.append(Event(EventKind.CANCELLED, cmd.actor, now, {"reason": cmd.reason}))
    return events
