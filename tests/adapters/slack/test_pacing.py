"""Pacing: each method within its rate tier, posting per channel, a 429 pausing only what
it names. No sleeping: the waits are read, not waited for."""

from __future__ import annotations

import pytest

from epbot.adapters.slack.pacing import POST_PER_CHANNEL, TIER_WINDOWS, Deferred, Pacer, tier_of


def test_tiers_come_from_the_vendored_reference() -> None:
    assert tier_of("conversations.create") == "t2"
    assert tier_of("chat.update") == "t3"
    assert tier_of("views.open") == "t4"
    assert tier_of("no.such.method") == "t3"


async def test_a_tier_2_method_gets_its_window_then_waits() -> None:
    pacer = Pacer()
    amount, window = TIER_WINDOWS["t2"]
    for _ in range(amount):
        await pacer.acquire("conversations.create", None, longest=0.0)
    wait = pacer.wait_needed("conversations.create", None)
    assert window - 2 < wait <= window
    with pytest.raises(Deferred) as deferred:
        await pacer.acquire("conversations.create", None, longest=5.0)
    assert deferred.value.wait > 5.0
    # Other methods are not held back by it.
    assert pacer.wait_needed("chat.update", None) == 0.0
    assert pacer.wait_needed("pins.add", None) == 0.0


async def test_posting_is_paced_per_channel() -> None:
    pacer = Pacer()
    amount, window = POST_PER_CHANNEL
    for _ in range(amount):
        await pacer.acquire("chat.postMessage", "C1", longest=0.0)
    assert 0 < pacer.wait_needed("chat.postMessage", "C1") <= window
    assert pacer.wait_needed("chat.postMessage", "C2") == 0.0  # another channel goes on


async def test_a_429_pauses_only_its_method_or_channel() -> None:
    now = [1000.0]
    pacer = Pacer(clock=lambda: now[0])
    pacer.pause("chat.postMessage", "C1", 7.0)
    pacer.pause("chat.update", "C1", 3.0)
    assert pacer.wait_needed("chat.postMessage", "C1") >= 7.0 - 0.01
    assert pacer.wait_needed("chat.postMessage", "C2") == 0.0
    # chat.update is paced per method, not per channel: its pause covers every channel.
    assert pacer.wait_needed("chat.update", "C9") >= 3.0 - 0.01
    assert pacer.wait_needed("conversations.invite", "C1") == 0.0
    now[0] += 7.5
    assert pacer.wait_needed("chat.postMessage", "C1") == 0.0


async def test_disabled_pacing_never_waits() -> None:
    pacer = Pacer(enabled=False)
    for _ in range(100):
        await pacer.acquire("conversations.create", None, longest=0.0)
    assert pacer.wait_needed("conversations.create", None) == 0.0


async def test_a_call_slack_did_not_count_gives_its_slot_back() -> None:
    now = [50.0]
    pacer = Pacer(clock=lambda: now[0])
    amount, _window = POST_PER_CHANNEL
    slots = [await pacer.acquire("chat.postMessage", "C1", longest=0.0) for _ in range(amount)]
    assert pacer.wait_needed("chat.postMessage", "C1") > 0
    pacer.refund(slots[-1])  # answered 503: Slack did not count it
    assert pacer.wait_needed("chat.postMessage", "C1") == 0.0
