"""Block Kit and mrkdwn rendering of incidents, in zh-CN and en.

Every user-facing word lives in ``epbot/adapters/templates/<locale>/*.j2``; this module
chooses the template, lays out the blocks and keeps to Slack's limits. Templates run with
autoescape off (mrkdwn is not HTML), so every value a person typed goes through the
``mrkdwn`` filter; the helper functions given to templates (``role``, ``step``, ``m`` ...)
already return mrkdwn-safe text.
"""

from __future__ import annotations

import difflib
import functools
import math
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from jinja2 import Environment, PackageLoader, StrictUndefined, Template

from epbot.adapters.slack import ids
from epbot.adapters.slack.mrkdwn import (
    MAX_ACTIONS,
    MAX_BUTTON_TEXT,
    MAX_HEADER_TEXT,
    MAX_MESSAGE_BLOCKS,
    MAX_OPTIONS,
    MAX_SECTION_TEXT,
    MAX_VIEW_BLOCKS,
    MAX_VIEW_TITLE,
    channel_link,
    default_mention,
    escape,
    truncate,
)
from epbot.domain.anchor import anchor_of_events
from epbot.domain.incident import (
    OPEN_STATUSES,
    ApprovalState,
    ApprovalStatus,
    IncidentState,
    PageState,
    ReportFields,
    Status,
    StepState,
    StepStatus,
    upcoming_deadline,
)
from epbot.domain.matrix import Matrix
from epbot.domain.playbook import SEVERITY_NAMES, STAGE_ORDER, Playbook, Severity, StageId, StepKind
from epbot.domain.reports import scorecard

__all__ = [
    "ASSIGNEE_FIELD",
    "REASON_FIELD",
    "REPORT_FIELDS",
    "RenderContext",
    "approval_message",
    "broadcast_text",
    "channel_name",
    "channel_topic",
    "closing_report",
    "closing_report_message",
    "closing_summary",
    "default_mention",
    "escape",
    "event_text",
    "help_text",
    "home_view",
    "incident_card",
    "incident_list",
    "page_message",
    "reason_modal",
    "reassign_modal",
    "report_modal",
    "stage_checklist",
    "unknown_type_text",
]

Blocks = list[dict[str, Any]]

LOCALES = ("zh-CN", "en")

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


@dataclass(frozen=True)
class RenderContext:
    locale: str  # "zh-CN" or "en"
    tz: ZoneInfo  # times shown in this zone
    now: datetime  # aware UTC, for countdowns
    number: str  # "2026-0007" or "DRILL-2026-0001"
    channel_id: str | None = None
    mention: Callable[[str], str] = default_mention  # person ref -> "<@U123>"

    @property
    def lang(self) -> str:
        """The template directory: ``en`` for any English locale, else ``zh-CN``."""
        return "en" if self.locale.lower().startswith("en") else "zh-CN"


# --- templates ----------------------------------------------------------------------------


def _mrkdwn_filter(value: Any) -> str:
    return escape("" if value is None else str(value))


@functools.cache
def _env() -> Environment:
    env = Environment(
        loader=PackageLoader("epbot", "adapters/templates"),
        undefined=StrictUndefined,
        autoescape=False,  # mrkdwn, not HTML: the ``mrkdwn`` filter escapes user values
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=False,
    )
    env.filters["mrkdwn"] = _mrkdwn_filter
    return env


def _template(lang: str, name: str) -> Template:
    return _env().get_template(f"{lang}/{name}.j2")


@functools.cache
def _labels(lang: str) -> dict[str, str]:
    labels: dict[str, str] = _template(lang, "labels").module.labels  # type: ignore[attr-defined]
    return labels


def label(locale: str, key: str) -> str:
    """A short text from the locale's labels template (``modal.approval.reject_reason``...)."""
    return _labels("en" if locale.lower().startswith("en") else "zh-CN")[key]


def template_names(lang: str) -> list[str]:
    """The template files of one locale (for tests: both locales must have the same)."""
    prefix = f"{lang}/"
    return sorted(n[len(prefix) :] for n in _env().list_templates() if n.startswith(prefix))


