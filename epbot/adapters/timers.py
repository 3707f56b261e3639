"""APScheduler wiring: the database holds every timer; APScheduler only rings the alarm.

One in-memory job ("wake") is moved to the next due time after every change; a slow
periodic poll also catches timers that another process added to a shared database.
Nothing is pickled into a job store, so several processes never share jobs.

With several processes every one runs this alarm clock, but only the timer leader
(``gate``, see adapters/leader.py) ticks; the others skip their alarms until they lead.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta

from apscheduler.schedulers.asyncio import AsyncIOScheduler

log = logging.getLogger(__name__)

WAKE_JOB = "epbot-wake"
POLL_JOB = "epbot-poll"


class SchedulerTimers:
    """The ``Timers`` port on APScheduler 3.11 (AsyncIOScheduler, in-memory job store)."""

    def __init__(
        self,
        tick: Callable[[], Awaitable[object]],
        *,
        poll_interval: timedelta = timedelta(seconds=15),
        gate: Callable[[], bool] | None = None,
        elsewhere: Callable[[], None] | None = None,
    ) -> None:
        self._tick = tick
        self._poll_interval = poll_interval
        self._gate = gate
        self._elsewhere = elsewhere  # tells the process that leads the timers
        self._scheduler = AsyncIOScheduler(timezone=UTC)
        self._ticking: asyncio.Task[None] | None = None
        self.next_wake: datetime | None = None
        self.ticks = 0

    @property
    def running(self) -> bool:
        return bool(self._scheduler.running)

    def start(self) -> None:
        """Start the scheduler (inside a running event loop) and fire what is already due."""
        self._scheduler.start()
        self._scheduler.add_job(
            self._run,
            "interval",
            seconds=self._poll_interval.total_seconds(),
            id=POLL_JOB,
            replace_existing=True,
            coalesce=True,
            max_instances=1,
        )
        self.wake_at(datetime.now(UTC))

    async def shutdown(self, *, grace: float = 10.0) -> None:
        """Stop ringing, letting a tick in progress finish (within ``grace`` seconds).

        A tick cut short is harmless, only later: its transaction rolls back and the
        timer is still unfired in the table for the next start. APScheduler 3.11
        finishes its own shutdown on the event loop.
        """
        if self._scheduler.running:
            self._scheduler.pause()  # no new tick; the executor's shutdown would cancel one
        ticking = self._ticking
        if ticking is not None and not ticking.done():
            with contextlib.suppress(TimeoutError, asyncio.CancelledError):
                await asyncio.wait_for(asyncio.shield(ticking), grace)
        if self._scheduler.running:
            self._scheduler.shutdown(wait=False)  # cancels a tick that outlasted ``grace``
        if ticking is not None and not ticking.done():
            ticking.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await ticking
        for _ in range(100):
            if not self._scheduler.running:
                return
            await asyncio.sleep(0.01)

    def wake_at(self, when: datetime | None) -> None:
        """Move the single wake-up job to ``when``; None removes it."""
        self.next_wake = when
        if self._elsewhere is not None and self._gate is not None and not self._gate():
            self._elsewhere()
        if not self._scheduler.running:
            return
        if when is None:
            if self._scheduler.get_job(WAKE_JOB) is not None:
                self._scheduler.remove_job(WAKE_JOB)
            return
        self._scheduler.add_job(
            self._run,
            "date",
            run_date=max(when, datetime.now(UTC)),
            id=WAKE_JOB,
            replace_existing=True,
            misfire_grace_time=None,
            coalesce=True,
        )

    async def _run(self) -> None:
        if self._gate is not None and not self._gate():
            return  # another process leads the timers
        self._ticking = asyncio.current_task()
        try:
            await self._tick()
            self.ticks += 1
        except Exception:  # a failed tick must not kill the alarm clock; the poll retries
            log.exception("timer tick failed; will retry at the next poll")
        finally:
            self._ticking = None
