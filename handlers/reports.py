"""The plan's reports (issue 15): the report to send, opened pre-filled by ``step.report``
and ``report.progress`` (handlers/actions.py); its submission delivers it (one service call)."""

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