class _Helpers:
    """What templates may call; every function returns mrkdwn-safe text."""

    def __init__(self, state: IncidentState | None, ctx: RenderContext) -> None:
        self.state, self.ctx = state, ctx
        self.L = _labels(ctx.lang)

    def vars(self) -> dict[str, Any]:
        return {
            "L": self.L,
            "ctx": self.ctx,
            "number": escape(self.ctx.number),
            "t": self.time,
            "countdown": self.countdown,
            "dur": self.duration,
            "m": self.mention,
            "role": self.role,
            "step": self.step,
            "stage": self.stage,
            "unit": self.unit,
            "sev": self.severity,
            "status": self.status,
            "pb": self.playbook_title,
            "dt": _as_datetime,
            "phone": self.phone,
            "person_name": self.name,
        }

    def time(self, value: datetime | str | None) -> str:
        at = _as_datetime(value)
        return "—" if at is None else at.astimezone(self.ctx.tz).strftime("%m-%d %H:%M")

    def duration(self, seconds: float | None) -> str:
        if seconds is None:
            return "—"
        seconds = max(0, round(seconds))
        if seconds < 60:
            return self.L["seconds"].format(n=seconds)
        minutes = math.ceil(seconds / 60)
        if minutes < 60:
            return self.L["minutes"].format(n=minutes)
        hours, minutes = divmod(minutes, 60)
        if minutes == 0:
            return self.L["hours"].format(n=hours)
        return self.L["hours_minutes"].format(h=hours, n=minutes)

    def countdown(self, due: datetime | str | None) -> str:
        at = _as_datetime(due)
        if at is None:
            return ""
        delta = (at - self.ctx.now).total_seconds()
        whole = max(60.0, abs(delta))  # "due in 1 min", never "due in 0 s"
        if delta >= 0:
            return self.L["due_in"].format(d=self.duration(whole))
        return self.L["overdue_by"].format(d=self.duration(whole))

    def mention(self, ref: str | None) -> str:
        return "—" if not ref else self.ctx.mention(ref)

    def name(self, ref: str | None) -> str:
        """A person's name from the matrix's directory, for places that do not render
        mentions (a channel topic); the mention when the directory has no name."""
        if not ref:
            return "—"
        known = self.state.matrix.person(ref).name if self.state is not None else None
        return escape(known) if known else self.mention(ref)

    def phone(self, ref: str | None) -> str:
        """The person's phone from the matrix directory (Art. 5.1), or ""."""
        if not ref or self.state is None:
            return ""
        return escape(self.state.matrix.person(ref).phone or "")

    def role(self, role_id: str | None) -> str:
        return escape(self.role_plain(role_id))

    def role_plain(self, role_id: str | None) -> str:
        if not role_id:
            return "—"
        if self.state is None:
            return role_id
        try:
            return self.state.matrix.role(role_id).name.get(self.ctx.lang)
        except KeyError:
            return role_id

    def step(self, step_id: str | None) -> str:
        return escape(self.step_plain(step_id))

    def step_plain(self, step_id: str | None) -> str:
        if not step_id:
            return "—"
        if self.state is None:
            return step_id
        try:
            return self.state.playbook.step(step_id).title.get(self.ctx.lang)
        except KeyError:
            return step_id

    def stage(self, stage_id: str | StageId | None) -> str:
        if not stage_id:
            return "—"
        stage = None
        if self.state is not None:
            try:
                stage = self.state.playbook.stage(StageId(stage_id))
            except ValueError:
                stage = None
        if stage is not None and stage.title is not None:
            return escape(stage.title.get(self.ctx.lang))
        return escape(self.L.get(f"stage.{stage_id}", str(stage_id)))

    def unit(self, unit_id: str | None) -> str:
        if not unit_id:
            return "—"
        if self.state is None:
            return escape(unit_id)
        return escape(_unit_name(self.state.matrix, unit_id, self.ctx.lang))

    def severity(self, value: str | Severity | None) -> str:
        if value is None:
            return "—"
        try:
            sev = Severity(value)
        except ValueError:
            return escape(str(value))
        return f"{sev.value} {SEVERITY_NAMES[sev].get(self.ctx.lang)}"

    def status(self, value: str | Status | None) -> str:
        if value is None:
            return "—"
        return escape(self.L.get(f"status.{value}", str(value)))

    def playbook_title(self) -> str:
        return "" if self.state is None else escape(self.state.playbook.title.get(self.ctx.lang))


def _unit_name(matrix: Matrix, unit_id: str, lang: str) -> str:
    try:
        return matrix.unit(unit_id).name.get(lang)
    except KeyError:
        return unit_id


