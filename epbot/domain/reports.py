"""What happened in an incident, as figures: step outcomes, a drill's scorecard, summaries.

Pure: everything arrives as arguments (the loaded state, the end of the observed period), so
every figure is exact and testable on a scripted incident.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum

from epbot.domain.incident import ApprovalStatus, IncidentState, StepStatus, page_attempt
from epbot.domain.playbook import Severity, StepKind

MAJOR_REPORT_STEP = "report-leadership"  # Art. 5.1: report a major event within 15 minutes
MAJOR_REPORT_WITHIN = timedelta(minutes=15)


class Outcome(StrEnum):
    """How a step ended, as an after-action report states it."""

    ON_TIME = "on_time"
    LATE = "late"  # done after its deadline
    MISSED = "missed"  # not done, and its deadline passed
    SKIPPED = "skipped"
    REJECTED = "rejected"
    OPEN = "open"  # not done, deadline not passed (or none)
    NOT_STARTED = "not_started"
    NOT_APPLICABLE = "not_applicable"


@dataclass(frozen=True)
class StepOutcome:
    step_id: str
    stage_id: str
    kind: str
    role: str
    status: str
    outcome: Outcome
    assignee: str | None
    due_at: datetime | None
    done_at: datetime | None
    done_by: str | None
    note: str | None
    late_seconds: float | None  # how far past the deadline (done or, if missed, at ``end``)


def ended_at(state: IncidentState) -> datetime | None:
    return state.resolved_at or state.cancelled_at or state.closed_at


def step_outcomes(state: IncidentState, end: datetime) -> list[StepOutcome]:
    """Every step in playbook order; an open step past its deadline at ``end`` is missed."""
    out = []
    for step in state.steps.values():
        late: float | None = None
        if step.status is StepStatus.DONE:
            if step.due_at is not None and step.done_at is not None and step.done_at > step.due_at:
                outcome, late = Outcome.LATE, (step.done_at - step.due_at).total_seconds()
            else:
                outcome = Outcome.ON_TIME
        elif step.status is StepStatus.SKIPPED:
            outcome = Outcome.SKIPPED
        elif step.status is StepStatus.REJECTED:
            outcome = Outcome.REJECTED
        elif step.status is StepStatus.NOT_APPLICABLE:
            outcome = Outcome.NOT_APPLICABLE
        elif step.status is StepStatus.INACTIVE:
            outcome = Outcome.NOT_STARTED
        elif step.due_at is not None and end > step.due_at:
            outcome, late = Outcome.MISSED, (end - step.due_at).total_seconds()
        else:
            outcome = Outcome.OPEN
        out.append(
            StepOutcome(
                step_id=step.step_id,
                stage_id=step.stage_id.value,
                kind=step.kind.value,
                role=step.role,
                status=step.status.value,
                outcome=outcome,
                assignee=step.assignee,
                due_at=step.due_at,
                done_at=step.done_at,
                done_by=step.done_by,
                note=step.note,
                late_seconds=late,
            )
        )
    return out


# --- the drill scorecard ------------------------------------------------------------------


@dataclass(frozen=True)
class Deadline:
    step_id: str
    due_at: datetime
    done_at: datetime | None
    met: bool
    # done (or, if never done, the end) minus due: negative = that much early, positive = late
    margin_seconds: float


@dataclass(frozen=True)
class RoleAck:
    role: str
    paged_at: datetime  # the role's first page
    acked_at: datetime | None
    acked_by: str | None
    seconds: float | None  # first page -> first acknowledgement
    attempts: int


@dataclass(frozen=True)
class ApprovalTime:
    key: str
    kind: str
    approver_role: str
    status: str
    requested_at: datetime
    decided_at: datetime | None
    decided_by: str | None
    seconds: float | None


@dataclass(frozen=True)
class Receipt:
    """A report upward confirmed received (a ``report`` step done)."""

    step_id: str
    done_at: datetime
    done_by: str | None
    seconds: float  # after the declaration


@dataclass(frozen=True)
class UnitReceipt:
    """A unit's receipt (回执) of a notice: asked when the notice went out, confirmed by
    the unit's responsible person (or not yet)."""

    step_id: str
    unit_id: str
    requested_at: datetime
    due_at: datetime | None
    confirmed_at: datetime | None
    confirmed_by: str | None
    seconds: float | None  # notice -> confirmation
    on_time: bool | None  # None: not confirmed, or no deadline


