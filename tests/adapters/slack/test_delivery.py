"""The outbox worker: Slack failures delay messages but never lose, duplicate or reorder them."""

from __future__ import annotations

import asyncio
import json
from datetime import timedelta

import pytest
import sqlalchemy as sa
from sqlmodel import col

from epbot.adapters.db import models as m
from epbot.adapters.slack import delivery as delivery_module
from epbot.adapters.slack.delivery import Delivery
from epbot.domain.incident import ReportFields, StepStatus
from epbot.domain.playbook import StepKind
from epbot.services.ports import NoNotifier
from tests.scenarios import conftest as e2e
from tests.scenarios.conftest import Harness

# The end-to-end harness (FakeSlack + the bot over HTTP), shared with tests/scenarios.
fake = e2e.fake
harness = e2e.harness


def _another_worker(harness: Harness, holder: str | None = None) -> Delivery:
    """A second outbox worker over the same database, as another process would run."""
    first = harness.bot.delivery
    return Delivery(
        engine=harness.bot.engine, clock=first.clock, effects=first.effects, holder=holder
    )


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
    # Each event's line at most once, and each thread reads in the engine's order.
    await _assert_each_thread_in_order(harness, incident_id, rows)
    texts = [m.text for m in ws.messages_in(incident.channel_id) if m.is_reply]
    assert len(texts) == len(set(zip(texts, range(len(texts)), strict=True)))
    posted = [c for c in harness.fake.calls_to("chat.postMessage") if c.ok]
    dm_targets = [c.args["channel"] for c in posted if str(c.args["channel"]).startswith("U")]
    async with harness.sessions()() as session:
        keys = [k for (k,) in await session.exec(sa.select(m.MessageRef.key))]  # type: ignore[call-overload]
    dm_refs = [k for k in keys if k.startswith("page:") or (k.startswith("approval:") and "U" in k)]
    assert len(dm_targets) == len(dm_refs)  # each page and approval request: one DM


async def test_server_errors_and_timeouts_are_retried_at_once_and_lose_nothing(
    harness: Harness,
) -> None:
    # Each failed call is retried by itself, within the same delivery (no row backs off
    # for seconds, nothing that succeeded is redone).
    harness.fake.inject_failure("chat.postMessage", status=500, times=4)
    harness.fake.inject_failure("conversations.invite", status=503, times=2)
    harness.fake.inject_failure("conversations.setTopic", status="timeout", times=1)
    incident_id = await _submit(harness)
    await harness.settle()
    assert await _deliver_all(harness) == 0  # everything went out in the first round
    await _assert_in_order_once(harness, incident_id)
    assert not harness.fake._failures  # every injected failure really happened
    failed = [c for c in harness.fake.calls if not c.ok]
    assert len(failed) >= 6


async def test_a_429_pauses_only_its_method_and_channel(harness: Harness) -> None:
    harness.fake.inject_failure("chat.postMessage", status=429, times=3, retry_after=1)
    incident_id = await _submit(harness)
    await harness.settle()
    await _deliver_all(harness)
    await _assert_in_order_once(harness, incident_id)
    kinds = [json.loads(r.payload)["kind"] for r in await harness.outbox()]
    assert kinds[0] == "declared"
    pacer = harness.bot.client.pacer
    [incident] = await harness.incidents()
    limited = harness.fake.calls_to("chat.postMessage")[0].args["channel"]
    # The pause named the channel the 429 came for; other channels and methods run on.
    assert pacer.key("chat.postMessage", limited) in pacer._paused
    assert "chat.update" not in pacer._paused
    assert pacer.key("chat.postMessage", "D-other") not in pacer._paused
    assert incident.channel_id is not None


