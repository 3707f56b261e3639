"""GET /metrics after a scenario run: declare, ack, steps on time and late, reminders fired.

Time moves with the FakeClock, so every figure below is exact: the page is acknowledged
90 s after it was sent, the two reminders due at +3 min fire 7 s late, the security
officer's deadline (+5 min) fires 60 s late.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from prometheus_client.parser import text_string_to_metric_families
from sqlmodel import select

from epbot.adapters.db import models as m
from tests.scenarios.conftest import START

COMMANDER = "U01EOF0001"


async def _scrape(harness: Any) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    async with harness.session.get(harness.base + "/metrics") as response:
        assert response.status == 200
        assert response.headers["Content-Type"].startswith("text/plain")
        text = await response.text()
    samples: dict[tuple[str, tuple[tuple[str, str], ...]], float] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            samples[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return samples


def _get(samples: dict[Any, float], name: str, **labels: str) -> float:
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


async def test_metrics_after_a_scenario(ops_harness: Any) -> None:
    h = ops_harness
    service = h.bot.service
    incident_id = await h.declare()

    # One 429 from Slack on the next post: retried, counted.
    h.fake.inject_failure("chat.postMessage", status=429, times=1, retry_after=0)
    h.clock.advance(timedelta(seconds=90))
    await service.acknowledge_page(
        key="ack-1", incident_id=incident_id, page="emergency-office#1", actor=COMMANDER
    )
    await service.send_report(
        key="done-1", incident_id=incident_id, step="report-office", actor=COMMANDER
    )
    await h.eventually(h._delivered)

    h.clock.set(START + timedelta(minutes=3, seconds=7))
    assert await service.tick() == 1  # the security officer's reminder (report-office is done)
    h.clock.set(START + timedelta(minutes=6))
    assert await service.tick() >= 1  # its deadline, among others
    await service.send_report(
        key="done-2", incident_id=incident_id, step="report-security-officer", actor=COMMANDER
    )
    await h.eventually(h._delivered)

    samples = await _scrape(h)

    state = await h.state(incident_id)
    assert _get(
        samples,
        "epbot_incidents",
        status=state.status.value,
        severity="II",
        playbook="db-crash",
        drill="false",
    ) == 1

    async with h.sessions()() as session:
        pages = list(await session.exec(select(m.Page)))
        timers = list(await session.exec(select(m.Timer)))
        outbox = list(await session.exec(select(m.OutboxMessage)))
    sent_by_reason: dict[str, int] = {}
    for page in pages:
        sent_by_reason[page.reason] = sent_by_reason.get(page.reason, 0) + 1
    for reason, count in sent_by_reason.items():
        assert _get(samples, "epbot_pages_sent_total", reason=reason) == count
    assert _get(samples, "epbot_pages_acknowledged_total", reason="declared") == 1
    assert _get(samples, "epbot_page_ack_seconds_count") == 1
    assert _get(samples, "epbot_page_ack_seconds_sum") == 90
    assert _get(samples, "epbot_page_ack_seconds_bucket", le="60.0") == 0
    assert _get(samples, "epbot_page_ack_seconds_bucket", le="120.0") == 1

    assert _get(samples, "epbot_steps_done_total", timing="on_time") == 1
    assert _get(samples, "epbot_steps_done_total", timing="late") == 1

    # Reminder lateness: the security officer's reminder fired 7 s late (first tick); the
    # second tick fired the reminders and deadlines due at +5 min, 60 s late.
    reminder = next(
        t for t in timers if t.kind == "step_reminder" and t.target == "report-security-officer"
    )
    assert reminder.fired_at == START + timedelta(minutes=3, seconds=7)
    assert reminder.fired_at - reminder.due_at == timedelta(seconds=7)
    for kind in ("step_reminder", "step_due"):
        late = [
            (t.fired_at - t.due_at).total_seconds()
            for t in timers
            if t.kind == kind and t.fired_at is not None and not t.cancelled
        ]
        assert late, kind
        assert _get(samples, "epbot_timer_lateness_seconds_count", kind=kind) == len(late)
        assert _get(samples, "epbot_timer_lateness_seconds_sum", kind=kind) == sum(late)
        for le in (5.0, 10.0, 60.0):
            assert _get(
                samples, "epbot_timer_lateness_seconds_bucket", kind=kind, le=str(le)
            ) == sum(1 for x in late if x <= le)
    assert _get(samples, "epbot_timer_lateness_seconds_bucket", kind="step_reminder", le="5.0") == 0
    assert (
        _get(samples, "epbot_timer_lateness_seconds_bucket", kind="step_reminder", le="10.0") == 1
    )
    security_due = next(
        t for t in timers if t.kind == "step_due" and t.target == "report-security-officer"
    )
    assert security_due.fired_at == START + timedelta(minutes=6)
    pending = [t for t in timers if t.fired_at is None and not t.cancelled]
    assert _get(samples, "epbot_timers_pending") == len(pending)
    assert _get(samples, "epbot_timers_overdue") == 0

    # Slack calls as the fake saw them, and the one 429.
    posts = h.fake.calls_to("chat.postMessage")
    ok_posts = [c for c in posts if c.ok]
    assert len(posts) == len(ok_posts) + 1
    assert _get(
        samples, "epbot_slack_api_calls_total", method="chat.postMessage", outcome="ok"
    ) == len(ok_posts)
    assert _get(samples, "epbot_slack_api_rate_limited_total", method="chat.postMessage") == 1
    assert _get(samples, "epbot_timer_leader") == 0  # this test never started the timers

    assert _get(samples, "epbot_outbox_messages", status="pending") == 0
    assert _get(samples, "epbot_outbox_messages", status="sent") == len(outbox)
    assert _get(samples, "epbot_outbox_oldest_pending_seconds") == 0


async def test_outbox_depth_and_age_while_slack_is_down(ops_harness: Any) -> None:
    h = ops_harness
    h.fake.inject_failure("conversations.create", status=500, times=100)
    status, _ = await h.command("db-crash")
    assert status == 200
    opened = await h.eventually(lambda: h.fake.calls_to("views.open"))
    await h.submit_report(metadata=opened[-1].args["view"]["private_metadata"])
    await h.eventually(h.incidents)
    await h.settle()
    h.clock.advance(timedelta(minutes=4))  # past the ack timeout and first reminders
    rows = await h.outbox()
    samples = await _scrape(h)
    pending = [r for r in rows if r.status == "pending"]
    assert pending  # the room's rows wait for the channel (page DMs need not)
    assert all(r.status == "pending" for r in rows if r.ordering_key.startswith("room:"))
    assert _get(samples, "epbot_outbox_messages", status="pending") == len(pending)
    assert _get(samples, "epbot_outbox_oldest_pending_seconds") == 240
    assert _get(samples, "epbot_timers_overdue") > 0  # nothing ticked past the ack timeout
    failed = [c for c in h.fake.calls_to("conversations.create") if not c.ok]
    assert failed
    calls = _get(
        samples,
        "epbot_slack_api_calls_total",
        method="conversations.create",
        outcome="internal_error",
    )
    assert calls == len(failed)  # every attempt is counted, retries (epbot's own) included

