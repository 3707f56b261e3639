"""``/incident report``: the incident's after-action report as a PDF, shared in its channel.

The report is the one `epbot report incident --format pdf` writes (same record, same
templates), rendered in the asking person's locale on a worker thread (WeasyPrint takes a few
seconds of CPU), one at a time per process, then uploaded with ``files_upload_v2``. Its
comment carries the audit anchor line, so each upload also pins the chain's head in Slack's
record of the channel, where ``epbot audit verify --from-slack`` finds it.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any
from zoneinfo import ZoneInfo

from epbot.adapters.db.store import SqlStore
from epbot.adapters.report_files import render_incident, report_labels, slack_upload
from epbot.adapters.slack.client import CallFailure, SlackClient
from epbot.services.ports import Clock
from epbot.services.reports import load_record

log = logging.getLogger(__name__)


class ReportUploads:
    """Renders and shares after-action reports for handlers (one Web API path: the client)."""

    def __init__(
        self,
        *,
        store: SqlStore,
        client: SlackClient,
        playbooks: Any,
        clock: Clock,
        tz: ZoneInfo,
    ) -> None:
        self.store = store  # the process's store (reads only; shared, not one per upload)
        self.client = client
        self.library = playbooks
        self.clock = clock
        self.tz = tz
        self._rendering = asyncio.Lock()  # one PDF at a time: it is CPU work

    def rendering_text(self, locale: str) -> str:
        """Say at once that the PDF is on its way."""
        return report_labels(locale)["slack.rendering"]

    async def upload(self, *, channel: str, locale: str) -> str | None:
        """Render the report of the incident whose channel this is and share it there.

        None when shared; else, when Slack refused the upload, what to tell the person.
        Raises UnknownIncident when ``channel`` is no incident's.
        """
        matrix = self.library.current.matrix
        now = self.clock.now()
        record = await load_record(self.store, channel, matrix=matrix, now=now)
        async with self._rendering:
            pdf = await asyncio.to_thread(
                render_incident, record, "pdf", locale=locale, tz=self.tz, matrix=matrix
            )
        share = slack_upload(record, locale, self.tz, matrix, now)
        try:
            await self.client.upload_file(
                channel,
                content=pdf,
                filename=share.filename,
                title=share.title,
                comment=share.comment,
            )
        except CallFailure as exc:
            log.warning("after-action report %s not shared in %s: %s", record.number, channel, exc)
            labels = report_labels(locale)
            return labels["slack.failed"].format(error=exc.error, number=record.number)
        log.info("after-action report %s shared in %s (%d bytes)", record.number, channel, len(pdf))
        return None