def _as_datetime(value: datetime | str | None) -> datetime | None:
    if value is None or isinstance(value, datetime):
        return value
    try:
        at = datetime.fromisoformat(str(value))
    except ValueError:
        return None
    return at if at.tzinfo is not None else at.replace(tzinfo=UTC)


def _render(template_name: str, helpers: _Helpers, **variables: Any) -> str:
    text = _template(helpers.ctx.lang, template_name).render(**helpers.vars(), **variables)
    return text.strip()


def _macros(template_name: str, helpers: _Helpers, **variables: Any) -> Any:
    """The template's macros, each returning a text (call ``str()`` on the result)."""
    return _template(helpers.ctx.lang, template_name).make_module({**helpers.vars(), **variables})


def _call(module: Any, macro: str, *args: Any) -> str:
    return str(getattr(module, macro)(*args)).strip()


# --- blocks -------------------------------------------------------------------------------


def _section(text: str, accessory: dict[str, Any] | None = None) -> dict[str, Any]:
    block: dict[str, Any] = {
        "type": "section",
        "text": {"type": "mrkdwn", "text": truncate(text, MAX_SECTION_TEXT) or " "},
    }
    if accessory is not None:
        block["accessory"] = accessory
    return block


def _header(text: str) -> dict[str, Any]:
    return {
        "type": "header",
        "text": {"type": "plain_text", "text": truncate(text, MAX_HEADER_TEXT), "emoji": True},
    }


def _context(text: str) -> dict[str, Any]:
    return {"type": "context", "elements": [{"type": "mrkdwn", "text": truncate(text, 3000)}]}


def _plain(text: str, limit: int) -> dict[str, Any]:
    return {"type": "plain_text", "text": truncate(text, limit), "emoji": True}


def _button(
    text: str,
    action: ids.Action,
    value: str,
    *,
    style: str | None = None,
    confirm: dict[str, Any] | None = None,
) -> dict[str, Any]:
    button: dict[str, Any] = {
        "type": "button",
        "text": _plain(text, MAX_BUTTON_TEXT),
        "action_id": action.value,
        "value": value,
    }
    if style:
        button["style"] = style
    if confirm:
        button["confirm"] = confirm
    return button


def _actions(elements: list[dict[str, Any]], block_id: str | None = None) -> dict[str, Any]:
    block: dict[str, Any] = {"type": "actions", "elements": elements[:MAX_ACTIONS]}
    if block_id:
        block["block_id"] = block_id
    return block


def _chunk_lines(lines: Sequence[str], limit: int = MAX_SECTION_TEXT) -> list[str]:
    """Join lines into texts of at most ``limit`` characters each."""
    chunks: list[str] = []
    current = ""
    for line in lines:
        line = truncate(line, limit)
        if current and len(current) + 1 + len(line) > limit:
            chunks.append(current)
            current = line
        else:
            current = f"{current}\n{line}" if current else line
    if current:
        chunks.append(current)
    return chunks


def _incident_ref(state: IncidentState) -> int:
    return state.id if state.id is not None else 0


def _fallback(text: str) -> str:
    return truncate(text, 3000)


# --- the incident card --------------------------------------------------------------------


def _current_stage(state: IncidentState) -> StageId | None:
    entered = [s for s in STAGE_ORDER if s in state.stages]
    return entered[-1] if entered else None


def incident_card(
    state: IncidentState, report: ReportFields, ctx: RenderContext
) -> tuple[str, Blocks]:
    """The incident's main message: header, the Art. 5.1 report, severity, stage, deadline."""
    h = _Helpers(state, ctx)
    upcoming = upcoming_deadline(state)
    mod = _macros(
        "incident_card",
        h,
        state=state,
        report=report,
        stage_id=_current_stage(state),
        upcoming=upcoming,
    )
    blocks: Blocks = [
        _header(_call(mod, "header_plain")),
        _section(_call(mod, "report_text")),
        _section(_call(mod, "status_text")),
    ]
    if state.drill:
        blocks.insert(1, _context(_call(mod, "drill_note")))
    roster = _call(mod, "roster")
    if roster:
        blocks.append(_context(roster))
    buttons: list[dict[str, Any]] = []
    value = ids.button_value(_incident_ref(state))
    if state.status in (Status.REPORTED, Status.INITIAL_HANDLING):
        buttons.append(_button(h.L["btn.escalate"], ids.Action.ESCALATION_REQUEST, value))
    if state.status in OPEN_STATUSES:
        confirm = _confirm(h.L, "resolve")
        buttons.append(
            _button(h.L["btn.resolve"], ids.Action.INCIDENT_RESOLVE, value, confirm=confirm)
        )
    if buttons:
        blocks.append(_actions(buttons, block_id="incident_card_actions"))
    return _fallback(_call(mod, "fallback")), blocks