@dataclass(frozen=True)
class Scorecard:
    deadlines: list[Deadline]
    acks: list[RoleAck]
    approvals: list[ApprovalTime]
    receipts: list[Receipt]
    skipped: list[str]
    duration_seconds: float | None  # declared -> resolved / cancelled
    unit_receipts: list[UnitReceipt] = field(default_factory=list)

    @property
    def unit_receipts_confirmed(self) -> int:
        return sum(r.confirmed_at is not None for r in self.unit_receipts)

    @property
    def met(self) -> int:
        return sum(d.met for d in self.deadlines)

    @property
    def missed(self) -> int:
        return len(self.deadlines) - self.met


_NO_DEADLINE = frozenset(
    {StepStatus.NOT_APPLICABLE, StepStatus.INACTIVE, StepStatus.SKIPPED, StepStatus.REJECTED}
)


def scorecard(state: IncidentState, end: datetime) -> Scorecard:
    """The figures of one run: deadlines, acknowledgements, approvals, receipts, skips."""
    deadlines = []
    for s in state.steps.values():
        if s.due_at is None or s.status in _NO_DEADLINE:
            continue  # skipped / refused steps are listed apart; a deadline needs work done
        done = s.done_at if s.status is StepStatus.DONE else None
        if done is None and end <= s.due_at:
            continue  # still running and not yet due: neither met nor missed
        margin = ((done or end) - s.due_at).total_seconds()
        met = done is not None and margin <= 0
        deadlines.append(Deadline(s.step_id, s.due_at, done, met, margin))
    acks = []
    for role in dict.fromkeys(p.role for p in state.pages):
        pages = [p for p in state.pages if p.role == role]
        first = min(p.sent_at for p in pages)
        acked = [p for p in pages if p.acked_at is not None]
        ack = min(acked, key=lambda p: p.acked_at or first) if acked else None
        at = ack.acked_at if ack else None
        acks.append(
            RoleAck(
                role=role,
                paged_at=first,
                acked_at=at,
                acked_by=ack.acked_by if ack else None,
                seconds=(at - first).total_seconds() if at else None,
                # people of the role tried until it answered (not pages: one person
                # paged for several steps at once is one attempt)
                attempts=max(
                    page_attempt(state, p) for p in pages if at is None or p.sent_at <= at
                ),
            )
        )
    approvals = [
        ApprovalTime(
            key=a.key,
            kind=a.kind.value,
            approver_role=a.approver_role,
            status=a.status.value,
            requested_at=a.requested_at,
            decided_at=a.decided_at,
            decided_by=a.decided_by,
            seconds=(a.decided_at - a.requested_at).total_seconds() if a.decided_at else None,
        )
        for a in state.approvals.values()
        if a.status is not ApprovalStatus.WITHDRAWN
    ]
    receipts = [
        Receipt(s.step_id, s.done_at, s.done_by, (s.done_at - state.declared_at).total_seconds())
        for s in state.steps.values()
        if s.kind is StepKind.REPORT and s.status is StepStatus.DONE and s.done_at is not None
    ]
    skipped = [s.step_id for s in state.steps.values() if s.status is StepStatus.SKIPPED]
    unit_receipts = [
        UnitReceipt(
            step_id=r.step_id,
            unit_id=r.unit_id,
            requested_at=r.requested_at,
            due_at=r.due_at,
            confirmed_at=r.confirmed_at,
            confirmed_by=r.confirmed_by,
            seconds=((r.confirmed_at - r.requested_at).total_seconds() if r.confirmed_at else None),
            on_time=(
                r.confirmed_at <= r.due_at if r.confirmed_at and r.due_at is not None else None
            ),
        )
        for r in state.receipts
    ]
    finished = ended_at(state)
    return Scorecard(
        deadlines=deadlines,
        acks=acks,
        approvals=approvals,
        receipts=receipts,
        skipped=skipped,
        duration_seconds=(finished - state.declared_at).total_seconds() if finished else None,
        unit_receipts=unit_receipts,
    )


@dataclass(frozen=True)
class Change:
    """One figure now and in the previous run (``delta`` = now - before; None if either is)."""

    name: str
    now: float | None
    before: float | None

    @property
    def delta(self) -> float | None:
        return None if self.now is None or self.before is None else self.now - self.before


