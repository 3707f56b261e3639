"""The plan's reports (issue 15): ``step.report`` and ``report.progress`` open the report
to send, pre-filled; its submission delivers it (one service call). ``/incident report`` in
an incident channel shares the after-action report as a PDF there (issue 17)."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from typing import Any

from epbot.adapters.slack.ids import Action, Callback, parse_value
from epbot.domain.errors import DomainError
from handlers.deps import Deps


def register(app: Any, deps: Deps) -> None:
    app.action(Action.STEP_REPORT.value)(_open(deps, progress=False))
    app.action(Action.REPORT_PROGRESS.value)(_open(deps, progress=True))
    app.view(Callback.REPORT_SEND.value)(_submitted(deps))


def _open(deps: Deps, *, progress: bool) -> Callable[..., Awaitable[None]]:
    async def clicked(ack: Any, body: dict[str, Any]) -> None:
        await ack()
        action = body["actions"][0]
        incident, target = parse_value(str(action.get("value") or ""))
        meta = {
            "incident": incident,
            "target": target,
            "channel": (body.get("channel") or {}).get("id"),
        }
        await deps.ui.open_send_report(
            trigger_id=body["trigger_id"], user_id=body["user"]["id"], meta=meta, progress=progress
        )

    return clicked


def _submitted(deps: Deps) -> Callable[..., Awaitable[None]]:
    async def submitted(ack: Any, body: dict[str, Any], view: dict[str, Any]) -> None:
        user = body["user"]["id"]
        locale = await deps.ui.locale(user)
        parsed = deps.ui.read_sent_report(view, locale=locale)
        if isinstance(parsed, dict):
            await ack(response_action="errors", errors=parsed)
            return
        await ack()
        report, progress = parsed
        meta = json.loads(view.get("private_metadata") or "{}")
        try:
            await deps.service.send_report(
                key=f"view:{view['id']}",
                incident_id=int(meta["incident"]),
                actor=await deps.ui.actor(user),
                step=meta.get("step") or None,
                report=report,
                progress=progress,
            )
        except DomainError as exc:
            await deps.ui.tell(user_id=user, channel=meta.get("channel"), text=exc.message(locale))
            return
        deps.ui.after_change()

    return submitted


async def share_after_action(deps: Deps, respond: Any, *, channel: str, locale: str) -> None:
    """``/incident report`` in an incident channel (already acked): say the PDF is coming,
    render and upload it, and tell the person only if Slack refused it."""
    if deps.reports is None:
        raise RuntimeError("/incident report: no report uploads wired")
    await respond(text=deps.reports.rendering_text(locale), response_type="ephemeral")
    refused = await deps.reports.upload(channel=channel, locale=locale)
    if refused is not None:
        await respond(text=refused, response_type="ephemeral")