# --- the stage checklist ------------------------------------------------------------------

_ICONS = {
    StepStatus.INACTIVE: ":white_circle:",
    StepStatus.PENDING: ":hourglass_flowing_sand:",
    StepStatus.OPEN: ":large_blue_circle:",
    StepStatus.AWAITING_APPROVAL: ":lock:",
    StepStatus.DONE: ":white_check_mark:",
    StepStatus.SKIPPED: ":fast_forward:",
    StepStatus.REJECTED: ":x:",
    StepStatus.NOT_APPLICABLE: ":heavy_minus_sign:",
}
_DONE_BUTTON_KINDS = (StepKind.TASK, StepKind.REPORT, StepKind.BROADCAST)


def _step_icon(step: StepState, now: datetime) -> str:
    if step.status is StepStatus.OPEN and step.due_at is not None and step.due_at < now:
        return ":red_circle:"
    return _ICONS[step.status]


def _step_button(state: IncidentState, step: StepState, labels: dict[str, str]) -> dict[str, Any]:
    value = ids.button_value(_incident_ref(state), step.step_id)
    if step.kind is StepKind.CHECKIN:
        return _button(labels["btn.checkin"], ids.Action.STEP_CHECKIN, value, style="primary")
    if step.kind is StepKind.REPORT and state.playbook.step(step.step_id).report_to:
        return _button(labels["btn.report"], ids.Action.STEP_REPORT, value, style="primary")
    if step.kind is StepKind.BROADCAST:
        # A unit-wide notice cannot be taken back: ask first, as approvals do.
        confirm = _confirm(labels, "broadcast")
        return _button(labels["btn.broadcast"], ids.Action.STEP_DONE, value, confirm=confirm)
    return _button(labels["btn.done"], ids.Action.STEP_DONE, value)


def _confirm(labels: dict[str, str], what: str) -> dict[str, Any]:
    """Slack's confirm dialog for a button whose effect cannot be undone."""
    return {
        "title": _plain(labels[f"confirm.{what}.title"], 100),
        "text": {"type": "plain_text", "text": truncate(labels[f"confirm.{what}.text"], 300)},
        "confirm": _plain(labels[f"confirm.{what}.yes"], 30),
        "deny": _plain(labels["confirm.no"], 30),
    }


def _step_actionable(step: StepState) -> bool:
    return step.status is StepStatus.OPEN and (
        step.kind in _DONE_BUTTON_KINDS or step.kind is StepKind.CHECKIN
    )


_MANAGEABLE = frozenset(
    {StepStatus.PENDING, StepStatus.OPEN, StepStatus.AWAITING_APPROVAL, StepStatus.REJECTED}
)


def _step_manageable(state: IncidentState, step: StepState) -> bool:
    """The commander may skip or reassign a started, unfinished step of an open incident."""
    return state.is_open and step.status in _MANAGEABLE


def _manage_buttons(
    state: IncidentState, step: StepState, labels: dict[str, str]
) -> list[dict[str, Any]]:
    value = ids.button_value(_incident_ref(state), step.step_id)
    if step.status is StepStatus.REJECTED:  # a refused gate: ask again, or another path
        return [
            _button(labels["btn.ask_again"], ids.Action.APPROVAL_ASK_AGAIN, value),
            _button(labels["btn.skip"], ids.Action.STEP_SKIP, value),
        ]
    return [
        _button(labels["btn.skip"], ids.Action.STEP_SKIP, value),
        _button(labels["btn.reassign"], ids.Action.STEP_REASSIGN, value),
    ]


