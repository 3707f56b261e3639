"""What an outbox row of kind ``alert`` means in Slack: show the warning as it is now.

The delivery worker calls :meth:`AlertEffects.deliver` with the row's payload
(``{"kind": "alert", "alert_id": <id>}``). The warning is rendered from the alert's
*current* row, so several queued changes of one alert all converge on the latest state,
and any of them may be dropped or coalesced. The first delivery posts the message and
stores its channel and ts on the alert before returning; every later one updates that
message in place, so a retried delivery never posts twice. A :class:`CallFailure` is
left to propagate: the worker retries the row.
"""

from __future__ import annotations

import logging
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy.ext.asyncio import AsyncEngine

from epbot.adapters.db import alert_store as store
from epbot.adapters.db import models as m
from epbot.adapters.db.engine import make_sessionmaker
from epbot.adapters.slack.alert_render import WarningContext, playbook_title, warning_message
from epbot.adapters.slack.client import SlackClient
from epbot.services.incidents import incident_number
from epbot.services.ports import Clock, PlaybookSource

log = logging.getLogger(__name__)


class AlertEffects:
    """Posts or updates the warning of one alert."""

    def __init__(
        self,
        client: SlackClient,
        engine: AsyncEngine,
        locale: str,
        tz: ZoneInfo,
        *,
        playbooks: PlaybookSource | None = None,
        clock: Clock | None = None,
    ) -> None:
        self.client = client
        self._sessions = make_sessionmaker(engine)
        self.locale = locale
        self.tz = tz
        self.playbooks = playbooks
        self.clock = clock

    async def deliver(self, payload: dict[str, Any]) -> None:
        """Bring the warning of ``payload["alert_id"]`` in Slack up to the alert's state."""
        alert_id = int(payload["alert_id"])
        async with self._sessions() as session:
            alert = await store.get(session, alert_id)
            incident = (
                await session.get(m.Incident, alert.incident_id)
                if alert is not None and alert.incident_id is not None
                else None
            )
        if alert is None:
            log.warning("alert %s is gone; nothing to show", alert_id)
            return
        if not alert.channel:
            log.warning("alert %s has no channel to be shown in (EPBOT_ALERTS_CHANNEL)", alert_id)
            return
        text, blocks = warning_message(alert, self._ctx(alert, incident))
        if alert.ts:
            await self.client.update_message(alert.channel, alert.ts, text, blocks)
            return
        posted = await self.client.post_message(alert.channel, text, blocks)
        channel = str(posted.get("channel") or alert.channel)
        async with self._sessions() as session, session.begin():
            await store.set_message(session, alert_id, channel, str(posted["ts"]))

    def _ctx(self, alert: m.Alert, incident: m.Incident | None) -> WarningContext:
        lang = "en" if self.locale.lower().startswith("en") else "zh-CN"
        title = None
        if self.playbooks is not None and alert.playbook_id:
            title = playbook_title(
                list(getattr(self.playbooks.current, "playbooks", ())), alert.playbook_id, lang
            )
        number = incident_number(incident.year, incident.seq, incident.drill) if incident else ""
        now = self.clock.now() if self.clock is not None else alert.last_seen_at
        return WarningContext(
            locale=self.locale,
            tz=self.tz,
            now=now,
            playbook_title=title,
            number=number,
            incident_channel=incident.channel_id if incident is not None else None,
        )
