"""Block Kit of early warnings: the warning message, the dismiss modal, the pre-filled report.

Words live in ``templates/<locale>/alert_warning.j2``; every value from the alert (summary,
details, labels, source, the reason a person typed) goes through the ``mrkdwn`` filter, so
an alert cannot ping ``<!channel>`` or forge a link.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

from epbot.adapters.db import models as m
from epbot.adapters.db.alert_store import labels_of
from epbot.adapters.slack import ids
from epbot.adapters.slack.mrkdwn import (
    MAX_MESSAGE_BLOCKS,
    MAX_SECTION_TEXT,
    MAX_VIEW_TITLE,
    escape,
    truncate,
)
from epbot.adapters.slack.render import REASON_FIELD
from epbot.adapters.slack.render.templates import Helpers, RenderContext, env
from epbot.domain.alerts import place_of, scope_of
from epbot.services.ports import AlertRecord

Alert = m.Alert | AlertRecord  # a row (delivery) or the alert service's record (buttons)

DISMISS_FIELD = REASON_FIELD
_INPUT_LIMIT = 500  # the report modal's single-line inputs (render.blocks.text_input)


@dataclass(frozen=True)
class WarningContext:
    locale: str
    tz: ZoneInfo
    now: datetime
    playbook_title: str | None = None  # the suggested playbook, in the locale
    number: str = ""  # the incident declared from it, if any
    incident_channel: str | None = None

    @property
    def lang(self) -> str:
        return "en" if self.locale.lower().startswith("en") else "zh-CN"


def _module(alert: Alert | None, ctx: WarningContext) -> Any:
    helpers = Helpers(None, RenderContext(ctx.lang, ctx.tz, ctx.now, ctx.number))
    labels = sorted(labels_of(alert).items()) if alert is not None else []
    return env().get_template(f"{ctx.lang}/alert_warning.j2").make_module(
        {
            **helpers.vars(),
            "alert": alert,
            "labels": labels,
            "link": _link(alert.url if alert is not None else None),
            "playbook": ctx.playbook_title or (alert.playbook_id if alert is not None else None),
            "severity": alert.severity if alert is not None else None,
            "incident_channel": f"<#{ctx.incident_channel}>" if ctx.incident_channel else "",
        }
    )


def texts(locale: str) -> dict[str, str]:
    """The short texts (buttons, titles, refusals) of ``locale``."""
    ctx = WarningContext(locale, ZoneInfo("UTC"), datetime.min.replace(tzinfo=UTC))
    words: dict[str, str] = _module(None, ctx).AL
    return words


def _link(url: str | None) -> str | None:
    """A link to the source, only for http(s) URLs, with nothing that could break out."""
    if not url or not url.startswith(("http://", "https://")):
        return None
    safe = escape(url.replace("|", "%7C").replace(" ", "%20"))
    return f"<{safe}>"


def warning_message(alert: m.Alert, ctx: WarningContext) -> tuple[str, list[dict[str, Any]]]:
    """The warning as it is now: what fired, where, the suggestion, and its state."""
    module = _module(alert, ctx)
    words: dict[str, str] = module.AL
    body = str(module.body()).strip()
    state = str(module.state()).strip()
    blocks: list[dict[str, Any]] = [
        {
            "type": "header",
            "text": {"type": "plain_text", "text": str(module.header()).strip(), "emoji": True},
        },
        {"type": "section", "text": {"type": "mrkdwn", "text": truncate(body, MAX_SECTION_TEXT)}},
    ]
    if state:
        blocks.append(
            {"type": "context", "elements": [{"type": "mrkdwn", "text": truncate(state, 3000)}]}
        )
    if alert.incident_id is None and alert.dismissed_at is None:
        value = str(alert.id)
        blocks.append(
            {
                "type": "actions",
                "block_id": f"alert:{alert.id}",
                "elements": [
                    _button(words["declare"], ids.Action.ALERT_DECLARE, value, "danger"),
                    _button(words["dismiss"], ids.Action.ALERT_DISMISS, value, None),
                ],
            }
        )
    return truncate(str(module.fallback()).strip(), 3000), blocks[:MAX_MESSAGE_BLOCKS]


def _button(text: str, action: ids.Action, value: str, style: str | None) -> dict[str, Any]:
    button: dict[str, Any] = {
        "type": "button",
        "text": {"type": "plain_text", "text": text, "emoji": True},
        "action_id": action.value,
        "value": value,
    }
    if style:
        button["style"] = style
    return button


def resolved_note(alert: Alert, locale: str) -> str:
    """The note in the incident's thread when the source reports its alert resolved."""
    ctx = WarningContext(locale, ZoneInfo("UTC"), datetime.min.replace(tzinfo=UTC))
    return str(_module(alert, ctx).resolved_note()).strip()


def dismiss_modal(alert: Alert, locale: str) -> dict[str, Any]:
    """Ask why a warning needs no incident (误报...); input ``DISMISS_FIELD``."""
    words = texts(locale)
    return {
        "type": "modal",
        "callback_id": ids.Callback.ALERT_DISMISS.value,
        "title": {"type": "plain_text", "text": truncate(words["dismiss_title"], MAX_VIEW_TITLE)},
        "submit": {"type": "plain_text", "text": truncate(words["dismiss_submit"], MAX_VIEW_TITLE)},
        "private_metadata": json.dumps({"alert": alert.id}),
        "blocks": [
            {
                "type": "section",
                "text": {"type": "mrkdwn", "text": f"*{escape(truncate(alert.summary, 2900))}*"},
            },
            {
                "type": "input",
                "block_id": DISMISS_FIELD,
                "label": {"type": "plain_text", "text": words["dismiss_reason"]},
                "element": {
                    "type": "plain_text_input",
                    "action_id": DISMISS_FIELD,
                    "multiline": True,
                    "max_length": 3000,
                },
            },
        ],
    }


def prefill_report(
    view: dict[str, Any], alert: Alert, *, locale: str, now: datetime
) -> dict[str, Any]:
    """The report modal with what the alert says filled in: time from ``startsAt``, nature
    from the summary, scope from the labels (Art. 5.1). A person checks and completes it."""
    labels = labels_of(alert)
    started = alert.starts_at if alert.starts_at and alert.starts_at <= now else now
    values = {
        "title": alert.summary,
        "nature": alert.summary,
        "scope": scope_of(labels),
        "place": place_of(labels),
    }
    for block in view["blocks"]:
        name = block.get("block_id")
        element = block.get("element") or {}
        if name in values and values[name]:
            limit = int(element.get("max_length") or _INPUT_LIMIT)
            element["initial_value"] = values[name][:limit]
        elif name == "occurred_at":
            element["initial_date_time"] = int(started.timestamp())
        elif name == "severity" and alert.severity:
            chosen = next(
                (o for o in element.get("options", []) if o["value"] == alert.severity), None
            )
            if chosen is not None:
                element["initial_option"] = chosen
    view["callback_id"] = ids.Callback.ALERT_REPORT.value
    view["title"] = {"type": "plain_text", "text": texts(locale)["report_title"]}
    return view


def playbook_title(playbooks: Sequence[Any], playbook_id: str | None, lang: str) -> str | None:
    found = next((p for p in playbooks if p.id == playbook_id), None)
    return found.title.get(lang) if found is not None else None