def stage_checklist(
    state: IncidentState, stage_id: StageId, ctx: RenderContext
) -> tuple[str, Blocks]:
    """One stage's steps with status, owner, deadline and a done / on-site button."""
    h = _Helpers(state, ctx)
    stage = state.playbook.stage(stage_id)
    steps = [state.steps[s.id] for s in (stage.steps if stage else ()) if s.id in state.steps]
    mod = _macros("stage_checklist", h, state=state, stage_id=stage_id, steps=steps)
    head = _section(_call(mod, "heading"))
    lines = {s.step_id: f"{_step_icon(s, ctx.now)} {_call(mod, 'step_line', s)}" for s in steps}
    blocks: Blocks = [head]
    if not steps:
        blocks.append(_context(_call(mod, "empty")))
    elif 1 + len(steps) + sum(_step_manageable(state, s) for s in steps) <= MAX_MESSAGE_BLOCKS:
        for s in steps:
            accessory = _step_button(state, s, h.L) if _step_actionable(s) else None
            blocks.append(_section(lines[s.step_id], accessory))
            if _step_manageable(state, s):
                blocks.append(_actions(_manage_buttons(state, s, h.L), f"manage:{s.step_id}"))
    else:
        blocks += _compact_checklist(state, steps, lines, h)
    done = sum(s.finished for s in steps)
    return _fallback(_call(mod, "fallback", done, len(steps))), blocks


def _compact_checklist(
    state: IncidentState, steps: list[StepState], lines: dict[str, str], h: _Helpers
) -> Blocks:
    """Too many steps for one block each: steps as lines, buttons grouped in actions blocks."""
    # Done / on-site buttons first: when not everything fits, skip / reassign go first.
    primary = [(s, _step_button(state, s, h.L)) for s in steps if _step_actionable(s)]
    manage = [
        (s, b) for s in steps if _step_manageable(state, s) for b in _manage_buttons(state, s, h.L)
    ]
    buttons = []
    for s, button in primary + manage:
        title = f"{h.step_plain(s.step_id)} — {button['text']['text']}"
        button["text"] = _plain(title, MAX_BUTTON_TEXT)
        buttons.append(button)
    button_blocks = [
        _actions(buttons[i : i + MAX_ACTIONS]) for i in range(0, len(buttons), MAX_ACTIONS)
    ]
    sections = [_section(c) for c in _chunk_lines([lines[s.step_id] for s in steps])]
    room = MAX_MESSAGE_BLOCKS - 1 - len(button_blocks)
    if len(sections) > room:
        sections = sections[: max(room - 1, 0)] + [_context(h.L["more_steps"])]
    return sections + button_blocks[: MAX_MESSAGE_BLOCKS - 1 - len(sections)]


# --- pages and approvals ------------------------------------------------------------------


def page_message(
    state: IncidentState, page: PageState, ctx: RenderContext, *, channel_link: str | None
) -> tuple[str, Blocks]:
    """The DM to a paged person: why, which role, which incident, where; an ack button."""
    h = _Helpers(state, ctx)
    acked = next((p for p in state.pages if p.role == page.role and p.acked_at), None)
    if page.acked_at is not None:
        acked = page
    mod = _macros(
        "page_message",
        h,
        state=state,
        page=page,
        acked=acked,
        link=_link(channel_link, ctx.channel_id),
    )
    blocks: Blocks = [_section(_call(mod, "body"))]
    if acked is not None:
        blocks.append(_context(_call(mod, "acked_note")))
    elif state.is_open:  # a page ends with its incident (误报, resolved): no button then
        value = ids.button_value(_incident_ref(state), page.key)
        blocks.append(
            _actions(
                [_button(h.L["btn.ack"], ids.Action.INCIDENT_ACK, value, style="primary")],
                block_id="page_actions",
            )
        )
    return _fallback(_call(mod, "fallback")), blocks


def _link(given: str | None, channel_id: str | None) -> str | None:
    return channel_link(given) or channel_link(channel_id)


def approval_message(
    state: IncidentState, approval: ApprovalState, ctx: RenderContext
) -> tuple[str, Blocks]:
    """An approval request with approve / reject buttons; once decided, the decision."""
    h = _Helpers(state, ctx)
    mod = _macros("approval_message", h, state=state, approval=approval)
    blocks: Blocks = [_section(_call(mod, "body"))]
    if approval.status is ApprovalStatus.PENDING and state.is_open:
        value = ids.button_value(_incident_ref(state), approval.key)
        confirm = {
            "title": _plain(h.L["confirm.title"], 100),
            "text": {"type": "mrkdwn", "text": truncate(_call(mod, "confirm_text"), 300)},
            "confirm": _plain(h.L["confirm.yes"], 30),
            "deny": _plain(h.L["confirm.no"], 30),
        }
        approve = _button(
            h.L["btn.approve"],
            ids.Action.APPROVAL_APPROVE,
            value,
            style="primary",
            confirm=confirm,
        )
        reject = _button(h.L["btn.reject"], ids.Action.APPROVAL_REJECT, value, style="danger")
        blocks.append(_actions([approve, reject], block_id="approval_actions"))
    else:
        blocks.append(_context(_call(mod, "decision")))
    return _fallback(_call(mod, "fallback")), blocks


