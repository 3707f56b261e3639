"""The deadlines digest and a person's reminders, built from the incident's current state.

One message in the incident's thread lists every open overdue step (who, how late, what
happens next: the next reminder, the escalation and whether it was acknowledged, what the
step still waits for), the steps whose reminders have started (due soon) and the units
whose receipt (回执) is late. A person's reminder DM lists the same for their own steps.
Both are kept current in place; ``effects.digest`` decides when a new one is posted.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from epbot.adapters.slack import ids
from epbot.adapters.slack.mrkdwn import MAX_MESSAGE_BLOCKS
from epbot.adapters.slack.render.blocks import (
    Blocks,
    actions,
    button,
    chunk_lines,
    context,
    fallback,
    incident_ref,
    section,
)
from epbot.adapters.slack.render.templates import Helpers, RenderContext, call, macros
from epbot.domain.incident import (
    IncidentState,
    PageReason,
    PageState,
    ReceiptState,
    StepState,
    StepStatus,
    TimerKind,
)
from epbot.domain.incident.snooze import SNOOZE_MINUTES

# Steps that have no deadline to meet (yet, or any more).
_NOT_RUNNING = frozenset({StepStatus.INACTIVE, StepStatus.NOT_APPLICABLE})


@dataclass(frozen=True)
class Overdue:
    """An open step past its deadline, and what happens next."""

    step: StepState
    waiting_for: tuple[str, ...]  # unfinished steps it depends on
    next_reminder: datetime | None  # the next nudge, when the playbook repeats them
    escalate_to: str | None  # the role the playbook escalates to
    escalation: tuple[PageState, ...]  # the pages the escalation sent, latest per person


@dataclass(frozen=True)
class DueSoon:
    """An open step whose reminders have started, not yet due."""

    step: StepState
    escalate_to: str | None
    waiting_for: tuple[str, ...] = ()  # unfinished steps it depends on


@dataclass(frozen=True)
class Deadlines:
    """What the digest (or one person's reminder) lists, at one moment."""

    overdue: list[Overdue] = field(default_factory=list)
    due_soon: list[DueSoon] = field(default_factory=list)
    receipts: list[ReceiptState] = field(default_factory=list)
    repeat: timedelta | None = None  # the shortest reminder repeat of the listed steps

    def __bool__(self) -> bool:
        return bool(self.overdue or self.due_soon or self.receipts)

    @property
    def people(self) -> list[str]:
        """The assignees of the overdue steps, once each, in order."""
        found = [o.step.assignee for o in self.overdue if o.step.assignee]
        return list(dict.fromkeys(p for p in found if p))


def deadlines(state: IncidentState, now: datetime, *, person: str | None = None) -> Deadlines:
    """Every open overdue step, every step due soon and every late receipt (only
    ``person``'s steps, and no receipts, when given); nothing once the incident ended."""
    if not state.is_open:
        return Deadlines()
    overdue: list[Overdue] = []
    soon: list[DueSoon] = []
    repeats: list[timedelta] = []
    for step in state.steps.values():
        if step.finished or step.status in _NOT_RUNNING or step.due_at is None:
            continue
        if person is not None and step.assignee != person:
            continue
        spec = state.playbook.step(step.step_id)
        before = max(spec.reminders.before, default=None)
        if step.due_at <= now:
            overdue.append(_overdue(state, step, spec.escalate_to))
        elif before is not None and now >= step.due_at - before:
            soon.append(DueSoon(step, spec.escalate_to, _waiting_for(state, step)))
        else:
            continue
        if spec.reminders.repeat:
            repeats.append(spec.reminders.repeat)
    receipts = [] if person is not None else _late_receipts(state, now)
    overdue.sort(key=lambda o: (o.step.due_at or now, o.step.step_id))
    soon.sort(key=lambda s: (s.step.due_at or now, s.step.step_id))
    return Deadlines(overdue, soon, receipts, min(repeats, default=None))


def _waiting_for(state: IncidentState, step: StepState) -> tuple[str, ...]:
    spec = state.playbook.step(step.step_id)
    return tuple(
        dep for dep in spec.depends_on if dep in state.steps and not state.steps[dep].finished
    )


def _overdue(state: IncidentState, step: StepState, escalate_to: str | None) -> Overdue:
    waiting = _waiting_for(state, step)
    nudges = [
        t.due_at
        for t in state.timers
        if t.live and t.kind is TimerKind.STEP_NUDGE and t.target == step.step_id
    ]
    latest: dict[str, PageState] = {}
    for page in state.pages:
        if page.step_id == step.step_id and page.reason == PageReason.OVERDUE:
            latest[page.person] = page
    return Overdue(step, waiting, min(nudges, default=None), escalate_to, tuple(latest.values()))


def _late_receipts(state: IncidentState, now: datetime) -> list[ReceiptState]:
    return [
        r
        for r in state.receipts
        if r.confirmed_at is None and r.due_at is not None and r.due_at <= now
    ]


# --- rendering ------------------------------------------------------------------------------


def digest_message(
    state: IncidentState, found: Deadlines, ctx: RenderContext
) -> tuple[str, Blocks]:
    """The incident's deadlines digest (in its channel's thread)."""
    h = Helpers(state, ctx)
    mod = macros("digest", h, state=state, found=found)
    if not found:
        return fallback(call(mod, "clear")), [section(call(mod, "clear"))]
    blocks = [section(call(mod, "heading")), *_lines(mod, found)]
    blocks.append(context(call(mod, "footer")))
    return fallback(call(mod, "fallback")), _fit(blocks)


def reminder_message(
    state: IncidentState, found: Deadlines, ctx: RenderContext
) -> tuple[str, Blocks]:
    """One person's reminder DM: their steps due soon and overdue, naming the incident
    (number, title, severity, stage) with its channel's link."""
    h = Helpers(state, ctx)
    mod = macros("digest", h, state=state, found=found)
    if not found:
        return fallback(call(mod, "dm_clear")), [section(call(mod, "dm_clear"))]
    blocks = [section(call(mod, "dm_heading")), *_dm_lines(state, mod, found, h.L)]
    blocks.append(context(call(mod, "footer")))
    return fallback(call(mod, "dm_fallback")), _fit(blocks)


_SNOOZES = (
    (10, ids.Action.STEP_SNOOZE_10),
    (30, ids.Action.STEP_SNOOZE_30),
    (60, ids.Action.STEP_SNOOZE_60),
)


def _dm_lines(
    state: IncidentState, mod: object, found: Deadlines, labels: dict[str, str]
) -> Blocks:
    """Each of the person's steps with its row of buttons: snooze (before the deadline
    only: the domain refuses it past it) and "I'm on it"."""
    blocks: Blocks = []
    groups = (
        ("overdue_title", False, [(o.step, call(mod, "overdue_line", o)) for o in found.overdue]),
        ("soon_title", True, [(s.step, call(mod, "soon_line", s)) for s in found.due_soon]),
    )
    for title, snooze, entries in groups:
        if not entries:
            continue
        blocks.append(section(call(mod, title, len(entries))))
        for step, line in entries:
            blocks += [section(text) for text in chunk_lines([line])]
            blocks.append(actions(_reminder_buttons(state, step, labels, snooze=snooze)))
    return blocks


def _reminder_buttons(
    state: IncidentState, step: StepState, labels: dict[str, str], *, snooze: bool
) -> list[dict[str, Any]]:
    value = ids.button_value(incident_ref(state), step.step_id)
    found: list[dict[str, Any]] = []
    for minutes, action in _SNOOZES if snooze else ():
        if minutes in SNOOZE_MINUTES:
            found.append(button(labels[f"btn.snooze_{minutes}"], action, value))
    found.append(button(labels["btn.on_it"], ids.Action.STEP_ON_IT, value, style="primary"))
    return found


def _lines(mod: object, found: Deadlines) -> Blocks:
    blocks: Blocks = []
    groups = (
        ("overdue_title", [call(mod, "overdue_line", o) for o in found.overdue]),
        ("soon_title", [call(mod, "soon_line", s) for s in found.due_soon]),
        ("receipts_title", [call(mod, "receipt_line", r) for r in found.receipts]),
    )
    for title, lines in groups:
        if lines:
            texts = chunk_lines([call(mod, title, len(lines)), *lines])
            blocks += [section(text) for text in texts]
    return blocks


def _fit(blocks: Blocks) -> Blocks:
    """Within Slack's block limit: the heading, as many lines as fit, the footer."""
    if len(blocks) <= MAX_MESSAGE_BLOCKS:
        return blocks
    return [*blocks[: MAX_MESSAGE_BLOCKS - 1], blocks[-1]]