async def test_a_dm_goes_out_while_the_incident_channel_keeps_failing(harness: Harness) -> None:
    # Create the incident and its channel first, then make every post to that channel fail.
    incident_id = await _submit(harness)
    await harness.settle()
    [incident] = await harness.incidents()
    channel = incident.channel_id
    assert channel is not None
    harness.fake.inject_failure("chat.postMessage", status=500, times=10_000, channel=channel)
    harness.fake.inject_failure("chat.update", status=500, times=10_000, channel=channel)
    state = await harness.bot.service.state(incident_id)
    page = next(p for p in state.pages if p.acked_at is None)
    await harness.bot.service.acknowledge_page(
        key="ack-while-failing", incident_id=incident_id, page=page.key, actor=page.person
    )
    # An approval request, which DMs the approvers, while the room's lane is stuck.
    await harness.bot.service.request_escalation(
        key="esc-while-failing", incident_id=incident_id, actor=page.person, reason="spreading"
    )
    harness.bot.delivery.kick()
    approvers = state.members(state.matrix.leadership_group)

    def approval_dms() -> list[object]:
        return [
            c
            for c in harness.fake.calls_to("chat.postMessage")
            if c.ok and c.args["channel"] in approvers
        ]

    await harness.eventually(approval_dms, within=20)
    rows = await harness.outbox()
    stuck = [r for r in rows if r.ordering_key == f"room:{incident_id}" and r.status == "pending"]
    assert stuck  # the room's rows wait, in order, for the channel to work again
    harness.fake._failures.clear()  # the channel works again
    await _deliver_all(harness)
    await _assert_in_order_once(harness, incident_id)


async def test_several_pending_edits_of_one_message_go_out_as_one(harness: Harness) -> None:
    incident_id = await _submit(harness)
    await harness.settle()
    [incident] = await harness.incidents()
    harness.fake.reset()
    kicks, harness.bot.service.notifier = harness.bot.service.notifier, NoNotifier()
    for n in range(4):  # four changes of the incident before delivery runs
        await harness.bot.service.post_update(
            key=f"upd-{n}", incident_id=incident_id, actor="U01EOF0001", text=f"update {n}"
        )
    harness.bot.service.notifier = kicks
    await harness.bot.delivery.wait_idle()
    await harness.settle()
    card_edits = [
        c for c in harness.fake.calls_to("chat.update") if c.args.get("ts") == incident.card_ts
    ]
    assert len(card_edits) == 1
    replies = [c for c in harness.fake.calls_to("chat.postMessage") if c.args.get("thread_ts")]
    # One message in the thread carries the four lines, in the order they were decided.
    assert len(replies) == 1
    lines = str(replies[0].args["text"]).splitlines()
    assert [line.split("update ")[-1] for line in lines if "update " in line] == [
        "0",
        "1",
        "2",
        "3",
    ]


