"""storm: K declarations over S seconds against the fake Web API (tier limits on, 30 ms).

Prints ack p50/p99 of the slash command and of the report submission, the time from the
first declaration to the last incident channel as a ratio to the ``conversations.create``
tier floor (the earliest the tier's moving window allows, given when each declaration
arrived), and how many messages were lost or duplicated.

    .venv/bin/python -m bench.storm [--count 60] [--seconds 30] [--faults SEED]

``--faults SEED``: the worst day, both at once: the fake also answers 20% of calls
500/502/503 and 10% 429 (Retry-After 1 s), as ``bench.faults`` does, from the start of
the storm.
"""

from __future__ import annotations

import argparse
import asyncio
import time

from bench.common import emit, note, start, summary
from epbot.adapters.slack.pacing import TIER_WINDOWS
from epbot.fakeslack.server import Chaos

BENCH = "storm"


def tier_floor(arrivals: list[float], amount: int, window: float) -> float:
    """When the last of ``arrivals`` could get its slot in a moving window of
    ``amount`` calls per ``window`` seconds (each call no earlier than its arrival)."""
    slots: list[float] = []
    for arrival in sorted(arrivals):
        earliest = arrival if len(slots) < amount else max(arrival, slots[-amount] + window)
        slots.append(earliest)
    return slots[-1]


async def main(count: int, seconds: float, workers: int, faults: int | None = None) -> None:
    run = await start(workers=workers)
    if faults is not None:
        run.fake.chaos = Chaos(server_errors=0.2, rate_limited=0.1, retry_after=1, seed=faults)
    created: list[float] = []
    try:
        t0 = time.perf_counter()
        acks_cmd: list[float] = []
        acks_submit: list[float] = []
        arrivals: list[float] = []

        async def one(n: int) -> None:
            await asyncio.sleep(n * seconds / count)
            status, took = await run.command("db-crash")
            assert status == 200, status
            acks_cmd.append(took)
            arrivals.append(time.perf_counter() - t0)
            status, took = await run.declare(n)
            assert status == 200, status
            acks_submit.append(took)

        watcher_stop = asyncio.Event()

        async def watch() -> None:
            seen = 0
            while not watcher_stop.is_set():
                ok = [c for c in run.fake.calls_to("conversations.create") if c.ok]
                for _ in range(len(ok) - seen):
                    created.append(time.perf_counter() - t0)
                seen = len(ok)
                await asyncio.sleep(0.05)

        watcher = asyncio.create_task(watch())
        await asyncio.gather(*(one(n) for n in range(count)))
        deadline = time.perf_counter() + 600
        while time.perf_counter() < deadline and len(created) < count:  # noqa: ASYNC110
            await asyncio.sleep(0.2)
        # Nobody acknowledges in a storm, so pages keep escalating on the real clock: stop
        # the timers once every channel is there, then let delivery finish what is queued.
        await run.bot.timers.shutdown()
        while time.perf_counter() < deadline:
            rows = await run.outbox()
            if rows and all(r.status == "sent" for r in rows):
                break
            await asyncio.sleep(0.5)
        emit(BENCH, "drained_seconds", round(time.perf_counter() - t0, 1))
        watcher_stop.set()
        await watcher
        rows = await run.outbox()
        amount, window = TIER_WINDOWS["t2"]
        floor = tier_floor(arrivals, amount, 60.0)  # Slack's own minute, not our margin
        last = max(created) if created else float("nan")
        emit(BENCH, "ack_command_seconds", summary(acks_cmd), count=count, over=seconds)
        emit(BENCH, "ack_submission_seconds", summary(acks_submit), count=count, over=seconds)
        emit(BENCH, "last_channel_seconds", round(last, 2), floor=round(floor, 2))
        emit(BENCH, "last_channel_vs_tier_floor", round(last / floor, 3), target="<= 1.1")
        ok_posts = [c for c in run.fake.calls_to("chat.postMessage") if c.ok]
        from sqlmodel import select

        from epbot.adapters.db import models as m
        from epbot.adapters.db.engine import make_sessionmaker

        async with make_sessionmaker(run.bot.engine)() as session:
            refs = list(await session.exec(select(m.MessageRef)))
        # A batch's thread lines share one message: count messages (distinct ts).
        posted_ts = {r.ts for r in refs if r.ts and not r.key.startswith(("pin:", "topic:"))}
        emit(BENCH, "lost_rows", sum(r.status != "sent" for r in rows))
        emit(BENCH, "channels_created", len(created), expected=count)
        emit(BENCH, "duplicated_posts", len(ok_posts) - len(posted_ts))
        limited: dict[str, int] = {}
        for c in run.fake.calls:
            if c.status == 429:
                limited[c.method] = limited.get(c.method, 0) + 1
        emit(BENCH, "rate_limited_answers", sum(limited.values()), by_method=limited)
        emit(BENCH, "web_api_calls", len(run.fake.calls))
        if faults is not None:
            failed = sum(c.status >= 500 or c.error == "ratelimited" for c in run.fake.calls)
            emit(BENCH, "faults", {"seed": faults, "calls_failed": failed})
    finally:
        await run.stop()
    note("storm done")


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--count", type=int, default=60)
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--workers", type=int, default=32)
    parser.add_argument("--faults", type=int, default=None, metavar="SEED")
    args = parser.parse_args()
    asyncio.run(main(args.count, args.seconds, args.workers, args.faults))
