"""The report modal's submission (Art. 5.1) -> declare the incident."""

from __future__ import annotations

from typing import Any

from epbot.adapters.slack.ids import Callback
from epbot.adapters.slack.interactions import ParsedReport
from handlers.context import Person, Target
from handlers.deps import Deps


def register(app: Any, deps: Deps) -> None:
    async def submitted(ack: Any, person: Person, target: Target, view: dict[str, Any]) -> None:
        parsed = deps.ui.read_report(view, locale=person.locale)
        if not isinstance(parsed, ParsedReport):
            await ack(response_action="errors", errors=parsed)
            return
        await ack()
        await deps.service.declare(
            key=target.key,
            playbook=parsed.playbook,
            severity=parsed.severity,
            report=parsed.report,
            reporter=person.actor,
            drill=parsed.drill,
        )

    app.view(Callback.REPORT.value)(submitted)
