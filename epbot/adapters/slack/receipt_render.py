"""Receipts (回执) of notices in Block Kit: the notice in a unit's channel names the unit's
responsible person (Art. 3) and carries ``broadcast.receipt``; the nudge; the card's line."""

from __future__ import annotations

from typing import Any

from epbot.adapters.slack import ids
from epbot.adapters.slack.render.blocks import (
    Blocks,
    actions,
    button,
    context,
    incident_ref,
    section,
)
from epbot.adapters.slack.render.messages import broadcast_text
from epbot.adapters.slack.render.templates import Data, Helpers, RenderContext, call, macros
from epbot.domain.incident import IncidentState, ReceiptState


def _receipt_of(state: IncidentState, step: str, channel: str) -> ReceiptState | None:
    return next((r for r in state.receipts if r.step_id == step and r.channel == channel), None)


def broadcast_message(
    state: IncidentState, event: dict[str, Any], ctx: RenderContext, channel: str
) -> tuple[str, Blocks | None]:
    """The notice for one unit's channel, with the receipt request when the step asks one."""
    text = broadcast_text(state, event, ctx)
    data = event.get("data") or {}
    receipt = _receipt_of(state, str(data.get("step")), channel)
    if receipt is None:
        return text, None
    h = Helpers(state, ctx)
    people = list(state.members(receipt.responsible_role or ""))
    mod = macros("receipt", h, state=state, receipt=receipt, people=people)
    blocks: Blocks = [section(text), section(call(mod, "ask"))]
    if receipt.confirmed_at is not None:
        blocks.append(context(call(mod, "confirmed")))
    elif state.status.value == "cancelled":
        blocks.append(context(call(mod, "ended")))
    else:
        value = ids.button_value(incident_ref(state), receipt.key)
        receipt_button = button(
            h.L["btn.receipt"], ids.Action.BROADCAST_RECEIPT, value, style="primary"
        )
        blocks.append(actions([receipt_button], block_id="receipt_actions"))
    return text, blocks


def nudge_text(state: IncidentState, event: dict[str, Any], ctx: RenderContext) -> str:
    """The reminder in the unit's channel when its receipt is late."""
    h = Helpers(state, ctx)
    mod = macros("receipt", h, state=state, d=Data(event.get("data") or {}))
    return call(mod, "nudge")
