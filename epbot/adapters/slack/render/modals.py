"""The modals: the Art. 5.1 report form, a reason (rejection, escalation), a reassignment."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from epbot.adapters.slack import ids
from epbot.adapters.slack.mrkdwn import escape
from epbot.adapters.slack.render.blocks import (
    Blocks,
    context,
    datetime_input,
    input_block,
    modal,
    option,
    section,
    select,
    text_input,
)
from epbot.adapters.slack.render.templates import RenderContext, labels
from epbot.domain.matrix import Matrix
from epbot.domain.playbook import SEVERITY_NAMES, Playbook, Severity

# The report modal's inputs (Art. 5.1). Each name is both the input's ``block_id`` and its
# element's ``action_id``: read ``view["state"]["values"][name][name]``. ``playbook`` is only
# present when the modal was opened without a type. Values: static selects ->
# ``selected_option.value`` (playbook id, unit id, severity "I".."IV"); ``occurred_at`` ->
# ``selected_date_time`` (unix seconds); the rest -> ``value``.
REPORT_FIELDS: tuple[str, ...] = (
    "playbook",
    "title",
    "occurred_at",
    "place",
    "nature",
    "scope",
    "trend",
    "measures",
    "unit",
    "contact_phone",
    "severity",
)

# The reason modal's single input: block_id and action_id; ``...["reason"]["reason"]["value"]``.
REASON_FIELD = "reason"

ASSIGNEE_FIELD = "assignee"


def report_modal(
    playbooks: Sequence[Playbook],
    matrix: Matrix,
    ctx: RenderContext,
    *,
    playbook_id: str | None,
    drill: bool,
    private_metadata: str,
) -> dict[str, Any]:
    """The Art. 5.1 report form; block ids in ``REPORT_FIELDS``."""
    L = labels(ctx.lang)
    lang = ctx.lang
    chosen = next((p for p in playbooks if p.id == playbook_id), None)
    blocks: Blocks = []
    if drill:
        blocks.append(context(L["modal.drill_note"]))
    if chosen is not None:
        blocks.append(section(f"*{escape(chosen.title.get(lang))}*"))
    else:
        blocks.append(
            select(
                "playbook",
                L["field.playbook"],
                [option(p.title.get(lang), p.id) for p in playbooks],
                placeholder=L["modal.choose"],
            )
        )
    blocks += [
        text_input("title", L["field.title"], placeholder=L["hint.title"]),
        datetime_input("occurred_at", L["field.occurred_at"], int(ctx.now.timestamp())),
        text_input("place", L["field.place"], placeholder=L["hint.place"]),
        text_input("nature", L["field.nature"], placeholder=L["hint.nature"]),
        text_input("scope", L["field.scope"], placeholder=L["hint.scope"]),
        text_input("trend", L["field.trend"], placeholder=L["hint.trend"]),
        text_input("measures", L["field.measures"], multiline=True),
        select(
            "unit",
            L["field.unit"],
            [option(u.name.get(lang), u.id) for u in matrix.units],
            placeholder=L["modal.choose"],
        ),
        text_input("contact_phone", L["field.contact_phone"]),
        select(
            "severity",
            L["field.severity"],
            [option(f"{s.value} {SEVERITY_NAMES[s].get(lang)}", s.value) for s in Severity],
            initial=chosen.default_severity.value if chosen else None,
            placeholder=L["modal.choose"],
        ),
    ]
    return modal(
        ids.Callback.REPORT.value,
        title=L["modal.drill_title"] if drill else L["modal.report_title"],
        submit=L["modal.submit"],
        close=L["modal.cancel"],
        private_metadata=private_metadata,
        blocks=blocks,
    )


def reason_modal(
    callback_id: str, ctx: RenderContext, *, title: str, private_metadata: str
) -> dict[str, Any]:
    """A modal asking for a reason (a rejection, an escalation); input ``REASON_FIELD``."""
    L = labels(ctx.lang)
    return modal(
        callback_id,
        title=title,
        # What the button does (跳过, 驳回 ...), not the report form's 报告.
        submit=L.get(f"modal.{callback_id}.submit", L["modal.save"]),
        close=L["modal.cancel"],
        private_metadata=private_metadata,
        blocks=[
            context(escape(ctx.number)),
            text_input(REASON_FIELD, L["field.reason"], multiline=True),
        ],
    )


def reassign_modal(
    ctx: RenderContext, *, step_title: str, initial_user: str | None, private_metadata: str
) -> dict[str, Any]:
    """A user picker for a step's new assignee; input ``ASSIGNEE_FIELD`` (``selected_user``)."""
    L = labels(ctx.lang)
    element: dict[str, Any] = {"type": "users_select", "action_id": ASSIGNEE_FIELD}
    if initial_user:
        element["initial_user"] = initial_user
    return modal(
        ids.Callback.REASSIGN.value,
        title=L["modal.step.reassign_to"],
        submit=L["modal.save"],
        close=L["modal.cancel"],
        private_metadata=private_metadata,
        blocks=[
            context(escape(ctx.number)),
            section(f"*{escape(step_title)}*"),
            input_block(ASSIGNEE_FIELD, L["field.assignee"], element),
        ],
    )
