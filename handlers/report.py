"""The report modal's submission (Art. 5.1) -> declare the incident."""

from __future__ import annotations

import logging
from typing import Any

from epbot.adapters.slack.ids import Callback
from epbot.adapters.slack.interactions import ParsedReport
from epbot.domain.errors import DomainError
from epbot.services.incidents import UnknownPlaybook
from handlers.deps import Deps

log = logging.getLogger(__name__)


def register(app: Any, deps: Deps) -> None:
    async def submitted(ack: Any, body: dict[str, Any], view: dict[str, Any]) -> None:
        user = body["user"]["id"]
        locale = deps.ui.cached_locale(user)  # before ack(): no Web API call
        parsed = deps.ui.read_report(view, locale=locale)
        if not isinstance(parsed, ParsedReport):
            await ack(response_action="errors", errors=parsed)
            return
        await ack()
        try:
            await deps.service.declare(
                key=f"view:{view['id']}",
                playbook=parsed.playbook,
                severity=parsed.severity,
                report=parsed.report,
                reporter=await deps.ui.actor(user),
                drill=parsed.drill,
            )
        except (DomainError, UnknownPlaybook) as exc:
            text = exc.message(locale) if isinstance(exc, DomainError) else str(exc)
            await deps.ui.tell(user_id=user, channel=None, text=text)
            return
        deps.ui.after_change()

    app.view(Callback.REPORT.value)(submitted)