async def test_a_slow_delivery_keeps_its_lane_so_no_other_worker_sends_twice(
    harness: Harness, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A short lease, and a first call that hangs until the client gives up (2 s here):
    # the worker renews its lane's lease meanwhile, so a second worker over the same
    # database finds nothing to claim even after the first lease would have run out.
    monkeypatch.setattr(delivery_module, "LEASE", timedelta(seconds=0.4))
    harness.fake.inject_failure("conversations.create", status="timeout", times=1)
    status, _ = await harness.submit_report(view_id="V0LEASE")
    assert status == 200
    await harness.eventually(harness.incidents)
    harness.bot.delivery.kick()  # the first worker takes the new rows (no handler kicks it)
    await harness.eventually(lambda: harness.fake.calls_to("conversations.create"))
    second = _another_worker(harness)
    for _ in range(6):  # 1.8 s of the fake clock: four lease lengths
        harness.clock.advance(timedelta(seconds=0.3))
        await asyncio.sleep(0.15)
        rows = await harness.outbox()
        room_rows = [r for r in rows if r.ordering_key.startswith("room:")]
        before = len(harness.fake.calls_to("conversations.create"))
        await second.drain()
        assert len(harness.fake.calls_to("conversations.create")) == before
        assert room_rows
    assert len(harness.fake.calls_to("conversations.create")) == 1
    # The hung call is retried by its own worker; everything is delivered, the channel once.
    await harness.bot.delivery.wait_idle()
    await _deliver_all(harness)
    created = [c for c in harness.fake.calls_to("conversations.create") if c.ok]
    assert len(created) == 1
    assert len(harness.fake.workspace.pins) == 1


async def test_two_workers_draining_one_outbox_deliver_each_row_once(harness: Harness) -> None:
    for n in range(3):
        status, _ = await harness.submit_report(view_id=f"V0TWO{n}")
        assert status == 200
    first = harness.bot.delivery

    async def all_sent() -> bool:
        await harness.bot.listeners.wait_idle(10)
        await first.wait_idle()
        rows = await harness.outbox()
        return len(await harness.incidents()) == 3 and all(r.status == "sent" for r in rows)

    for _ in range(100):
        if await all_sent():
            break
        await asyncio.sleep(0.1)
    harness.fake.reset()
    # Undo what the first worker already sent, so both workers race for every row.
    async with harness.sessions()() as session, session.begin():
        await session.exec(sa.delete(m.MessageRef))  # type: ignore[call-overload]
        await session.exec(sa.update(m.Incident).values(channel_id=None, card_ts=None))  # type: ignore[call-overload]
        await session.exec(sa.update(m.OutboxMessage).values(status="pending", attempts=0))  # type: ignore[call-overload]
    second = _another_worker(harness, holder="second-process")
    await asyncio.gather(first.drain(), second.drain(), first.drain(), second.drain())
    await _deliver_all(harness)
    created = [c for c in harness.fake.calls_to("conversations.create") if c.ok]
    assert len(created) == 3
    for incident in await harness.incidents():
        assert incident.id is not None
        await _assert_thread_in_order(harness, incident.id)
    dms = [
        c.args["channel"]
        for c in harness.fake.calls_to("chat.postMessage")
        if c.ok and str(c.args["channel"]).startswith("U")
    ]
    async with harness.sessions()() as session:
        refs = list(await session.exec(sa.select(m.MessageRef.key)))  # type: ignore[call-overload]
    page_refs = [k for (k,) in refs if k.startswith("page:")]
    assert page_refs
    assert len(dms) == len(page_refs)  # one DM per page, whichever worker sent it


async def _assert_thread_in_order(harness: Harness, incident_id: int) -> None:
    rows = [r for r in await harness.outbox() if r.ordering_key == f"room:{incident_id}"]
    assert rows
    assert all(r.status == "sent" for r in rows)
    await _assert_each_thread_in_order(harness, incident_id, rows)


async def _assert_each_thread_in_order(
    harness: Harness, incident_id: int, rows: list[m.OutboxMessage]
) -> None:
    """Lines of one batch share a message per thread; across rows, a thread's messages
    never go back in time."""
    by_thread: dict[str | None, list[float]] = {}
    for row in rows:
        try:
            ref = await harness.ref(f"event:{incident_id}:{row.id}")
        except AssertionError:
            continue
        message = harness.fake.workspace.find_message(ref.channel, ref.ts)
        assert message is not None
        by_thread.setdefault(message.thread_ts, []).append(float(ref.ts))
    assert by_thread
    for stamps in by_thread.values():
        assert stamps == sorted(stamps)


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
        # A permanent error: the row is kept and retried later, which is logged.
        harness.fake.inject_failure("conversations.create", status="restricted_action", times=1)
        incident_id = await _submit(harness)
        await harness.settle()
    finally:
        logger.removeHandler(handler)
    records = [json.loads(line) for line in lines]
    retry = next(r for r in records if "retry in" in r["message"])
    assert retry["incident_id"] == str(incident_id)


async def test_a_dead_workers_lanes_are_taken_over_when_its_lease_runs_out(
    harness: Harness,
) -> None:
    # A worker that claimed every lane and died (it never sends, never renews, never
    # releases): nobody else sends those lanes until the lease runs out, then one does.
    dead = _another_worker(harness, holder="dead-process")
    # Declared through the service alone, its kick held: nothing wakes a live worker.
    harness.bot.service.notifier = NoNotifier()
    await harness.bot.service.declare(
        key="dead-worker",
        playbook="db-crash",
        severity=None,
        report=ReportFields(
            occurred_at=harness.clock.now(),
            place="server room",
            nature="database crash",
            scope="all units",
            trend="stable",
            measures="none yet",
            unit_id="user-it",
            contact_phone="+86 22-2630-0101",
            title="DB down",
        ),
        reporter="U09REPORTER",
    )
    claimed = await dead._claim_lanes(exclude=set(), limit=100)
    assert claimed
    survivor = _another_worker(harness, holder="survivor")
    assert await survivor.drain() == 0
    assert not harness.fake.calls_to("conversations.create")
    harness.clock.advance(delivery_module.LEASE + timedelta(seconds=1))
    assert await survivor.drain() > 0
    assert len([c for c in harness.fake.calls_to("conversations.create") if c.ok]) == 1
    rows = await harness.outbox()
    assert all(r.status == "sent" for r in rows)


async def test_a_lane_whose_head_waits_does_not_make_the_worker_spin(harness: Harness) -> None:
    # The room's first row fails for good (kept, retried later); the rows behind it are
    # due but must wait their turn: the worker sleeps until the head is due.
    harness.fake.inject_failure("conversations.create", status="restricted_action", times=1)
    await _submit(harness)
    await harness.settle()
    delivery = harness.bot.delivery
    drains = 0
    drain = delivery.drain

    async def counted() -> int:
        nonlocal drains
        drains += 1
        return await drain()

    delivery.drain = counted  # type: ignore[method-assign]
    delivery.kick()
    await asyncio.sleep(1.5)
    assert drains <= 3
    rows = await harness.outbox()
    assert rows[0].status == "pending"  # still waiting for its retry, nothing lost


async def test_the_rooms_posts_do_not_wait_for_its_edits(harness: Harness) -> None:
    # Edits (card, checklists, DMs already posted, topic) order nothing: while every edit
    # keeps failing, the room's thread lines still go out; the edits wait in the
    # incident's edits lane and catch up, once each, when Slack answers again.
    incident_id = await _submit(harness)
    await harness.settle()
    [incident] = await harness.incidents()
    harness.fake.reset()
    harness.fake.inject_failure("chat.update", status=500, times=10_000)
    harness.fake.inject_failure("conversations.setTopic", status=500, times=10_000)
    service = harness.bot.service
    for n in range(3):
        await service.post_update(
            key=f"upd-{n}", incident_id=incident_id, actor="U01EOF0001", text=f"edits fail {n}"
        )

    def lines() -> list[str]:
        return [
            str(c.args["text"])
            for c in harness.fake.calls_to("chat.postMessage")
            if c.ok and c.args.get("thread_ts") == incident.card_ts
        ]

    def said() -> list[str]:
        return [line for text in lines() for line in text.splitlines() if "edits fail" in line]

    await harness.eventually(lambda: len(said()) == 3, within=15)
    await harness.bot.delivery.wait_idle()  # the edits gave up for now (the client's patience)
    rows = await harness.outbox()
    assert all(r.status == "sent" for r in rows if r.ordering_key == f"room:{incident_id}")
    waiting = [r for r in rows if r.ordering_key == f"edits:{incident_id}" and r.status != "sent"]
    # Kept, in order, for a later attempt.
    assert waiting
    assert all(r.status == "pending" for r in waiting)
    assert "chat.update" in str(waiting[0].last_error)
    assert not [c for c in harness.fake.calls_to("chat.update") if c.ok]
    harness.fake._failures.clear()  # Slack answers again
    harness.clock.advance(timedelta(seconds=5))  # past the edits' backoff, before any deadline
    await harness.settle()
    assert all(r.status == "sent" for r in await harness.outbox())
    card_edits = [
        c
        for c in harness.fake.calls_to("chat.update")
        if c.ok and c.args.get("ts") == incident.card_ts
    ]
    assert len(card_edits) == 1  # the waiting edits of the card went out as one
    assert incident.channel_id is not None
    assert incident.card_ts is not None
    card = harness.fake.workspace.find_message(incident.channel_id, incident.card_ts)
    assert card is not None
    assert card.text == card_edits[0].args["text"]


def _message_text(harness: Harness, ref: m.MessageRef) -> str:
    found = harness.fake.workspace.find_message(ref.channel, ref.ts)
    assert found is not None
    return found.text


async def _summary(harness: Harness, key: str) -> m.MessageRef | None:
    async with harness.sessions()() as session:
        return await session.get(m.MessageRef, key)


async def test_the_announcement_channel_waits_for_none_of_the_rooms_calls(
    harness: Harness,
) -> None:
    # The announcement channel is another conversation: its announcement goes out with the
    # incident's channel, while the room's posts in that channel keep failing; the closing
    # summary goes out while the room's posts and every edit keep failing.
    ws = harness.fake.workspace
    announce_channel = ws.channel_by_name(e2e.INCIDENTS_CHANNEL)
    assert announce_channel is not None
    spare = ws.new_id("C")  # the incident's channel will be the next id
    incident_channel = f"C{int(spare[1:], 16) + 1:08X}"
    harness.fake.inject_failure(
        "chat.postMessage", status=500, times=10_000, channel=incident_channel
    )
    status, _ = await harness.submit_report(view_id="V0ANNOUNCE")
    assert status == 200
    [incident] = await harness.eventually(harness.incidents)
    assert incident.id is not None

    def announced() -> list[str]:
        return [t for t in harness.texts(announce_channel.id) if f"<#{incident_channel}>" in t]

    await harness.eventually(lambda: len(announced()) == 1, within=15)
    [incident] = await harness.incidents()
    assert incident.channel_id == incident_channel
    assert incident.card_ts is None  # the room's first post is still failing
    assert not list(ws.messages_in(incident_channel))
    harness.fake._failures.clear()
    await harness.settle()
    [incident] = await harness.incidents()
    assert incident.card_ts is not None

    # The end: the room's posts and every edit fail; the summary still goes out.
    harness.fake.inject_failure(
        "chat.postMessage", status=500, times=10_000, channel=incident_channel
    )
    harness.fake.inject_failure("chat.update", status=500, times=10_000)
    await harness.bot.service.cancel(
        key="cancel", incident_id=incident.id, actor="U01EOF0001", reason="误报"
    )
    harness.bot.delivery.kick()
    key = f"closing:{incident.id}:cancelled:announce"
    summary = await harness.eventually(lambda: _summary(harness, key), within=15)
    assert summary.channel == announce_channel.id
    rows = await harness.outbox()
    assert [r.status for r in rows if r.ordering_key == f"room:{incident.id}"][-1] != "sent"
    assert not [m for m in ws.messages_in(incident_channel) if "Closing report" in m.text]
    harness.fake._failures.clear()
    await _deliver_all(harness)
    # Each once: the announcement (edited in place) and the summary after it.
    first, last = announced()
    assert "Cancelled" in first
    assert last == _message_text(harness, summary)


async def test_an_end_before_the_channel_exists_waits_for_it(harness: Harness) -> None:
    # Cancelled while Slack will not create the channel: the summary has no channel to
    # link yet, so its row is kept (not marked sent and forgotten) until the room has one.
    harness.fake.inject_failure("conversations.create", status=503, times=10_000)
    status, _ = await harness.submit_report(view_id="V0EARLYEND")
    assert status == 200
    [incident] = await harness.eventually(harness.incidents)
    assert incident.id is not None
    await harness.bot.service.cancel(
        key="cancel", incident_id=incident.id, actor="U01EOF0001", reason="误报"
    )
    await harness.settle()

    async def waiting() -> list[m.OutboxMessage]:
        return [
            r
            for r in await harness.outbox()
            if r.ordering_key == f"announce:{incident.id}" and r.status == "pending"
        ]

    rows = await harness.eventually(lambda: waiting(), within=15)
    assert "channel_not_created_yet" in str(rows[0].last_error)
    assert rows[0].next_attempt_at > harness.clock.now()  # backing off
    # Slack creates channels again; only the room's rows are due (the clock stays).
    harness.fake._failures.clear()
    async with harness.sessions()() as session, session.begin():
        await session.exec(
            sa.update(m.OutboxMessage)
            .where(col(m.OutboxMessage.ordering_key) == f"room:{incident.id}")
            .values(next_attempt_at=harness.clock.now())
        )
    harness.bot.delivery.kick()
    # The channel is what the end waited for: its summary goes out now, not at the end
    # of its backoff.
    key = f"closing:{incident.id}:cancelled:announce"
    summary = await harness.eventually(lambda: _summary(harness, key), within=15)
    await _deliver_all(harness)
    [incident] = await harness.incidents()
    announce_channel = harness.fake.workspace.channel_by_name(e2e.INCIDENTS_CHANNEL)
    assert announce_channel is not None
    texts = harness.texts(announce_channel.id)
    assert len(texts) == 2  # the announcement, then the summary
    assert texts[1] == _message_text(harness, summary)


async def test_a_room_batch_that_fails_hands_over_no_edits(harness: Harness) -> None:
    # The edits row is written in the transaction that marks the room's rows sent: a
    # batch that failed (and will be sent again) hands nothing over, so nothing is edited
    # twice for it and nothing is lost.
    incident_id = await _submit(harness)
    await harness.settle()
    [incident] = await harness.incidents()
    assert incident.channel_id is not None
    before = [r for r in await harness.outbox() if r.ordering_key == f"edits:{incident_id}"]
    assert before
    assert all(r.status == "sent" for r in before)
    harness.fake.inject_failure(
        "chat.postMessage", status=500, times=10_000, channel=incident.channel_id
    )
    await harness.bot.service.post_update(
        key="upd-stuck", incident_id=incident_id, actor="U01EOF0001", text="stuck"
    )
    await harness.settle()
    rows = await harness.outbox()
    assert [r for r in rows if r.ordering_key == f"edits:{incident_id}"] == before
    assert any(r.status == "pending" for r in rows if r.ordering_key == f"room:{incident_id}")
    harness.fake._failures.clear()
    await _deliver_all(harness)
    after = [r for r in await harness.outbox() if r.ordering_key == f"edits:{incident_id}"]
    assert len(after) == len(before) + 1
    await _assert_in_order_once(harness, incident_id)


async def test_a_thread_whose_post_keeps_failing_holds_up_only_its_own_lines(
    harness: Harness,
) -> None:
    # One batch of the room's stream with lines for two threads: a step completed (its
    # checklist's thread) and an update (the card's thread). Slack keeps failing posts in
    # the checklist's thread; the card's thread is another conversation and is not held up.
    incident_id = await _submit(harness)
    await harness.settle()
    [incident] = await harness.incidents()
    state = await harness.bot.service.state(incident_id)
    step = next(
        s
        for s in state.steps.values()
        if s.status is StepStatus.OPEN and s.assignee and s.kind is StepKind.TASK
    )
    assert step.assignee is not None
    async with harness.sessions()() as session:
        checklist = await session.get(
            m.MessageRef, f"checklist:{incident_id}:{step.stage_id.value}"
        )
    assert checklist is not None
    assert checklist.ts != incident.card_ts
    start = len(harness.fake.calls)
    harness.fake.inject_failure(
        "chat.postMessage", status=500, times=10_000, thread_ts=checklist.ts
    )
    kicks, harness.bot.service.notifier = harness.bot.service.notifier, NoNotifier()
    service = harness.bot.service
    await service.complete_step(
        key="done-held", incident_id=incident_id, step=step.step_id, actor=step.assignee
    )
    await service.post_update(
        key="upd-free", incident_id=incident_id, actor=step.assignee, text="not held up"
    )
    harness.bot.service.notifier = kicks
    harness.bot.delivery.kick()

    def replies(thread: str | None) -> list[str]:
        return [
            str(c.args["text"])
            for c in harness.fake.calls[start:]
            if c.method == "chat.postMessage" and c.ok and c.args.get("thread_ts") == thread
        ]

    await harness.eventually(
        lambda: any("not held up" in t for t in replies(incident.card_ts)), within=15
    )
    assert not replies(checklist.ts)
    posts = [c for c in harness.fake.calls[start:] if c.method == "chat.postMessage"]
    assert posts[0].args.get("thread_ts") == checklist.ts  # the failing thread went first
    await harness.bot.delivery.wait_idle()
    rows = await harness.outbox()
    room_rows = [r for r in rows if r.ordering_key == f"room:{incident_id}"]
    assert any(r.status == "pending" for r in room_rows)  # kept for the failing thread
    harness.fake._failures.clear()  # Slack answers again
    await _deliver_all(harness)
    await _assert_in_order_once(harness, incident_id)
    # The update's line went out once: the retry posted only the line still missing.
    assert sum("not held up" in t for t in replies(incident.card_ts)) == 1
    assert len(replies(checklist.ts)) == 1


async def test_a_matrix_persons_failing_look_up_holds_up_no_message(harness: Harness) -> None:
    # Slack answers 429 (Retry-After 20 s) to every look-up of a person the matrix names by
    # e-mail. The incident's channel, card and pages do not wait for it (before, the room's
    # first row failed and waited for its backoff): a message waits MENTION_WAIT at most
    # for the people it may mention, and names the one still unknown by e-mail.
    ref = "dba.oncall@db-vendor.example.com"
    refs = harness.bot.library.current.matrix.refs()
    assert ref in refs
    harness.fake.workspace.add_user("dba-vendor", email=ref)
    await harness.bot.client.known_ids([r for r in refs if "@" in r])  # everyone else known
    harness.bot.client._ids.pop(ref, None)  # as if the start's look-up had not answered
    harness.fake.inject_failure("users.lookupByEmail", status=429, retry_after=20, times=1000)
    status, _ = await harness.submit_report(view_id="V0LOOKUP")
    assert status == 200
    await harness.eventually(lambda: _card_posted(harness), within=6)
    pages = [
        c
        for c in harness.fake.calls_to("chat.postMessage")
        if c.ok and str(c.args["channel"]).startswith("U")
    ]
    assert pages  # the pages went out too
    lookups = harness.fake.calls_to("users.lookupByEmail")
    asked = [c.status for c in lookups if c.args["email"] == ref]
    assert asked[0] == 200  # the test's own look-up above
    assert set(asked[1:]) == {429}  # Slack never told the bot who it is


def _card_posted(harness: Harness) -> bool:
    """Has an incident channel's card (a top-level post with blocks) gone out?"""
    return any(
        c.ok
        and not c.args.get("thread_ts")
        and str(c.args["channel"]).startswith("C")
        and "blocks" in c.args
        for c in harness.fake.calls_to("chat.postMessage")
    )
