"""The outbox worker: Slack failures delay messages but never lose, duplicate or reorder them."""

from __future__ import annotations

import asyncio
import json
from datetime import timedelta

import pytest

from epbot.adapters.slack import delivery as delivery_module
from epbot.adapters.slack.delivery import Delivery
from tests.scenarios import conftest as e2e
from tests.scenarios.conftest import Harness

# The end-to-end harness (FakeSlack + the bot over HTTP), shared with tests/scenarios.
fake = e2e.fake
harness = e2e.harness


async def _submit(harness: Harness) -> int:
    status, _ = await harness.submit_report(view_id="V0FAULTS")
    assert status == 200
    [row] = await harness.eventually(harness.incidents)
    await harness.bot.delivery.wait_idle()
    assert row.id is not None
    return row.id


async def _deliver_all(harness: Harness, rounds: int = 30) -> int:
    """Drain, moving the fake clock past each backoff; return the rounds it took."""
    for n in range(rounds):
        await harness.settle()
        rows = await harness.outbox()
        if all(r.status == "sent" for r in rows):
            return n
        harness.clock.advance(timedelta(minutes=6))
    raise AssertionError([(r.id, r.status, r.last_error) for r in await harness.outbox()])


async def _assert_in_order_once(harness: Harness, incident_id: int) -> None:
    rows = await harness.outbox()
    assert rows
    assert all(r.status == "sent" for r in rows)
    ws = harness.fake.workspace
    [incident] = await harness.incidents()
    assert incident.channel_id is not None
    assert len(harness.fake.calls_to("conversations.create")) == 1
    assert len(ws.pins) == 1
    # One thread reply per event at most, in the order the engine decided the events.
    replies = []
    for row in rows:
        try:
            replies.append(await harness.ref(f"event:{incident_id}:{row.id}"))
        except AssertionError:
            continue
    assert [float(r.ts) for r in replies] == sorted(float(r.ts) for r in replies)
    texts = [m.text for m in ws.messages_in(incident.channel_id) if m.is_reply]
    assert len(texts) == len(set(zip(texts, range(len(texts)), strict=True)))
    posted_pages = [c for c in harness.fake.calls_to("chat.postMessage") if c.ok]
    dm_targets = [c.args["channel"] for c in posted_pages if str(c.args["channel"]).startswith("U")]
    assert len(dm_targets) == len(set(dm_targets))  # each person got one page DM


async def test_server_errors_and_timeouts_lose_nothing(harness: Harness) -> None:
    harness.fake.inject_failure("chat.postMessage", status=500, times=4)
    harness.fake.inject_failure("conversations.invite", status=503, times=2)
    harness.fake.inject_failure("chat.update", status="timeout", times=1)
    incident_id = await _submit(harness)
    await harness.settle()
    rows = await harness.outbox()
    assert all(r.status == "pending" for r in rows)  # the failing first row blocks the rest
    assert rows[0].attempts >= 1
    assert rows[0].last_error
    rounds = await _deliver_all(harness)
    assert rounds >= 2
    await _assert_in_order_once(harness, incident_id)
    assert max(r.attempts for r in await harness.outbox()) >= 2


async def test_rate_limits_are_honoured_and_retried(harness: Harness) -> None:
    harness.fake.inject_failure("chat.postMessage", status=429, times=3, retry_after=1)
    incident_id = await _submit(harness)
    await harness.settle()
    first = (await harness.outbox())[0]
    assert first.status == "pending"
    assert first.last_error is not None
    assert "ratelimited" in first.last_error
    assert first.next_attempt_at > harness.clock.now()
    await _deliver_all(harness)
    await _assert_in_order_once(harness, incident_id)
    kinds = [json.loads(r.payload)["kind"] for r in await harness.outbox()]
    assert kinds[0] == "declared"


async def test_a_slow_delivery_keeps_its_lease_so_no_other_worker_sends_twice(
    harness: Harness, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A short lease, and a first call that hangs until the client gives up (2 s here):
    # the worker renews its lease meanwhile, so a second worker over the same database
    # finds nothing to claim even after the first lease would have run out.
    monkeypatch.setattr(delivery_module, "LEASE", timedelta(seconds=0.4))
    harness.fake.inject_failure("conversations.create", status="timeout", times=1)
    status, _ = await harness.submit_report(view_id="V0LEASE")
    assert status == 200
    await harness.eventually(lambda: harness.fake.calls_to("conversations.create"))
    first = harness.bot.delivery
    second = Delivery(
        engine=harness.bot.engine,
        client=first.client,
        playbooks=first.playbooks,
        clock=first.clock,
        locale=first.locale,
        tz=first.tz,
        incidents_channel=first.incidents_channel,
    )
    for _ in range(6):  # 1.8 s of the fake clock: four lease lengths
        harness.clock.advance(timedelta(seconds=0.3))
        await asyncio.sleep(0.15)
        assert await second.drain() == 0
    assert len(harness.fake.calls_to("conversations.create")) == 1
    # The hung call fails, the row backs off, and everything is delivered, the channel once.
    await harness.bot.delivery.wait_idle()
    await _deliver_all(harness)
    created = [c for c in harness.fake.calls_to("conversations.create") if c.ok]
    assert len(created) == 1
    assert len(harness.fake.workspace.pins) == 1


async def test_delivery_logs_carry_the_incident_id(harness: Harness) -> None:
    import logging

    from epbot.logs import ContextFilter, JsonFormatter

    lines: list[str] = []

    class Collect(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            lines.append(self.format(record))

    handler = Collect()
    handler.addFilter(ContextFilter())
    handler.setFormatter(JsonFormatter())
    logger = logging.getLogger("epbot.adapters.slack.delivery")
    logger.addHandler(handler)
    try:
        harness.fake.inject_failure("conversations.create", status=500, times=2)  # one retry inline
        incident_id = await _submit(harness)
        await harness.settle()
    finally:
        logger.removeHandler(handler)
    records = [json.loads(line) for line in lines]
    retry = next(r for r in records if "retry in" in r["message"])
    assert retry["incident_id"] == str(incident_id)
