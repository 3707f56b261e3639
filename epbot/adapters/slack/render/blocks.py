"""Block Kit building blocks, each kept within Slack's limits (texts truncated, lists cut)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from epbot.adapters.slack import ids
from epbot.adapters.slack.mrkdwn import (
    MAX_ACTIONS,
    MAX_BUTTON_TEXT,
    MAX_HEADER_TEXT,
    MAX_OPTIONS,
    MAX_SECTION_TEXT,
    MAX_VIEW_BLOCKS,
    MAX_VIEW_TITLE,
    truncate,
)
from epbot.domain.incident import IncidentState

Blocks = list[dict[str, Any]]


def section(text: str, accessory: dict[str, Any] | None = None) -> dict[str, Any]:
    block: dict[str, Any] = {
        "type": "section",
        "text": {"type": "mrkdwn", "text": truncate(text, MAX_SECTION_TEXT) or " "},
    }
    if accessory is not None:
        block["accessory"] = accessory
    return block


def header(text: str) -> dict[str, Any]:
    return {
        "type": "header",
        "text": {"type": "plain_text", "text": truncate(text, MAX_HEADER_TEXT), "emoji": True},
    }


def context(text: str) -> dict[str, Any]:
    return {"type": "context", "elements": [{"type": "mrkdwn", "text": truncate(text, 3000)}]}


def plain(text: str, limit: int) -> dict[str, Any]:
    return {"type": "plain_text", "text": truncate(text, limit), "emoji": True}


def button(
    text: str,
    action: ids.Action,
    value: str,
    *,
    style: str | None = None,
    confirm: dict[str, Any] | None = None,
) -> dict[str, Any]:
    element: dict[str, Any] = {
        "type": "button",
        "text": plain(text, MAX_BUTTON_TEXT),
        "action_id": action.value,
        "value": value,
    }
    if style:
        element["style"] = style
    if confirm:
        element["confirm"] = confirm
    return element


def confirm_dialog(labels: dict[str, str], what: str) -> dict[str, Any]:
    """Slack's confirm dialog for a button whose effect cannot be undone."""
    return {
        "title": plain(labels[f"confirm.{what}.title"], 100),
        "text": {"type": "plain_text", "text": truncate(labels[f"confirm.{what}.text"], 300)},
        "confirm": plain(labels[f"confirm.{what}.yes"], 30),
        "deny": plain(labels["confirm.no"], 30),
    }


def actions(elements: list[dict[str, Any]], block_id: str | None = None) -> dict[str, Any]:
    block: dict[str, Any] = {"type": "actions", "elements": elements[:MAX_ACTIONS]}
    if block_id:
        block["block_id"] = block_id
    return block


def chunk_lines(lines: Sequence[str], limit: int = MAX_SECTION_TEXT) -> list[str]:
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


def incident_ref(state: IncidentState) -> int:
    """The incident's id as buttons carry it (0 for a state not yet saved)."""
    return state.id if state.id is not None else 0


def fallback(text: str) -> str:
    """A message's notification text."""
    return truncate(text, 3000)


# --- modals -------------------------------------------------------------------------------


def option(text: str, value: str) -> dict[str, Any]:
    return {"text": plain(text, 75), "value": value}


def input_block(name: str, label: str, element: dict[str, Any]) -> dict[str, Any]:
    """An input block whose ``block_id`` is ``name`` (its element's ``action_id`` too)."""
    return {"type": "input", "block_id": name, "label": plain(label, 2000), "element": element}


def text_input(
    name: str, label: str, *, placeholder: str | None = None, multiline: bool = False
) -> dict[str, Any]:
    element: dict[str, Any] = {
        "type": "plain_text_input",
        "action_id": name,
        "multiline": multiline,
        "max_length": 3000 if multiline else 500,
    }
    if placeholder:
        element["placeholder"] = plain(placeholder, 150)
    return input_block(name, label, element)


def datetime_input(name: str, label: str, initial: int) -> dict[str, Any]:
    """A date-and-time picker set to ``initial`` (unix seconds)."""
    element = {"type": "datetimepicker", "action_id": name, "initial_date_time": initial}
    return input_block(name, label, element)


def select(
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
        "placeholder": plain(placeholder, 150),
    }
    chosen = next((o for o in options if o["value"] == initial), None)
    if chosen is not None:
        element["initial_option"] = chosen
    return input_block(name, label, element)


def modal(
    callback_id: str,
    *,
    title: str,
    submit: str,
    close: str,
    private_metadata: str,
    blocks: Blocks,
) -> dict[str, Any]:
    """A modal view; its blocks cut to what Slack takes."""
    return {
        "type": "modal",
        "callback_id": callback_id,
        "title": plain(title, MAX_VIEW_TITLE),
        "submit": plain(submit, MAX_VIEW_TITLE),
        "close": plain(close, MAX_VIEW_TITLE),
        "private_metadata": private_metadata,
        "blocks": blocks[:MAX_VIEW_BLOCKS],
    }
