"""Names: the incident channel's name and topic, and which playbook a typed name means
(``/incident help`` lists them, ``/incident <unknown>`` suggests the closest)."""

from __future__ import annotations

import difflib
import re
from collections.abc import Sequence
from datetime import date

from epbot.adapters.slack.mrkdwn import truncate
from epbot.adapters.slack.render.templates import (
    Helpers,
    RenderContext,
    current_stage,
    render_text,
)
from epbot.domain.incident import IncidentState
from epbot.domain.playbook import Playbook

_CHANNEL_BAD = re.compile(r"[^a-z0-9_-]+")


def channel_name(
    number: str, playbook_id: str, declared_local_date: date, seq: int, drill: bool
) -> str:
    """``inc-<yyyymmdd>-<type>-<n>`` (``drill-...``): lowercase a-z0-9-_, at most 80 chars.

    ``number`` is not part of the name (it is in the topic); it is accepted so callers
    can pass everything they know.
    """
    del number
    prefix = "drill" if drill else "inc"
    kind = _CHANNEL_BAD.sub("-", playbook_id.lower()).strip("-_")
    kind = re.sub(r"-{2,}", "-", kind) or "incident"
    head = f"{prefix}-{declared_local_date:%Y%m%d}-"
    tail = f"-{max(seq, 0)}"
    kind = kind[: 80 - len(head) - len(tail)].rstrip("-_") or "incident"
    return (head + kind + tail)[:80]


def channel_topic(state: IncidentState, ctx: RenderContext) -> str:
    """The incident channel's topic (Slack keeps 250 characters)."""
    h = Helpers(state, ctx)
    text = render_text("channel_topic", h, state=state, stage_id=current_stage(state))
    return truncate(" ".join(text.split()), 250)


def help_text(playbooks: Sequence[Playbook], ctx: RenderContext) -> str:
    """``/incident help``: the commands and every playbook with its aliases."""
    h = Helpers(None, ctx)
    return render_text("help", h, playbooks=playbooks, lang=ctx.lang)


def _closest(name: str, playbooks: Sequence[Playbook]) -> Playbook | None:
    candidates: dict[str, Playbook] = {}
    for p in playbooks:
        for key in (*p.names, p.title.zh_CN, p.title.en):
            candidates.setdefault(key.casefold(), p)
    wanted = name.strip().casefold()
    for key, p in candidates.items():  # a substring is a better hint than edit distance
        if wanted and len(wanted) >= 2 and (wanted in key or key in wanted):
            return p
    found = difflib.get_close_matches(wanted, list(candidates), n=1, cutoff=0.5)
    return candidates[found[0]] if found else None


def unknown_type_text(name: str, playbooks: Sequence[Playbook], ctx: RenderContext) -> str:
    """Reply to ``/incident <unknown>``: the closest playbook and the list."""
    h = Helpers(None, ctx)
    return render_text(
        "unknown_type",
        h,
        name=name,
        closest=_closest(name, playbooks),
        playbooks=playbooks,
        lang=ctx.lang,
    )
