"""Slack-side helpers of the warning buttons: the pre-filled report and the dismiss modal."""

from __future__ import annotations

import json
from typing import Any

from epbot.adapters.slack import alert_render, render
from epbot.adapters.slack.interactions import Interactions, field_value
from epbot.services.alerts import AlertProblem, AlertService


class AlertInteractions:
    """Opens the modals behind ``alert.declare`` and ``alert.dismiss`` (a refusal is told by
    the handlers' error route, :func:`epbot.adapters.slack.refusals.explain`)."""

    def __init__(self, *, ui: Interactions, alerts: AlertService) -> None:
        self.ui = ui
        self.alerts = alerts

    async def open_declare(
        self, *, trigger_id: str, user_id: str, alert_id: int, channel: str | None
    ) -> None:
        """The Art. 5.1 report modal, pre-filled from the alert (a person completes it)."""
        locale = await self.ui.locale(user_id)
        alert = await self.alerts.get(alert_id)
        if alert.incident_id is not None or alert.dismissed_at is not None:
            raise AlertProblem(
                "declared" if alert.incident_id is not None else "dismissed",
                by=alert.dismissed_by or "",
            )
        playbook = self.ui.find_playbook(alert.playbook_id) if alert.playbook_id else None
        meta = {
            "playbook": playbook.id if playbook else None,
            "drill": False,
            "alert": alert_id,
            "channel": channel,
        }
        view = render.report_modal(
            self.ui.playbooks(),
            self.ui.library.current.matrix,
            self.ui.ctx(locale),
            playbook_id=playbook.id if playbook else None,
            drill=False,
            private_metadata=json.dumps(meta),
        )
        view = alert_render.prefill_report(view, alert, locale=locale, now=self.ui.clock.now())
        await self.ui.client.open_view(trigger_id, view)

    async def open_dismiss(
        self, *, trigger_id: str, user_id: str, alert_id: int, channel: str | None
    ) -> None:
        locale = await self.ui.locale(user_id)
        alert = await self.alerts.get(alert_id)
        if alert.incident_id is not None:
            raise AlertProblem("declared")
        view = alert_render.dismiss_modal(alert, locale)
        view["private_metadata"] = json.dumps({"alert": alert_id, "channel": channel})
        await self.ui.client.open_view(trigger_id, view)

    def required(self, locale: str) -> str:
        return alert_render.texts(locale)["reason_required"]


def read_meta(view: dict[str, Any]) -> tuple[int | None, str | None]:
    """(alert id, channel it was clicked in) of a submitted alert modal."""
    try:
        meta = json.loads(view.get("private_metadata") or "{}")
        return int(meta["alert"]), meta.get("channel")
    except (ValueError, KeyError, TypeError):
        return None, None


def read_dismiss_reason(view: dict[str, Any]) -> str:
    values = (view.get("state") or {}).get("values") or {}
    return str(field_value(values, alert_render.DISMISS_FIELD) or "").strip()
