"""Block Kit for the plan's reports (issue 15): the send-report modal, the report as its
recipients receive it (信息报告, 续报, 终报) and the progress-report prompt.

Texts come from ``templates/<locale>/report_message.j2`` and the labels; everything a
person typed is escaped there (``|mrkdwn``), so a report cannot ping or forge a link.
"""

from __future__ import annotations

from typing import Any

from epbot.adapters.slack import ids
from epbot.adapters.slack.render.blocks import (
    Blocks,
    actions,
    button,
    context,
    datetime_input,
    fallback,
    incident_ref,
    modal,
    option,
    section,
    select,
    text_input,
)
from epbot.adapters.slack.render.templates import Data, Helpers, RenderContext, call, macros
from epbot.domain.incident import IncidentState, ReportFields
from epbot.domain.matrix import Matrix

# Block ids of the progress fields (续报), beside the Art. 5.1 report's (``REPORT_FIELDS``).
PROGRESS_FIELDS = ("changes", "next_steps", "help")
_REQUIRED_PROGRESS = ("changes", "next_steps")


def _prefilled(name: str, label: str, value: str, *, multiline: bool = False) -> dict[str, Any]:
    block = text_input(name, label, multiline=multiline)
    if value:
        block["element"]["initial_value"] = value[: block["element"]["max_length"]]
    return block


def send_report_modal(
    state: IncidentState,
    report: ReportFields,
    matrix: Matrix,
    ctx: RenderContext,
    *,
    step_id: str | None,
    progress: bool,
    private_metadata: str,
) -> dict[str, Any]:
    """The Art. 5.1 report pre-filled from the latest version, editable; for a 续报 also
    what changed, next steps and help needed. Submitting sends it (``Callback.REPORT_SEND``)."""
    h = Helpers(state, ctx)
    L = h.L
    mod = macros("report_message", h, state=state, step_id=step_id, progress=progress)
    blocks: Blocks = [section(call(mod, "modal_intro"))]
    if progress:
        blocks += [
            text_input("changes", L["field.changes"], multiline=True),
            text_input("next_steps", L["field.next_steps"], multiline=True),
            {**text_input("help", L["field.help"], multiline=True), "optional": True},
        ]
    blocks += [
        _prefilled("title", L["field.title"], report.title),
        datetime_input("occurred_at", L["field.occurred_at"], int(report.occurred_at.timestamp())),
        _prefilled("place", L["field.place"], report.place),
        _prefilled("nature", L["field.nature"], report.nature),
        _prefilled("scope", L["field.scope"], report.scope),
        _prefilled("trend", L["field.trend"], report.trend),
        _prefilled("measures", L["field.measures"], report.measures, multiline=True),
        select(
            "unit",
            L["field.unit"],
            [option(u.name.get(ctx.lang), u.id) for u in matrix.units],
            initial=report.unit_id if any(u.id == report.unit_id for u in matrix.units) else None,
            placeholder=L["modal.choose"],
        ),
        _prefilled("contact_phone", L["field.contact_phone"], report.contact_phone),
    ]
    return modal(
        ids.Callback.REPORT_SEND.value,
        title=L["modal.report.progress"] if progress else L["modal.report.send"],
        submit=L["modal.send"],
        close=L["modal.cancel"],
        private_metadata=private_metadata,
        blocks=blocks,
    )


def read_progress(values: dict[str, Any]) -> dict[str, str] | None:
    """The 续报 fields of a submitted modal, or None when it had none."""
    from epbot.adapters.slack.interactions import field_value

    if not any(name in values for name in PROGRESS_FIELDS):
        return None
    return {name: str(field_value(values, name) or "").strip() for name in PROGRESS_FIELDS}


def missing_progress(progress: dict[str, str] | None) -> list[str]:
    """Block ids of required 续报 fields left empty."""
    if progress is None:
        return []
    return [name for name in _REQUIRED_PROGRESS if not progress.get(name)]


def report_message(
    state: IncidentState,
    event: dict[str, Any],
    ctx: RenderContext,
    *,
    channel_link: str | None,
) -> tuple[str, Blocks]:
    """A delivered report (``report_sent``) or final report (``final_report``) as its
    recipients see it outside the incident channel, linking the channel."""
    data = Data(event.get("data") or {})
    h = Helpers(state, ctx)
    mod = macros(
        "report_message",
        h,
        state=state,
        d=data,
        report=Data(data.get("report") or {}),
        progress=Data(data.get("progress") or {}) if data.get("progress") else None,
        actor=event.get("actor"),
        at=event.get("at"),
        link=channel_link,
    )
    blocks: Blocks = [section(call(mod, "heading"))]
    if event.get("kind") == "final_report":
        blocks.append(section(call(mod, "final_body")))
    else:
        if data.get("progress"):
            blocks.append(section(call(mod, "progress_body")))
        blocks.append(section(call(mod, "report_body")))
    blocks.append(context(call(mod, "footer")))
    return fallback(call(mod, "fallback")), blocks


def progress_offer(ctx: RenderContext, incident_id: int) -> tuple[str, Blocks]:
    """The reply to ``/incident update``: send it upward too, as a 续报?"""
    L = Helpers(None, ctx).L
    value = ids.button_value(incident_id)
    send = button(L["btn.progress"], ids.Action.REPORT_PROGRESS, value)
    return L["report.offer"], [section(L["report.offer"]), actions([send])]


def progress_prompt(
    state: IncidentState, event: dict[str, Any], ctx: RenderContext
) -> tuple[str, Blocks]:
    """The reminder to the commander to send a 续报, with the button that opens the form."""
    h = Helpers(state, ctx)
    mod = macros("report_message", h, state=state, d=Data(event.get("data") or {}))
    value = ids.button_value(incident_ref(state))
    send = button(h.L["btn.progress"], ids.Action.REPORT_PROGRESS, value, style="primary")
    blocks: Blocks = [section(call(mod, "prompt")), actions([send])]
    return fallback(call(mod, "prompt_fallback")), blocks
