"""Early-warning buttons and modals -> one alert use case each.

``alert.declare`` opens the report modal pre-filled from the alert; its submission declares
under the alert's key (one alert, at most one incident). ``alert.dismiss`` asks why no
incident is needed, then marks the warning dismissed.
"""

from __future__ import annotations

from typing import Any

from epbot.adapters.slack.alert_ui import AlertInteractions, read_dismiss_reason, read_meta
from epbot.adapters.slack.ids import Action, Callback
from epbot.adapters.slack.interactions import ParsedReport
from epbot.domain.errors import DomainError
from epbot.services.alerts import AlertProblem, AlertService
from epbot.services.incidents import UnknownPlaybook
from handlers.deps import Deps


def _clicked(body: dict[str, Any]) -> tuple[str, int, str | None]:
    """(user, alert id, channel) of a warning button."""
    action = body["actions"][0]
    return body["user"]["id"], int(action["value"]), (body.get("channel") or {}).get("id")


def register(app: Any, deps: Deps) -> None:
    if deps.alerts is None or deps.alert_ui is None:
        return
    alerts: AlertService = deps.alerts
    ui: AlertInteractions = deps.alert_ui

    async def declare_clicked(ack: Any, body: dict[str, Any]) -> None:
        await ack()
        user, alert_id, channel = _clicked(body)
        try:
            await ui.open_declare(
                trigger_id=body["trigger_id"], user_id=user, alert_id=alert_id, channel=channel
            )
        except AlertProblem as problem:
            await ui.refuse(user_id=user, channel=channel, problem=problem)

    async def dismiss_clicked(ack: Any, body: dict[str, Any]) -> None:
        await ack()
        user, alert_id, channel = _clicked(body)
        try:
            await ui.open_dismiss(
                trigger_id=body["trigger_id"], user_id=user, alert_id=alert_id, channel=channel
            )
        except AlertProblem as problem:
            await ui.refuse(user_id=user, channel=channel, problem=problem)

    async def report_submitted(ack: Any, body: dict[str, Any], view: dict[str, Any]) -> None:
        user = body["user"]["id"]
        parsed = deps.ui.read_report(view, locale=deps.ui.cached_locale(user))
        alert_id, channel = read_meta(view)
        if not isinstance(parsed, ParsedReport) or alert_id is None:
            await ack(response_action="errors", errors=parsed if isinstance(parsed, dict) else {})
            return
        await ack()
        try:
            await alerts.declare_from_report(
                alert_id=alert_id,
                playbook=parsed.playbook,
                severity=parsed.severity,
                report=parsed.report,
                reporter=await deps.ui.actor(user),
            )
        except AlertProblem as problem:
            await ui.refuse(user_id=user, channel=channel, problem=problem)
        except (DomainError, UnknownPlaybook) as exc:
            locale = await deps.ui.locale(user)
            text = exc.message(locale) if isinstance(exc, DomainError) else str(exc)
            await deps.ui.tell(user_id=user, channel=channel, text=text)
        deps.ui.after_change()

    async def dismiss_submitted(ack: Any, body: dict[str, Any], view: dict[str, Any]) -> None:
        user = body["user"]["id"]
        reason = read_dismiss_reason(view)
        alert_id, channel = read_meta(view)
        if not reason or alert_id is None:
            locale = await deps.ui.locale(user)
            await ack(response_action="errors", errors={"reason": ui.required(locale)})
            return
        await ack()
        try:
            await alerts.dismiss(alert_id=alert_id, actor=await deps.ui.actor(user), reason=reason)
        except AlertProblem as problem:
            await ui.refuse(user_id=user, channel=channel, problem=problem)
        deps.ui.after_change()

    app.action(Action.ALERT_DECLARE.value)(declare_clicked)
    app.action(Action.ALERT_DISMISS.value)(dismiss_clicked)
    app.view(Callback.ALERT_REPORT.value)(report_submitted)
    app.view(Callback.ALERT_DISMISS.value)(dismiss_submitted)
