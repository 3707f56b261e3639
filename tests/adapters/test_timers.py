"""The APScheduler alarm clock wakes the service at the time the database says."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

from epbot.adapters.clock import FakeClock
from epbot.adapters.timers import POLL_JOB, WAKE_JOB, SchedulerTimers


async def _wait_for(condition: asyncio.Event, seconds: float = 10.0) -> None:
    await asyncio.wait_for(condition.wait(), timeout=seconds)


async def test_wakes_at_the_requested_time_and_moves_the_single_job() -> None:
    rang: list[datetime] = []
    started, woken = asyncio.Event(), asyncio.Event()

    async def tick() -> None:
        rang.append(datetime.now(UTC))
        (woken if started.is_set() else started).set()

    timers = SchedulerTimers(tick, poll_interval=timedelta(hours=1))
    timers.start()  # rings once at start: timers that fell due while the bot was down
    try:
        await _wait_for(started)
        target = datetime.now(UTC) + timedelta(milliseconds=300)
        timers.wake_at(target + timedelta(hours=1))
        timers.wake_at(target)  # replaces the job: one alarm, never a pile of them
        jobs = {job.id for job in timers._scheduler.get_jobs()}
        assert jobs == {WAKE_JOB, POLL_JOB}
        await _wait_for(woken)
        assert rang[-1] >= target
        assert timers.ticks >= 2
        timers.wake_at(None)
        assert timers._scheduler.get_job(WAKE_JOB) is None
    finally:
        await timers.shutdown()
    assert not timers.running


async def test_a_failing_tick_does_not_stop_the_clock() -> None:
    calls = 0
    done = asyncio.Event()

    async def tick() -> None:
        nonlocal calls
        calls += 1
        if calls == 1:
            raise RuntimeError("database briefly unreachable")
        done.set()

    timers = SchedulerTimers(tick, poll_interval=timedelta(milliseconds=200))
    timers.start()
    try:
        await _wait_for(done)
    finally:
        await timers.shutdown()
    assert calls >= 2


async def test_a_process_that_does_not_lead_never_ticks_and_tells_the_leader() -> None:
    leading = False
    ticked = asyncio.Event()
    told = 0

    async def tick() -> None:
        ticked.set()

    def tell() -> None:
        nonlocal told
        told += 1

    timers = SchedulerTimers(
        tick, poll_interval=timedelta(milliseconds=50), gate=lambda: leading, elsewhere=tell
    )
    timers.start()
    try:
        timers.wake_at(datetime.now(UTC))
        await asyncio.sleep(0.3)  # several polls and a wake-up went by
        assert not ticked.is_set()
        assert timers.ticks == 0
        assert told >= 1  # timers changed here: the leader (another process) is told
        leading = True
        told_before = told
        timers.wake_at(datetime.now(UTC))  # as on winning the advisory lock
        await _wait_for(ticked)
        assert told == told_before  # the leader does not tell itself
    finally:
        await timers.shutdown()


async def test_shutdown_lets_a_tick_in_progress_finish() -> None:
    started, finished = asyncio.Event(), asyncio.Event()

    async def tick() -> None:
        started.set()
        await asyncio.sleep(0.3)
        finished.set()

    timers = SchedulerTimers(tick, poll_interval=timedelta(hours=1))
    timers.start()
    await _wait_for(started)
    loop = asyncio.get_running_loop()
    begun = loop.time()
    await timers.shutdown(grace=60)
    assert finished.is_set()
    assert not timers.running
    # It waits for the tick, not for the grace: the runner task, which loops forever,
    # was once waited for instead, holding every stop (and each sandbox test) 20 s.
    assert loop.time() - begun < 30


async def test_shutdown_cuts_a_tick_that_outlasts_the_grace() -> None:
    started = asyncio.Event()
    cancelled = False

    async def tick() -> None:
        nonlocal cancelled
        started.set()
        try:
            await asyncio.sleep(30)
        except asyncio.CancelledError:
            cancelled = True  # its transaction rolls back: the timer stays unfired
            raise

    timers = SchedulerTimers(tick, poll_interval=timedelta(hours=1))
    timers.start()
    await _wait_for(started)
    await timers.shutdown(grace=0.2)
    assert cancelled


async def test_a_wake_up_asked_for_during_a_tick_is_not_lost() -> None:
    """The stall: a tick that schedules the next wake-up while it still runs (the service
    reschedules at the end of every tick and after every use case) must get that wake-up
    on time, not at the next poll. Real clock: APScheduler used to skip a wake-up job
    whose previous instance was still running ("maximum number of running instances")."""
    loop = asyncio.get_running_loop()
    rang: list[float] = []
    second = asyncio.Event()
    timers: SchedulerTimers

    async def tick() -> None:
        rang.append(loop.time())
        if len(rang) == 1:
            # A timer falls due 50 ms from now, while this tick runs 300 ms more.
            timers.wake_at(datetime.now(UTC) + timedelta(milliseconds=50))
            await asyncio.sleep(0.3)
        else:
            second.set()

    timers = SchedulerTimers(tick, poll_interval=timedelta(seconds=30))
    timers.start()
    try:
        await _wait_for(second, seconds=5.0)  # the poll would only come after 30 s
    finally:
        await timers.shutdown()
    assert rang[1] - rang[0] < 1.0


async def test_an_earlier_wake_up_is_not_moved_later_by_a_stale_one() -> None:
    """Two use cases racing: the one that saw an earlier due time asks first, the one that
    read the database before it asks second with a later time; the earlier one stands."""
    woken = asyncio.Event()
    ticks = 0

    async def tick() -> None:
        nonlocal ticks
        ticks += 1
        if ticks >= 2:
            woken.set()

    timers = SchedulerTimers(tick, poll_interval=timedelta(seconds=30))
    timers.start()
    try:
        await asyncio.sleep(0.1)  # the start-up tick
        soon = datetime.now(UTC) + timedelta(milliseconds=200)
        timers.wake_at(soon)
        timers.wake_at(soon + timedelta(minutes=10))  # stale: read before the new timer
        await _wait_for(woken, seconds=5.0)
    finally:
        await timers.shutdown()


async def test_due_times_on_a_moved_clock_are_handed_to_apscheduler_as_a_delay() -> None:
    """The sandbox's clock is hours ahead of the system's: a timer due 10 minutes from now
    on that clock rings 10 minutes from now on the system clock (APScheduler's), and one
    already due on it rings at once."""
    sandbox = FakeClock(datetime(2030, 1, 1, 8, 0, tzinfo=UTC))
    wall = FakeClock(datetime.now(UTC).replace(microsecond=0))
    rang = asyncio.Event()

    async def tick() -> None:
        rang.set()

    timers = SchedulerTimers(tick, clock=sandbox, wall=wall, poll_interval=timedelta(hours=1))
    timers.start()
    try:
        await _wait_for(rang)  # the start-up ring: the sandbox time is "now" at once
        rang.clear()
        timers.wake_at(sandbox.now() + timedelta(minutes=10))
        job = timers._scheduler.get_job(WAKE_JOB)
        assert job is not None
        assert job.trigger.run_date == wall.now() + timedelta(minutes=10)
        sandbox.advance(timedelta(minutes=11))  # fast-forward: now overdue on its clock
        timers.wake_at(sandbox.now() - timedelta(minutes=5))  # due before the one asked for
        await _wait_for(rang)
    finally:
        await timers.shutdown()
