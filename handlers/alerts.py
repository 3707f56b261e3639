"""Early-warning modals -> one alert use case each.

The ``alert.declare`` and ``alert.dismiss`` buttons open these modals (handlers/actions.py).
The report's submission declares under the warning's key (one warning, at most one
incident); the dismiss modal's marks the warning dismissed, with why no incident is needed.
A refusal (the warning is gone, already declared) goes to the error route.
"""

from __future__ import annotations

from typing import Any

from epbot.adapters.slack.alert_ui import read_dismiss_reason
from epbot.adapters.slack.ids import Callback
from epbot.adapters.slack.interactions import ParsedReport
from handlers.context import Person, Target
from handlers.deps import Deps


def register(app: Any, deps: Deps) -> None:
    async def report_submitted(
        ack: Any, person: Person, target: Target, view: dict[str, Any]
    ) -> None:
        parsed = deps.ui.read_report(view, locale=person.locale)
        if not isinstance(parsed, ParsedReport) or target.alert is None:
            await ack(response_action="errors", errors=parsed if isinstance(parsed, dict) else {})
            return
        await ack()
        await deps.alerts.declare_from_report(
            alert_id=target.alert,
            playbook=parsed.playbook,
            severity=parsed.severity,
            report=parsed.report,
            reporter=person.actor,
        )

    async def dismiss_submitted(
        ack: Any, person: Person, target: Target, view: dict[str, Any]
    ) -> None:
        reason = read_dismiss_reason(view)
        if not reason or target.alert is None:
            errors = {"reason": deps.alert_ui.required(person.locale)}
            await ack(response_action="errors", errors=errors)
            return
        await ack()
        await deps.alerts.dismiss(alert_id=target.alert, actor=person.actor, reason=reason)

    app.view(Callback.ALERT_REPORT.value)(report_submitted)
    app.view(Callback.ALERT_DISMISS.value)(dismiss_submitted)
