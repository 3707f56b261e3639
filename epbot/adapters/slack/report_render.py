"""Block Kit for the plan's reports (issue 15): the send-report modal, the report as its
recipients receive it (信息报告, 续报, 终报) and the progress-report prompt.

Texts come from ``templates/<locale>/report_message.j2`` and the labels; everything a
person typed is escaped there (``|mrkdwn``), so a report cannot ping or forge a link.
"""

from __future__ import annotations

from typing import Any

from epbot.adapters.slack import ids
from epbot.adapters.slack.mrkdwn import MAX_VIEW_BLOCKS, MAX_VIEW_TITLE
from epbot.adapters.slack.render import (
    Blocks,
    RenderContext,
    _actions,
    _button,
    _call,
    _context,
    _Data,
    _fallback,
    _Helpers,
    _incident_ref,
    _macros,
    _option,
    _plain,
    _section,
    _select,
    _text_input,
)
from epbot.domain.incident import IncidentState, ReportFields
from epbot.domain.matrix import Matrix

# Block ids of the progress fields (续报), beside the Art. 5.1 report's (``REPORT_FIELDS``).
PROGRESS_FIELDS = ("changes", "next_steps", "help")
_REQUIRED_PROGRESS = ("changes", "next_steps")


def _prefilled(name: str, label: str, value: str, *, multiline: bool = False) -> dict[str, Any]:
    block = _text_input(name, label, multiline=multiline)
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
    h = _Helpers(state, ctx)
    L = h.L
    mod = _macros("report_message", h, state=state, step_id=step_id, progress=progress)
    blocks: Blocks = [_section(_call(mod, "modal_intro"))]
    if progress:
        blocks += [
            _text_input("changes", L["field.changes"], multiline=True),
            _text_input("next_steps", L["field.next_steps"], multiline=True),
            {**_text_input("help", L["field.help"], multiline=True), "optional": True},
        ]
    blocks += [
        _prefilled("title", L["field.title"], report.title),
        {
            "type": "input",
            "block_id": "occurred_at",
            "label": _plain(L["field.occurred_at"], 2000),
            "element": {
                "type": "datetimepicker",
                "action_id": "occurred_at",
                "initial_date_time": int(report.occurred_at.timestamp()),
            },
        },
        _prefilled("place", L["field.place"], report.place),
        _prefilled("nature", L["field.nature"], report.nature),
        _prefilled("scope", L["field.scope"], report.scope),
        _prefilled("trend", L["field.trend"], report.trend),
        _prefilled("measures", L["field.measures"], report.measures, multiline=True),
        _select(
            "unit",
            L["field.unit"],
            [_option(u.name.get(ctx.lang), u.id) for u in matrix.units],
            initial=report.unit_id if any(u.id == report.unit_id for u in matrix.units) else None,
            placeholder=L["modal.choose"],
        ),
        _prefilled("contact_phone", L["field.contact_phone"], report.contact_phone),
    ]
    title = L["modal.report.progress"] if progress else L["modal.report.send"]
    return {
        "type": "modal",
        "callback_id": ids.Callback.REPORT_SEND.value,
        "title": _plain(title, MAX_VIEW_TITLE),
        "submit": _plain(L["modal.send"], MAX_VIEW_TITLE),
        "close": _plain(L["modal.cancel"], MAX_VIEW_TITLE),
        "private_metadata": private_metadata,
        "blocks": blocks[:MAX_VIEW_BLOCKS],
    }


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
    data = _Data(event.get("data") or {})
    h = _Helpers(state, ctx)
    mod = _macros(
        "report_message",
        h,
        state=state,
        d=data,
        report=_Data(data.get("report") or {}),
        progress=_Data(data.get("progress") or {}) if data.get("progress") else None,
        actor=event.get("actor"),
        at=event.get("at"),
        link=channel_link,
    )
    blocks: Blocks = [_section(_call(mod, "heading"))]
    if event.get("kind") == "final_report":
        blocks.append(_section(_call(mod, "final_body")))
    else:
        if data.get("progress"):
            blocks.append(_section(_call(mod, "progress_body")))
        blocks.append(_section(_call(mod, "report_body")))
    blocks.append(_context(_call(mod, "footer")))
    return _fallback(_call(mod, "fallback")), blocks


def progress_offer(ctx: RenderContext, incident_id: int) -> tuple[str, Blocks]:
    """The reply to ``/incident update``: send it upward too, as a 续报?"""
    L = _Helpers(None, ctx).L
    value = ids.button_value(incident_id)
    button = _button(L["btn.progress"], ids.Action.REPORT_PROGRESS, value)
    return L["report.offer"], [_section(L["report.offer"]), _actions([button])]


def progress_prompt(
    state: IncidentState, event: dict[str, Any], ctx: RenderContext
) -> tuple[str, Blocks]:
    """The reminder to the commander to send a 续报, with the button that opens the form."""
    h = _Helpers(state, ctx)
    mod = _macros("report_message", h, state=state, d=_Data(event.get("data") or {}))
    value = ids.button_value(_incident_ref(state))
    button = _button(h.L["btn.progress"], ids.Action.REPORT_PROGRESS, value, style="primary")
    blocks: Blocks = [_section(_call(mod, "prompt")), _actions([button])]
    return _fallback(_call(mod, "prompt_fallback")), blocks
