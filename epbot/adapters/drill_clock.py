"""The alarm clock for scheduled drills: an asyncio task that wakes at the next drill time.

Every process may run it: the claim in ``DrillService`` keeps each run single, so no leader
is needed, and a process that starts late catches up on the last hour's runs.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from datetime import datetime
from zoneinfo import ZoneInfo

from epbot.adapters.drill_files import next_runs, runs_between
from epbot.adapters.playbook_files import PlaybookLibrary
from epbot.adapters.report_files import report_labels
from epbot.domain.drills import DrillPlan
from epbot.domain.matrix import Matrix
from epbot.services.drills import DrillService
from epbot.services.incidents import IncidentService
from epbot.services.ports import Clock, DrillStore

log = logging.getLogger(__name__)


class DrillClock:
    def __init__(
        self,
        service: DrillService,
        clock: Clock,
        *,
        interval: float = 30.0,
    ) -> None:
        self.service, self.clock, self.interval = service, clock, interval
        self._task: asyncio.Task[None] | None = None

    @property
    def running(self) -> bool:
        return self._task is not None and not self._task.done()

    def start(self) -> None:
        if not self.running:
            self._task = asyncio.create_task(self._loop(), name="epbot-drills")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def _loop(self) -> None:
        since: datetime | None = None  # first pass: catch up on the last hour
        while True:
            now = self.clock.now()
            try:
                await self.service.run_due(now, since=since)  # declaring kicks delivery
                since = now
            except Exception:  # the database may be down: try the same window again
                log.exception("could not start the drills due by %s", now.isoformat())
            await asyncio.sleep(self._delay(now))

    def _delay(self, now: datetime) -> float:
        """Seconds to the next drill time, at most ``interval`` (the plan may be edited)."""
        upcoming = [
            at
            for drill in self.service.plan().drills
            for at in next_runs(drill, now, self.service.tz, count=1)
        ]
        if not upcoming:
            return self.interval
        return min(self.interval, max(0.05, (min(upcoming) - now).total_seconds()))


def drill_service(
    *,
    store: DrillStore,
    incidents: IncidentService,
    plan: Callable[[], DrillPlan],
    matrix: Callable[[], Matrix],
    tz: ZoneInfo,
    locale: str,
) -> DrillService:
    """The drill service with the cron schedule and the report's words in ``locale``."""
    return DrillService(
        store=store,
        incidents=incidents,
        plan=plan,
        matrix=matrix,
        schedule=runs_between,
        words=report_labels(locale),
        tz=tz,
        locale=locale,
    )


def build_drill_clock(
    *,
    store: DrillStore,
    incidents: IncidentService,
    library: PlaybookLibrary,
    tz: ZoneInfo,
    locale: str,
) -> DrillClock:
    """The drill clock over the bot's own store, incident service and playbook library."""
    service = drill_service(
        store=store,
        incidents=incidents,
        plan=lambda: library.current.drills,
        matrix=lambda: library.current.matrix,
        tz=tz,
        locale=locale,
    )
    return DrillClock(service, incidents.clock)
