"""noise: what people read during an hour nobody acts on, per plan-hour.

One db-crash incident with the plan's durations compressed 60x (the bot's clock runs 60
plan-seconds per real second; the alarm clock is rung every tenth of a second), the fake
Web API with Slack's tier limits on. Every page is acknowledged from its DM as it arrives
(the people are there), and nobody completes, reports or approves anything for one hour
of plan time. Prints the messages in the incident channel (top-level and thread replies),
the direct messages, the edits, and the deadline events on the incident's timeline
(reminders, overdue notices, nudges, late receipts), each per plan-hour.

    .venv/bin/python -m bench.noise [--hours 1] [--factor 60] [--show]
"""

from __future__ import annotations

import argparse
import asyncio
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlmodel import col, select

from bench.common import Running, emit, note, start
from epbot.adapters.db import models as m
from epbot.adapters.db.engine import make_sessionmaker
from epbot.adapters.slack.ids import Action
from epbot.fakeslack.signing import block_actions
from epbot.fakeslack.workspace import Message

BENCH = "noise"
DEADLINE_KINDS = ("step_reminder", "step_overdue", "step_nudge", "receipt_overdue")
PUMP_SECONDS = 0.1  # real seconds between rings of the alarm clock


class CompressedClock:
    """Plan time running ``factor`` times faster than the wall clock."""

    def __init__(self, factor: float) -> None:
        self.factor = factor
        self.start = datetime.now(UTC)
        self._t0 = time.perf_counter()

    def now(self) -> datetime:
        elapsed = (time.perf_counter() - self._t0) * self.factor
        return self.start + timedelta(seconds=elapsed)


def ack_buttons(message: Message | None) -> list[str]:
    """The values of the acknowledge buttons still live on a page's DM."""
    found = []
    for block in (message.blocks if message else None) or ():
        elements = [block.get("accessory") or {}, *block.get("elements", ())]
        found += [
            str(e.get("value"))
            for e in elements
            if e.get("type") == "button" and e.get("action_id") == Action.INCIDENT_ACK.value
        ]
    return found


async def acknowledge_pages(run: Running, incident_id: int, done: set[str]) -> None:
    """Click Acknowledge on every page DM of the incident that still shows the button."""
    async with make_sessionmaker(run.bot.engine)() as session:
        refs = list(
            await session.exec(
                select(m.MessageRef).where(
                    col(m.MessageRef.key).startswith(f"page:{incident_id}:"),
                    col(m.MessageRef.incident_id) == incident_id,
                )
            )
        )
    ws = run.fake.workspace
    for ref in refs:
        if ref.key in done:
            continue
        message = ws.find_message(ref.channel, ref.ts)
        values = ack_buttons(message)
        if message is None or not values:
            continue
        channel = ws.channels[ref.channel]
        user = channel.im_user or ""
        url = run.fake.new_response_url(channel_id=ref.channel, user_id=user, message_ts=ref.ts)
        body = block_actions(
            user_id=user,
            action_id=Action.INCIDENT_ACK.value,
            value=values[0],
            channel_id=ref.channel,
            message_ts=ref.ts,
            response_url=url,
        )
        status, _ = await run.post(body)
        if status == 200:
            done.add(ref.key)


def counts(run: Running, incident_channel: str) -> dict[str, int]:
    """Messages people received: in the incident channel (top-level, replies), in DMs."""
    ws = run.fake.workspace
    room = ws.messages_in(incident_channel)
    dms = [
        msg
        for channel in ws.channels.values()
        if channel.is_im
        for msg in ws.messages_in(channel.id)
    ]
    updates = Counter(
        "incident_channel" if c.args.get("channel") == incident_channel else "elsewhere"
        for c in run.fake.calls_to("chat.update")
        if c.ok
    )
    return {
        "channel_messages": len(room),
        "thread_replies": sum(1 for msg in room if msg.is_reply),
        "top_level": sum(1 for msg in room if not msg.is_reply),
        "dms": len(dms),
        "edits_in_channel": updates["incident_channel"],
        "edits_elsewhere": updates["elsewhere"],
    }


def show(run: Running, incident_channel: str) -> None:
    """Every message people received, on stderr, to read what the figures count."""
    ws = run.fake.workspace
    for channel in ws.channels.values():
        if channel.id != incident_channel and not channel.is_im:
            continue
        where = f"DM {channel.im_user}" if channel.is_im else "incident channel"
        for msg in ws.messages_in(channel.id):
            reply = " (reply)" if msg.is_reply else ""
            note(f"--- {where}{reply} ts={msg.ts}\n{msg.text}")


async def main(hours: float, factor: float, *, verbose: bool = False) -> None:
    clock = CompressedClock(factor)
    run = await start(clock=clock)
    # The bench rings the alarm clock itself: APScheduler's wake-ups are in real seconds,
    # which a compressed clock would make 60 times late.
    await run.bot.timers.shutdown()
    try:
        status, _ = await run.command("db-crash")
        assert status == 200, status
        status, _ = await run.declare(1)
        assert status == 200, status
        declared = clock.now()
        incident_id = 0
        while not incident_id:
            rows = await run.outbox()
            incident_id = (rows[0].incident_id or 0) if rows else 0
            await asyncio.sleep(0.05)
        acked: set[str] = set()
        end = declared + timedelta(hours=hours)
        while clock.now() < end:
            await run.bot.service.tick()
            run.bot.delivery.kick()
            await acknowledge_pages(run, incident_id, acked)
            await asyncio.sleep(PUMP_SECONDS)
        drained_from = time.perf_counter()
        while time.perf_counter() - drained_from < 600:
            rows = await run.outbox()
            if all(r.status == "sent" for r in rows):
                break
            run.bot.delivery.kick()
            await asyncio.sleep(0.5)
        emit(BENCH, "drain_seconds", round(time.perf_counter() - drained_from, 1))
        async with make_sessionmaker(run.bot.engine)() as session:
            row = await session.get(m.Incident, incident_id)
        channel = (row.channel_id if row else None) or ""
        found = counts(run, channel)
        if verbose:
            show(run, channel)
        for figure, value in found.items():
            emit(BENCH, f"{figure}_per_plan_hour", round(value / hours, 1), total=value)
        timeline = await run.bot.service.timeline(incident_id)
        kinds: Counter[str] = Counter(str(e["kind"]) for e in timeline)
        deadline = {k: kinds[k] for k in DEADLINE_KINDS if kinds[k]}
        emit(BENCH, "deadline_events_on_timeline", sum(deadline.values()), by_kind=deadline)
        emit(BENCH, "pages_acknowledged", len(acked))
        emit(
            BENCH,
            "targets",
            {"channel_messages": "<= 20", "dms": "<= 15"},
            met=found["channel_messages"] / hours <= 20 and found["dms"] / hours <= 15,
        )
        emit(BENCH, "rate_limited_answers", sum(1 for c in run.fake.calls if c.status == 429))
    finally:
        await run.stop()
    note("noise done")


def _args() -> Any:
    parser = argparse.ArgumentParser()
    parser.add_argument("--hours", type=float, default=1.0, help="plan-hours nobody acts")
    parser.add_argument("--factor", type=float, default=60.0, help="plan seconds per second")
    parser.add_argument("--show", action="store_true", help="print every message on stderr")
    return parser.parse_args()


if __name__ == "__main__":
    args = _args()
    asyncio.run(main(args.hours, args.factor, verbose=args.show))