# --- thread lines and notices -------------------------------------------------------------


def _event_parts(event: dict[str, Any]) -> tuple[str, str, Any, dict[str, Any]]:
    data = event.get("data") or {}
    return str(event.get("kind", "")), str(event.get("actor") or ""), event.get("at"), data


def event_text(state: IncidentState, event: dict[str, Any], ctx: RenderContext) -> str | None:
    """A one-line thread reply for an outbox event, or None when it needs none."""
    kind, actor, at, data = _event_parts(event)
    h = _Helpers(state, ctx)
    text = _render(
        "event", h, state=state, kind=kind, actor=actor, at=at, data=_Data(data), system="epbot"
    )
    return truncate(text, MAX_SECTION_TEXT) if text else None


class _Data(dict[str, Any]):
    """Event data for templates: a missing key reads as None (old rows lack newer keys)."""

    def __missing__(self, key: str) -> None:
        return None

    def __getattr__(self, key: str) -> Any:
        return self[key]


def broadcast_text(state: IncidentState, event: dict[str, Any], ctx: RenderContext) -> str:
    """The notice posted to each unit's channel (e.g. Art. 7.1 pause uploads)."""
    _, actor, at, data = _event_parts(event)
    h = _Helpers(state, ctx)
    message = data.get("message_en" if ctx.lang == "en" else "message_zh") or ""
    return _render("broadcast", h, state=state, message=message, actor=actor, at=at)


# --- modals and home ----------------------------------------------------------------------


def _option(text: str, value: str) -> dict[str, Any]:
    return {"text": _plain(text, 75), "value": value}


def _text_input(
    name: str, label: str, *, placeholder: str | None = None, multiline: bool = False
) -> dict[str, Any]:
    element: dict[str, Any] = {
        "type": "plain_text_input",
        "action_id": name,
        "multiline": multiline,
        "max_length": 3000 if multiline else 500,
    }
    if placeholder:
        element["placeholder"] = _plain(placeholder, 150)
    return {"type": "input", "block_id": name, "label": _plain(label, 2000), "element": element}


def _select(
    name: str,
    label: str,
    options: list[dict[str, Any]],
    *,
    initial: str | None = None,
    placeholder: str,
) -> dict[str, Any]:
    options = options[:MAX_OPTIONS]
    element: dict[str, Any] = {
        "type": "static_select",
        "action_id": name,
        "options": options,
        "placeholder": _plain(placeholder, 150),
    }
    chosen = next((o for o in options if o["value"] == initial), None)
    if chosen is not None:
        element["initial_option"] = chosen
    return {"type": "input", "block_id": name, "label": _plain(label, 2000), "element": element}


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
    L = _labels(ctx.lang)
    lang = ctx.lang
    chosen = next((p for p in playbooks if p.id == playbook_id), None)
    blocks: Blocks = []
    if drill:
        blocks.append(_context(L["modal.drill_note"]))
    if chosen is not None:
        blocks.append(_section(f"*{escape(chosen.title.get(lang))}*"))
    else:
        blocks.append(
            _select(
                "playbook",
                L["field.playbook"],
                [_option(p.title.get(lang), p.id) for p in playbooks],
                placeholder=L["modal.choose"],
            )
        )
    blocks += [
        _text_input("title", L["field.title"], placeholder=L["hint.title"]),
        {
            "type": "input",
            "block_id": "occurred_at",
            "label": _plain(L["field.occurred_at"], 2000),
            "element": {
                "type": "datetimepicker",
                "action_id": "occurred_at",
                "initial_date_time": int(ctx.now.timestamp()),
            },
        },
        _text_input("place", L["field.place"], placeholder=L["hint.place"]),
        _text_input("nature", L["field.nature"], placeholder=L["hint.nature"]),
        _text_input("scope", L["field.scope"], placeholder=L["hint.scope"]),
        _text_input("trend", L["field.trend"], placeholder=L["hint.trend"]),
        _text_input("measures", L["field.measures"], multiline=True),
        _select(
            "unit",
            L["field.unit"],
            [_option(u.name.get(lang), u.id) for u in matrix.units],
            placeholder=L["modal.choose"],
        ),
        _text_input("contact_phone", L["field.contact_phone"]),
        _select(
            "severity",
            L["field.severity"],
            [_option(f"{s.value} {SEVERITY_NAMES[s].get(lang)}", s.value) for s in Severity],
            initial=chosen.default_severity.value if chosen else None,
            placeholder=L["modal.choose"],
        ),
    ]
    title = L["modal.drill_title"] if drill else L["modal.report_title"]
    return {
        "type": "modal",
        "callback_id": ids.Callback.REPORT.value,
        "title": _plain(title, MAX_VIEW_TITLE),
        "submit": _plain(L["modal.submit"], MAX_VIEW_TITLE),
        "close": _plain(L["modal.cancel"], MAX_VIEW_TITLE),
        "private_metadata": private_metadata,
        "blocks": blocks[:MAX_VIEW_BLOCKS],
    }


