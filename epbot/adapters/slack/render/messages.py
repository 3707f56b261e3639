"""The incident's messages: the pinned card, a page's DM, an approval request, the thread
lines and the notice broadcast to the units' channels."""

from __future__ import annotations

from typing import Any

from epbot.adapters.slack import ids
from epbot.adapters.slack.mrkdwn import MAX_SECTION_TEXT, channel_link, truncate
from epbot.adapters.slack.render.blocks import (
    Blocks,
    actions,
    button,
    confirm_dialog,
    context,
    fallback,
    header,
    incident_ref,
    plain,
    section,
)
from epbot.adapters.slack.render.templates import (
    Data,
    Helpers,
    RenderContext,
    call,
    current_stage,
    event_parts,
    macros,
    render_text,
)
from epbot.domain.incident import (
    OPEN_STATUSES,
    ApprovalState,
    ApprovalStatus,
    IncidentState,
    PageState,
    PageStatus,
    ReportFields,
    Status,
    page_attempt,
    page_group,
    page_status,
    upcoming_deadline,
)
from epbot.domain.incident.paging import role_answer

# --- the incident card --------------------------------------------------------------------


def incident_card(
    state: IncidentState, report: ReportFields, ctx: RenderContext
) -> tuple[str, Blocks]:
    """The incident's main message: header, the Art. 5.1 report, severity, stage, deadline."""
    h = Helpers(state, ctx)
    upcoming = upcoming_deadline(state)
    mod = macros(
        "incident_card",
        h,
        state=state,
        report=report,
        stage_id=current_stage(state),
        upcoming=upcoming,
    )
    blocks: Blocks = [
        header(call(mod, "header_plain")),
        section(call(mod, "report_text")),
        section(call(mod, "status_text")),
    ]
    if state.drill:
        blocks.insert(1, context(call(mod, "drill_note")))
    roster = call(mod, "roster")
    if roster:
        blocks.append(context(roster))
    buttons: list[dict[str, Any]] = []
    value = ids.button_value(incident_ref(state))
    if state.status in (Status.REPORTED, Status.INITIAL_HANDLING):
        buttons.append(button(h.L["btn.escalate"], ids.Action.ESCALATION_REQUEST, value))
    if state.status in OPEN_STATUSES:
        confirm = confirm_dialog(h.L, "resolve")
        buttons.append(
            button(h.L["btn.resolve"], ids.Action.INCIDENT_RESOLVE, value, confirm=confirm)
        )
    if buttons:
        blocks.append(actions(buttons, block_id="incident_card_actions"))
    return fallback(call(mod, "fallback")), blocks


# --- pages and approvals ------------------------------------------------------------------


def page_message(
    state: IncidentState, page: PageState, ctx: RenderContext, *, channel_link: str | None
) -> tuple[str, Blocks]:
    """The DM to a paged person: why, which role, which incident, where. One DM for the
    pages sent to them at one moment (``page_group``), each with its note by
    ``page_status``: acknowledged (by whom, when), timed out (who was paged next), for
    information (the role had answered already), or its Acknowledge button while it waits."""
    h = Helpers(state, ctx)
    pages = page_group(state, page) or [page]
    mod = macros(
        "page_message",
        h,
        state=state,
        page=pages[0],
        pages=pages,
        attempt=page_attempt(state, pages[0]),
        link=_link(channel_link, ctx.channel_id),
    )
    blocks: Blocks = [section(call(mod, "body"))]
    buttons: list[dict[str, Any]] = []
    for each in pages:
        note = _page_note(state, each, mod)
        if note:
            blocks.append(context(note))
        elif state.is_open:  # a page ends with its incident (误报, resolved): no button then
            text = h.L["btn.ack"] if len(pages) == 1 else _ack_as(h, each.role)
            value = ids.button_value(incident_ref(state), each.key)
            buttons.append(button(text, ids.Action.INCIDENT_ACK, value, style="primary"))
    if buttons:
        blocks.append(actions(buttons, block_id="page_actions"))
    return fallback(call(mod, "fallback")), blocks


