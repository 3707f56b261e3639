"""The closing report (in the incident channel) and its one-line summary (in the
announcement channel), when an incident is resolved, closed or cancelled."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from epbot.adapters.slack.mrkdwn import MAX_MESSAGE_BLOCKS, channel_link
from epbot.adapters.slack.render.blocks import (
    Blocks,
    chunk_lines,
    context,
    fallback,
    incident_ref,
    section,
)
from epbot.adapters.slack.render.templates import (
    Helpers,
    RenderContext,
    event_parts,
    labels,
    render_text,
)
from epbot.domain.anchor import anchor_of_events
from epbot.domain.incident import (
    IncidentState,
    ReportFields,
    StepState,
    StepStatus,
    page_attempt,
    page_status,
)
from epbot.domain.playbook import STAGE_ORDER
from epbot.domain.reports import scorecard


def closing_report(
    state: IncidentState,
    report: ReportFields,
    timeline: Sequence[dict[str, Any]],
    ctx: RenderContext,
) -> str:
    """The closing report: summary, stage times, steps on time / late, approvals, pages."""
    h = Helpers(state, ctx)
    events = [event_parts(e) for e in timeline]
    resolved = next((d for k, _, _, d in reversed(events) if k == "resolved"), None)
    updates = sum(k == "update_posted" for k, _, _, _ in events)
    refused = sum(k == "refused" for k, _, _, _ in events)
    ended = state.resolved_at or state.cancelled_at or state.closed_at
    stages = [(s, state.stages[s]) for s in STAGE_ORDER if s in state.stages]
    steps = [state.steps[s.id] for _, s in state.playbook.iter_steps() if s.id in state.steps]
    return render_text(
        "closing_report",
        h,
        state=state,
        report=report,
        summary=(resolved or {}).get("summary"),
        updates=updates,
        refused=refused,
        ended=ended,
        elapsed=(ended - state.declared_at).total_seconds() if ended else None,
        stages=stages,
        steps=steps,
        on_time=[s for s in steps if s.status is StepStatus.DONE and _on_time(s)],
        late=[s for s in steps if s.status is StepStatus.DONE and not _on_time(s)],
        approvals=list(state.approvals.values()),
        pages=state.pages,
        page_status=lambda p: page_status(state, p).value,
        page_attempt=lambda p: page_attempt(state, p),
        anchor=_anchor(state, timeline, ctx),
        card=scorecard(state, ended or ctx.now) if state.drill else None,
    )


def _anchor(state: IncidentState, timeline: Sequence[dict[str, Any]], ctx: RenderContext) -> Any:
    """The audit chain's head and length, stated outside the table (issue 17)."""
    try:
        return anchor_of_events(ctx.number, incident_ref(state), timeline)
    except (KeyError, TypeError, ValueError):  # a partial timeline (tests): state nothing
        return None


def closing_report_message(
    state: IncidentState,
    report: ReportFields,
    timeline: Sequence[dict[str, Any]],
    ctx: RenderContext,
) -> tuple[str, Blocks]:
    """The closing report as a message: its heading as the fallback, the body in sections."""
    text = closing_report(state, report, timeline, ctx)
    lines = text.splitlines()
    sections = [section(c) for c in chunk_lines(lines)]
    if len(sections) > MAX_MESSAGE_BLOCKS:
        sections = sections[: MAX_MESSAGE_BLOCKS - 1] + [context(labels(ctx.lang)["more_steps"])]
    return fallback(lines[0] if lines else text), sections


def closing_summary(state: IncidentState, report: ReportFields, ctx: RenderContext) -> str:
    """One line for the announcement channel when an incident ends, with a channel link."""
    h = Helpers(state, ctx)
    ended = state.resolved_at or state.cancelled_at or state.closed_at
    return render_text(
        "closing_summary",
        h,
        state=state,
        report=report,
        elapsed=(ended - state.declared_at).total_seconds() if ended else None,
        link=channel_link(ctx.channel_id),
    )


def _on_time(step: StepState) -> bool:
    return step.due_at is None or step.done_at is None or step.done_at <= step.due_at