def reason_modal(
    callback_id: str, ctx: RenderContext, *, title: str, private_metadata: str
) -> dict[str, Any]:
    """A modal asking for a reason (a rejection, an escalation); input ``REASON_FIELD``."""
    L = _labels(ctx.lang)
    block = _text_input(REASON_FIELD, L["field.reason"], multiline=True)
    return {
        "type": "modal",
        "callback_id": callback_id,
        "title": _plain(title, MAX_VIEW_TITLE),
        # What the button does (跳过, 驳回 ...), not the report form's 报告.
        "submit": _plain(L.get(f"modal.{callback_id}.submit", L["modal.save"]), MAX_VIEW_TITLE),
        "close": _plain(L["modal.cancel"], MAX_VIEW_TITLE),
        "private_metadata": private_metadata,
        "blocks": [_context(escape(ctx.number)), block],
    }


ASSIGNEE_FIELD = "assignee"


def reassign_modal(
    ctx: RenderContext, *, step_title: str, initial_user: str | None, private_metadata: str
) -> dict[str, Any]:
    """A user picker for a step's new assignee; input ``ASSIGNEE_FIELD`` (``selected_user``)."""
    L = _labels(ctx.lang)
    element: dict[str, Any] = {"type": "users_select", "action_id": ASSIGNEE_FIELD}
    if initial_user:
        element["initial_user"] = initial_user
    return {
        "type": "modal",
        "callback_id": ids.Callback.REASSIGN.value,
        "title": _plain(L["modal.step.reassign_to"], MAX_VIEW_TITLE),
        "submit": _plain(L["modal.save"], MAX_VIEW_TITLE),
        "close": _plain(L["modal.cancel"], MAX_VIEW_TITLE),
        "private_metadata": private_metadata,
        "blocks": [
            _context(escape(ctx.number)),
            _section(f"*{escape(step_title)}*"),
            {
                "type": "input",
                "block_id": ASSIGNEE_FIELD,
                "label": _plain(L["field.assignee"], 2000),
                "element": element,
            },
        ],
    }


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
    h = _Helpers(None, ctx)
    mod = _macros("home", h)
    states = dict(incidents)

    def step_title(number: str, approval: ApprovalState) -> str | None:
        state = states.get(number)
        if state is None or not approval.step_id:
            return None
        return _Helpers(state, ctx).step_plain(approval.step_id)

    sections: list[tuple[str, list[str]]] = [
        (h.L["home.steps"], [_call(mod, "step_line", n, t, s) for n, t, s in steps]),
        (
            h.L["home.approvals"],
            [_call(mod, "approval_line", n, a, step_title(n, a)) for n, a in approvals],
        ),
        (
            h.L["home.incidents"],
            [
                _call(mod, "incident_line", n, i, _Helpers(i, ctx).playbook_title(), _next_due(i))
                for n, i in incidents
            ],
        ),
    ]
    blocks: Blocks = [_header(h.L["home.title"])]
    per_section = (MAX_VIEW_BLOCKS - 1) // len(sections) - 2
    for title, lines in sections:
        blocks += [{"type": "divider"}, _section(f"*{title}*")]
        if not lines:
            blocks.append(_context(h.L["home.none"]))
            continue
        chunks = _chunk_lines(lines)
        if len(chunks) > per_section:
            chunks = chunks[: per_section - 1]
            blocks += [_section(c) for c in chunks]
            blocks.append(_context(h.L["home.more"]))
        else:
            blocks += [_section(c) for c in chunks]
    return {"type": "home", "blocks": blocks[:MAX_VIEW_BLOCKS]}