def compare(now: Scorecard, before: Scorecard) -> list[Change]:
    """The scorecard against the previous run of the same drill, figure by figure."""
    changes = [
        Change("deadlines_met", now.met, before.met),
        Change("deadlines_missed", now.missed, before.missed),
        Change("steps_skipped", len(now.skipped), len(before.skipped)),
        Change(
            "unit_receipts_confirmed", now.unit_receipts_confirmed, before.unit_receipts_confirmed
        ),
        Change("duration_seconds", now.duration_seconds, before.duration_seconds),
    ]
    earlier_acks = {a.role: a.seconds for a in before.acks}
    changes += [Change(f"ack:{a.role}", a.seconds, earlier_acks.get(a.role)) for a in now.acks]
    earlier_approvals = {a.key: a.seconds for a in before.approvals}
    changes += [
        Change(f"approval:{a.key}", a.seconds, earlier_approvals.get(a.key)) for a in now.approvals
    ]
    return changes


# --- figures across incidents -------------------------------------------------------------


@dataclass(frozen=True)
class IncidentFigures:
    """One incident reduced to what the summary counts."""

    playbook: str
    severity: str
    drill: bool
    first_ack_seconds: float | None  # declaration -> first acknowledged page
    resolve_seconds: float | None  # declaration -> resolved
    deadlines_met: int
    deadlines_total: int
    major_report_on_time: bool | None  # None unless severity I/II


def incident_figures(state: IncidentState, end: datetime) -> IncidentFigures:
    acks = [p.acked_at for p in state.pages if p.acked_at is not None]
    card = scorecard(state, end)
    major: bool | None = None
    if state.severity.is_major:
        step = state.steps.get(MAJOR_REPORT_STEP)
        limit = state.declared_at + MAJOR_REPORT_WITHIN
        major = bool(
            step is not None
            and step.status is StepStatus.DONE
            and step.done_at is not None
            and step.done_at <= limit
        )
    return IncidentFigures(
        playbook=state.playbook.id,
        severity=state.severity.value,
        drill=state.drill,
        first_ack_seconds=(min(acks) - state.declared_at).total_seconds() if acks else None,
        resolve_seconds=(
            (state.resolved_at - state.declared_at).total_seconds() if state.resolved_at else None
        ),
        deadlines_met=card.met,
        deadlines_total=len(card.deadlines),
        major_report_on_time=major,
    )


def median(values: Sequence[float]) -> float | None:
    return float(statistics.median(values)) if values else None


def p90(values: Sequence[float]) -> float | None:
    """The 90th percentile by nearest rank: the smallest value >= 90 % of the values."""
    if not values:
        return None
    ordered = sorted(values)
    return float(ordered[math.ceil(0.9 * len(ordered)) - 1])


@dataclass(frozen=True)
class SummaryRow:
    drill: bool
    playbook: str
    severity: str
    count: int
    first_ack_median: float | None
    first_ack_p90: float | None
    resolve_median: float | None
    resolve_p90: float | None
    resolved: int
    deadlines_met: int
    deadlines_total: int
    major_count: int  # incidents the 15-minute rule applies to
    major_on_time: int

    @property
    def deadlines_share(self) -> float | None:
        return self.deadlines_met / self.deadlines_total if self.deadlines_total else None

    @property
    def major_share(self) -> float | None:
        return self.major_on_time / self.major_count if self.major_count else None


_SEVERITY_ORDER = {s.value: n for n, s in enumerate(Severity)}


def summarize(figures: Iterable[IncidentFigures]) -> list[SummaryRow]:
    """Per (real/drill, playbook, severity): real incidents first, then drills."""
    groups: dict[tuple[bool, str, str], list[IncidentFigures]] = {}
    for f in figures:
        groups.setdefault((f.drill, f.playbook, f.severity), []).append(f)
    rows = []
    for (drill, playbook, severity), items in sorted(
        groups.items(), key=lambda kv: (kv[0][0], kv[0][1], _SEVERITY_ORDER.get(kv[0][2], 9))
    ):
        acks = [f.first_ack_seconds for f in items if f.first_ack_seconds is not None]
        resolves = [f.resolve_seconds for f in items if f.resolve_seconds is not None]
        majors = [f.major_report_on_time for f in items if f.major_report_on_time is not None]
        rows.append(
            SummaryRow(
                drill=drill,
                playbook=playbook,
                severity=severity,
                count=len(items),
                first_ack_median=median(acks),
                first_ack_p90=p90(acks),
                resolve_median=median(resolves),
                resolve_p90=p90(resolves),
                resolved=len(resolves),
                deadlines_met=sum(f.deadlines_met for f in items),
                deadlines_total=sum(f.deadlines_total for f in items),
                major_count=len(majors),
                major_on_time=sum(majors),
            )
        )
    return rows
