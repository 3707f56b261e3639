"""The plan's reports (issue 15): the report to send, opened pre-filled by ``step.report``
and ``report.progress`` (handlers/actions.py); its submission delivers it (one service call).
``/incident report`` in an incident channel shares the after-action PDF there (issue 17)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from epbot.adapters.slack.ids import Callback
from epbot.adapters.slack.refusals import Unsupported
from handlers.context import Person, Target
from handlers.deps import Deps


def register(app: Any, deps: Deps) -> None:
    app.view(Callback.REPORT_SEND.value)(_submitted(deps))


def _submitted(deps: Deps) -> Callable[..., Awaitable[None]]:
    async def submitted(ack: Any, person: Person, target: Target, view: dict[str, Any]) -> None:
        parsed = deps.ui.read_sent_report(view, locale=person.locale)
        if isinstance(parsed, dict):
            await ack(response_action="errors", errors=parsed)
            return
        await ack()
        if target.incident is None:
            raise Unsupported(f"no incident in {target.key}")
        report, progress = parsed
        await deps.service.send_report(
            key=target.key,
            incident_id=target.incident,
            actor=person.actor,
            step=target.meta.get("step") or None,
            report=report,
            progress=progress,
        )

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