def _next_due(state: IncidentState) -> tuple[str, datetime] | None:
    return upcoming_deadline(state) if state.is_open else None


# --- plain texts --------------------------------------------------------------------------


def incident_list(
    incidents: Sequence[tuple[str, IncidentState, str | None]], ctx: RenderContext
) -> str:
    """``/incident list``: number, title, stage, next deadline, channel."""
    rows = []
    for number, state, channel in incidents:
        ih = _Helpers(state, ctx)
        upcoming = _next_due(state)
        rows.append(
            {
                "number": escape(number),
                "title": ih.playbook_title(),
                "drill": state.drill,
                "severity": ih.severity(state.severity),
                "stage": ih.stage(_current_stage(state)),
                "status": ih.status(state.status),
                "due_step": ih.step(upcoming[0]) if upcoming else None,
                "due_time": ih.time(upcoming[1]) if upcoming else None,
                "countdown": ih.countdown(upcoming[1]) if upcoming else None,
                "link": channel_link(channel),
            }
        )
    return _render("incident_list", _Helpers(None, ctx), rows=rows)


def help_text(playbooks: Sequence[Playbook], ctx: RenderContext) -> str:
    """``/incident help``: the commands and every playbook with its aliases."""
    h = _Helpers(None, ctx)
    return _render("help", h, playbooks=playbooks, lang=ctx.lang)


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
    h = _Helpers(None, ctx)
    return _render(
        "unknown_type",
        h,
        name=name,
        closest=_closest(name, playbooks),
        playbooks=playbooks,
        lang=ctx.lang,
    )


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
    h = _Helpers(state, ctx)
    text = _render("channel_topic", h, state=state, stage_id=_current_stage(state))
    return truncate(" ".join(text.split()), 250)


def closing_report(
    state: IncidentState,
    report: ReportFields,
    timeline: Sequence[dict[str, Any]],
    ctx: RenderContext,
) -> str:
    """The closing report: summary, stage times, steps on time / late, approvals, pages."""
    h = _Helpers(state, ctx)
    events = [_event_parts(e) for e in timeline]
    resolved = next((d for k, _, _, d in reversed(events) if k == "resolved"), None)
    updates = sum(k == "update_posted" for k, _, _, _ in events)
    refused = sum(k == "refused" for k, _, _, _ in events)
    ended = state.resolved_at or state.cancelled_at or state.closed_at
    stages = [(s, state.stages[s]) for s in STAGE_ORDER if s in state.stages]
    steps = [state.steps[s.id] for _, s in state.playbook.iter_steps() if s.id in state.steps]
    return _render(
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
        anchor=_anchor(state, timeline, ctx),
        card=scorecard(state, ended or ctx.now) if state.drill else None,
    )


def _anchor(state: IncidentState, timeline: Sequence[dict[str, Any]], ctx: RenderContext) -> Any:
    """The audit chain's head and length, stated outside the table (issue 17)."""
    try:
        return anchor_of_events(ctx.number, _incident_ref(state), timeline)
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
    sections = [_section(c) for c in _chunk_lines(lines)]
    if len(sections) > MAX_MESSAGE_BLOCKS:
        sections = sections[: MAX_MESSAGE_BLOCKS - 1] + [_context(_labels(ctx.lang)["more_steps"])]
    return _fallback(lines[0] if lines else text), sections


def closing_summary(state: IncidentState, report: ReportFields, ctx: RenderContext) -> str:
    """One line for the announcement channel when an incident ends, with a channel link."""
    h = _Helpers(state, ctx)
    ended = state.resolved_at or state.cancelled_at or state.closed_at
    return _render(
        "closing_summary",
        h,
        state=state,
        report=report,
        elapsed=(ended - state.declared_at).total_seconds() if ended else None,
        link=channel_link(ctx.channel_id),
    )


def _on_time(step: StepState) -> bool:
    return step.due_at is None or step.done_at is None or step.done_at <= step.due_at