def _ack_as(h: Helpers, role_id: str) -> str:
    return h.L["btn.ack_as"].replace("{role}", h.role_plain(role_id))


def _page_note(state: IncidentState, page: PageState, mod: Any) -> str | None:
    """The note that replaces the page's button, or None while it waits for an answer."""
    match page_status(state, page):
        case PageStatus.ACKNOWLEDGED:
            return call(mod, "acked_note", page, page)
        case PageStatus.INFORMATION:
            return call(mod, "information_note", page, role_answer(state, page.role))
        case PageStatus.TIMED_OUT:
            return call(mod, "timed_out_note", page, _paged_next(state, page))
    answer = role_answer(state, page.role)  # another member answered the role meanwhile
    return call(mod, "acked_note", page, answer) if answer is not None else None


def _paged_next(state: IncidentState, page: PageState) -> str | None:
    """Who the role's chain paged after ``page`` timed out."""
    after = page.timed_out_at
    later = [
        p
        for p in state.pages
        if p.role == page.role and p.person != page.person and after and p.sent_at >= after
    ]
    return min(later, key=lambda p: p.sent_at).person if later else None


def _link(given: str | None, channel_id: str | None) -> str | None:
    return channel_link(given) or channel_link(channel_id)


def approval_message(
    state: IncidentState, approval: ApprovalState, ctx: RenderContext
) -> tuple[str, Blocks]:
    """An approval request with approve / reject buttons; once decided, the decision."""
    h = Helpers(state, ctx)
    mod = macros("approval_message", h, state=state, approval=approval)
    blocks: Blocks = [section(call(mod, "body"))]
    if approval.status is ApprovalStatus.PENDING and state.is_open:
        value = ids.button_value(incident_ref(state), approval.key)
        confirm = {
            "title": plain(h.L["confirm.title"], 100),
            "text": {"type": "mrkdwn", "text": truncate(call(mod, "confirm_text"), 300)},
            "confirm": plain(h.L["confirm.yes"], 30),
            "deny": plain(h.L["confirm.no"], 30),
        }
        approve = button(
            h.L["btn.approve"],
            ids.Action.APPROVAL_APPROVE,
            value,
            style="primary",
            confirm=confirm,
        )
        reject = button(h.L["btn.reject"], ids.Action.APPROVAL_REJECT, value, style="danger")
        blocks.append(actions([approve, reject], block_id="approval_actions"))
    else:
        blocks.append(context(call(mod, "decision")))
    return fallback(call(mod, "fallback")), blocks


# --- thread lines and notices -------------------------------------------------------------


def event_text(state: IncidentState, event: dict[str, Any], ctx: RenderContext) -> str | None:
    """A one-line thread reply for an outbox event, or None when it needs none."""
    kind, actor, at, data = event_parts(event)
    h = Helpers(state, ctx)
    text = render_text(
        "event",
        h,
        state=state,
        kind=kind,
        actor=actor,
        at=at,
        data=Data(data),
        system="epbot",
        chain=event.get("chain"),  # the audit chain's head at this event (stage changes)
    )
    return truncate(text, MAX_SECTION_TEXT) if text else None


def confirmation_text(
    state: IncidentState, event: dict[str, Any], ctx: RenderContext
) -> str | None:
    """The thread line of what a person asked for (a snooze, "I'm on it"), for their DM:
    naming the incident, since a DM stands outside its channel."""
    line = event_text(state, event, ctx)
    return truncate(f"{line}\n{Helpers(state, ctx).about()}", MAX_SECTION_TEXT) if line else None


def broadcast_text(state: IncidentState, event: dict[str, Any], ctx: RenderContext) -> str:
    """The notice posted to each unit's channel (e.g. Art. 7.1 pause uploads)."""
    _, actor, at, data = event_parts(event)
    h = Helpers(state, ctx)
    message = data.get("message_en" if ctx.lang == "en" else "message_zh") or ""
    return render_text("broadcast", h, state=state, message=message, actor=actor, at=at)
