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

from epbot.adapters.clock import SystemClock
from epbot.services.ports import Clock

log = logging.getLogger(__name__)

WAKE_JOB = "epbot-wake"
POLL_JOB = "epbot-poll"


class SchedulerTimers:
    """The ``Timers`` port on APScheduler 3.11 (AsyncIOScheduler, in-memory job store).

    APScheduler only *rings*: its jobs set a flag and return at once. One runner task does
    the ticks, one at a time, and ticks again at once when it was rung meanwhile. (When the
    tick itself was the job, a wake-up asked for during a tick could be skipped by
    APScheduler as "maximum number of running instances reached" and waited for the
    poll.) Due times are on the ``clock`` port, so a clock moved by hand (the sandbox) is
    followed: a due time already passed on that clock rings at once. APScheduler itself
    runs on the system clock (``wall``): a wake-up is handed to it as "this long from now".
    """

    def __init__(
        self,
        tick: Callable[[], Awaitable[object]],
        *,
        clock: Clock | None = None,
        wall: Clock | None = None,
        poll_interval: timedelta = timedelta(seconds=15),
        gate: Callable[[], bool] | None = None,
        elsewhere: Callable[[], None] | None = None,
    ) -> None:
        self._tick = tick
        self._clock: Clock = clock or SystemClock()
        self._wall: Clock = wall or SystemClock()
        self._poll_interval = poll_interval
        self._gate = gate
        self._elsewhere = elsewhere  # tells the process that leads the timers
        self._scheduler = AsyncIOScheduler(timezone=UTC)
        self._rung = asyncio.Event()
        self._runner: asyncio.Task[None] | None = None
        self._ticking: asyncio.Task[None] | None = None
        self._stopping = False
        self.next_wake: datetime | None = None  # the earliest wake-up asked for, on the clock
        self.ticks = 0

    @property
    def running(self) -> bool:
        return bool(self._scheduler.running)

    def start(self) -> None:
        """Start the scheduler (inside a running event loop) and fire what is already due."""
        self._scheduler.start()
        self._scheduler.add_job(
            self._ring,
            "interval",
            seconds=self._poll_interval.total_seconds(),
            id=POLL_JOB,
            replace_existing=True,
            coalesce=True,
            max_instances=1,
        )
        self._runner = asyncio.get_running_loop().create_task(self._run_ticks())
        self.wake_at(self._clock.now())

    async def shutdown(self, *, grace: float = 10.0) -> None:
        """Stop ringing, letting a tick in progress finish (within ``grace`` seconds).

        A tick cut short is harmless, only later: its transaction rolls back and the
        timer is still unfired in the table for the next start. APScheduler 3.11
        finishes its own shutdown on the event loop.
        """
        self._stopping = True
        if self._scheduler.running:
            self._scheduler.pause()
        ticking = self._ticking
        if ticking is not None and not ticking.done():
            with contextlib.suppress(TimeoutError, asyncio.CancelledError):
                await asyncio.wait_for(asyncio.shield(ticking), grace)
        if self._scheduler.running:
            self._scheduler.shutdown(wait=False)
        for task in (self._ticking, self._runner):
            if task is not None and not task.done():
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
        for _ in range(100):
            if not self._scheduler.running:
                return
            await asyncio.sleep(0.01)

    def wake_at(self, when: datetime | None) -> None:
        """Ring at ``when`` (on the clock), unless an earlier wake-up is already asked for.

        Never moving a wake-up later keeps a stale request (a use case that read the next
        due time just before another added an earlier timer) from hiding the earlier one;
        a tick that finds nothing due costs one query and sets the next wake-up exactly.
        None only says nothing is due; a wake-up already asked for still rings.
        """
        if self._elsewhere is not None and self._gate is not None and not self._gate():
            self._elsewhere()
        if when is None or self._stopping:
            return
        if self.next_wake is not None and self.next_wake <= when:
            return
        self.next_wake = when
        if not self._scheduler.running:
            return
        delay = (when - self._clock.now()).total_seconds()
        if delay <= 0:
            self._ring_now()
            return
        self._scheduler.add_job(
            self._ring,
            "date",
            run_date=self._wall.now() + timedelta(seconds=delay),
            id=WAKE_JOB,
            replace_existing=True,
            misfire_grace_time=None,
            coalesce=True,
        )

    async def _ring(self) -> None:
        """APScheduler's job: ring and return at once (never overlaps with itself)."""
        self._ring_now()

    def _ring_now(self) -> None:
        self.next_wake = None
        self._rung.set()

    async def _tick_once(self) -> None:
        await self._tick()

    async def _run_ticks(self) -> None:
        while True:
            await self._rung.wait()
            self._rung.clear()
            if self._gate is not None and not self._gate():
                continue  # another process leads the timers
            # The tick is its own task so that shutdown can wait for this tick alone (waiting
            # for the runner, which loops forever, held every stop for the whole grace).
            self._ticking = asyncio.ensure_future(self._tick_once())
            try:
                await self._ticking
                self.ticks += 1
            except Exception:  # a failed tick must not kill the alarm clock; the poll retries
                log.exception("timer tick failed; will retry at the next poll")
            finally:
                self._ticking = None
