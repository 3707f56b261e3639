"""What is open, at a glance: the App Home (your steps, your approvals, open incidents) and
``/incident list``."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import Any, NamedTuple

from epbot.adapters.slack.mrkdwn import MAX_VIEW_BLOCKS
from epbot.adapters.slack.render.blocks import Blocks, chunk_lines, context, header, section
from epbot.adapters.slack.render.templates import (
    Helpers,
    RenderContext,
    call,
    macros,
    next_due,
    render_text,
)
from epbot.domain.incident import ApprovalState, IncidentState, StepState


class IncidentRef(NamedTuple):
    """An incident as a listing names it: number, state, channel and title (the latest
    report's), so every line can say which incident and link its channel. (A tuple, as
    the listings' callers had (number, state, channel) before.)"""

    number: str
    state: IncidentState
    channel_id: str | None = None
    title: str | None = None

    def helpers(self, ctx: RenderContext) -> Helpers:
        """Render helpers for this incident (its number, channel and title in the context)."""
        own = dataclasses.replace(
            ctx, number=self.number, channel_id=self.channel_id, title=self.title
        )
        return Helpers(self.state, own)


def home_view(
    *,
    steps: Sequence[tuple[IncidentRef, str, StepState]],
    approvals: Sequence[tuple[IncidentRef, ApprovalState]],
    incidents: Sequence[IncidentRef],
    ctx: RenderContext,
) -> dict[str, Any]:
    """App Home: your open steps, approvals waiting for you, open incidents.

    ``steps`` items are (incident, step title, step); every line names its incident with
    its channel's link.
    """
    h = Helpers(None, ctx)
    mod = macros("home", h)

    def approval_title(ref: IncidentRef, approval: ApprovalState) -> str | None:
        return ref.helpers(ctx).step_plain(approval.step_id) if approval.step_id else None

    def about(ref: IncidentRef) -> str:
        return ref.helpers(ctx).about()

    sections: list[tuple[str, list[str]]] = [
        (h.L["home.steps"], [call(mod, "step_line", about(i), t, s) for i, t, s in steps]),
        (
            h.L["home.approvals"],
            [call(mod, "approval_line", about(i), a, approval_title(i, a)) for i, a in approvals],
        ),
        (
            h.L["home.incidents"],
            [call(mod, "incident_line", about(i), next_due(i.state)) for i in incidents],
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


def incident_list(incidents: Sequence[IncidentRef], ctx: RenderContext) -> str:
    """``/incident list``: each incident named (number, title, severity, stage, channel
    link) with its next deadline."""
    rows = []
    for ref in incidents:
        ih = ref.helpers(ctx)
        upcoming = next_due(ref.state)
        rows.append(
            {
                "about": ih.about(),
                "due_step": ih.step(upcoming[0]) if upcoming else None,
                "due_time": ih.time(upcoming[1]) if upcoming else None,
                "countdown": ih.countdown(upcoming[1]) if upcoming else None,
            }
        )
    return render_text("incident_list", Helpers(None, ctx), rows=rows)
