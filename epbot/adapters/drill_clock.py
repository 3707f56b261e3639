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

from sqlalchemy.ext.asyncio import AsyncEngine

from epbot.adapters.drill_files import next_runs
from epbot.adapters.playbook_files import PlaybookLibrary
from epbot.services.drills import DrillService
from epbot.services.incidents import IncidentService
from epbot.services.ports import Clock

log = logging.getLogger(__name__)


class DrillClock:
    def __init__(
        self,
        service: DrillService,
        clock: Clock,
        *,
        interval: float = 30.0,
        on_started: Callable[[], None] | None = None,
    ) -> None:
        self.service, self.clock, self.interval = service, clock, interval
        self.on_started = on_started
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
                started = await self.service.run_due(now, since=since)
                since = now
                if started and self.on_started is not None:
                    self.on_started()
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


def build_drill_clock(
    *,
    engine: AsyncEngine,
    incidents: IncidentService,
    library: PlaybookLibrary,
    tz: ZoneInfo,
    locale: str,
    on_started: Callable[[], None] | None = None,
) -> DrillClock:
    """The drill clock over the bot's own engine, incident service and playbook library."""
    service = DrillService(
        engine=engine,
        incidents=incidents,
        plan=lambda: library.current.drills,
        matrix=lambda: library.current.matrix,
        tz=tz,
        locale=locale,
    )
    return DrillClock(service, incidents.clock, on_started=on_started)
