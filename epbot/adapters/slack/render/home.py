"""What is open, at a glance: the App Home (your steps, your approvals, open incidents) and
``/incident list``."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from epbot.adapters.slack.mrkdwn import MAX_VIEW_BLOCKS, channel_link, escape
from epbot.adapters.slack.render.blocks import Blocks, chunk_lines, context, header, section
from epbot.adapters.slack.render.templates import (
    Helpers,
    RenderContext,
    call,
    current_stage,
    macros,
    next_due,
    render_text,
)
from epbot.domain.incident import ApprovalState, IncidentState, StepState


def home_view(
    *,
    steps: Sequence[tuple[str, str, StepState]],
    approvals: Sequence[tuple[str, ApprovalState]],
    incidents: Sequence[tuple[str, IncidentState]],
    ctx: RenderContext,
) -> dict[str, Any]:
    """App Home: your open steps, approvals waiting for you, open incidents.

    ``steps`` items are (incident number, step title, step); ``approvals`` and
    ``incidents`` items start with the incident number.
    """
    h = Helpers(None, ctx)
    mod = macros("home", h)
    states = dict(incidents)

    def step_title(number: str, approval: ApprovalState) -> str | None:
        state = states.get(number)
        if state is None or not approval.step_id:
            return None
        return Helpers(state, ctx).step_plain(approval.step_id)

    sections: list[tuple[str, list[str]]] = [
        (h.L["home.steps"], [call(mod, "step_line", n, t, s) for n, t, s in steps]),
        (
            h.L["home.approvals"],
            [call(mod, "approval_line", n, a, step_title(n, a)) for n, a in approvals],
        ),
        (
            h.L["home.incidents"],
            [
                call(mod, "incident_line", n, i, Helpers(i, ctx).playbook_title(), next_due(i))
                for n, i in incidents
            ],
        ),
    ]
    blocks: Blocks = [header(h.L["home.title"])]
    per_section = (MAX_VIEW_BLOCKS - 1) // len(sections) - 2
    for title, lines in sections:
        blocks += [{"type": "divider"}, section(f"*{title}*")]
        if not lines:
            blocks.append(context(h.L["home.none"]))
            continue
        chunks = chunk_lines(lines)
        if len(chunks) > per_section:
            chunks = chunks[: per_section - 1]
            blocks += [section(c) for c in chunks]
            blocks.append(context(h.L["home.more"]))
        else:
            blocks += [section(c) for c in chunks]
    return {"type": "home", "blocks": blocks[:MAX_VIEW_BLOCKS]}


def incident_list(
    incidents: Sequence[tuple[str, IncidentState, str | None]], ctx: RenderContext
) -> str:
    """``/incident list``: number, title, stage, next deadline, channel."""
    rows = []
    for number, state, channel in incidents:
        ih = Helpers(state, ctx)
        upcoming = next_due(state)
        rows.append(
            {
                "number": escape(number),
                "title": ih.playbook_title(),
                "drill": state.drill,
                "severity": ih.severity(state.severity),
                "stage": ih.stage(current_stage(state)),
                "status": ih.status(state.status),
                "due_step": ih.step(upcoming[0]) if upcoming else None,
                "due_time": ih.time(upcoming[1]) if upcoming else None,
                "countdown": ih.countdown(upcoming[1]) if upcoming else None,
                "link": channel_link(channel),
            }
        )
    return render_text("incident_list", Helpers(None, ctx), rows=rows)
