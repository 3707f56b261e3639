"""Timers fire exactly once: across a crash, and with two instances ticking at once."""

from __future__ import annotations

import asyncio
import json
from collections import Counter
from datetime import timedelta

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlmodel import select

from epbot.adapters.clock import FakeClock
from epbot.adapters.db import models as m
from epbot.adapters.db import repository as repo
from epbot.adapters.db.engine import make_sessionmaker
from epbot.adapters.metrics import Metrics
from epbot.domain.errors import DomainError
from epbot.services.audit import AuditService
from epbot.services.incidents import IncidentService
from tests.services.conftest import key, report

REMINDERS = ("step_reminder", "step_overdue", "step_nudge", "page_timed_out", "approval_expired")


async def timer_rows(engine: AsyncEngine) -> list[dict]:
    async with make_sessionmaker(engine)() as session:
        rows = await session.exec(select(m.Timer))
        return [r.model_dump() for r in rows]


async def duplicated_reminders(service: IncidentService, incident_ids: list[int]) -> list:
    """Reminder-ish timeline events that occur more than once for the same timer."""
    dupes = []
    for iid in incident_ids:
        seen: Counter[tuple] = Counter()
        for e in await service.timeline(iid):
            if e["kind"] in REMINDERS:
                data = json.loads(e["payload"])
                seen[
                    (
                        e["kind"],
                        data.get("step") or data.get("page") or data.get("approval"),
                        data["due"],
                    )
                ] += 1
        dupes += [(iid, k, n) for k, n in seen.items() if n > 1]
    return dupes


async def declare_many(service: IncidentService, n: int) -> list[int]:
    names = ["system-fault", "db-crash", "attack", "virus", "disaster"]
    ids = []
    for i in range(n):
        outcome = await service.declare(
            key=key("declare"),
            playbook=names[i % len(names)],
            severity=None,
            report=report(f"incident {i}"),
            reporter="U09REPORTER",
        )
        ids.append(outcome.incident_id)
    return ids


async def test_after_a_crash_a_new_instance_fires_every_pending_timer_once(
    database_url: str, make_service, clock: FakeClock
) -> None:
    first = make_service(holder="first")
    ids = await declare_many(first, 3)
    clock.advance(timedelta(minutes=20))
    due_before = {
        r["id"]
        for r in await timer_rows(first.store.engine)
        if r["fired_at"] is None and not r["cancelled"] and r["due_at"] is not None
    }
    # The first instance claims a timer and dies before committing what it did.
    sessions = make_sessionmaker(first.store.engine)
    async with sessions() as session:
        await session.begin()
        [claimed] = await repo.claim_due_timers(session, clock.now(), first.holder, limit=1)
        await session.rollback()
    await first.store.engine.dispose()

    second = make_service(holder="second")
    fired = await second.tick()
    rows = {r["id"]: r for r in await timer_rows(second.store.engine)}
    due = [r for r in rows.values() if r["id"] in due_before]
    overdue_then = [r for r in due if r["due_at"] <= clock.now()]
    assert overdue_then, "the scenario must leave timers due"
    assert all(r["fired_at"] is not None or r["cancelled"] for r in overdue_then)
    assert claimed.id in {r["id"] for r in overdue_then if r["claimed_by"] == "second"}
    assert not [r for r in rows.values() if r["claimed_by"] == "first"]
    assert fired == sum(r["claimed_by"] == "second" for r in rows.values())
    # Nothing due is left; a third instance finds nothing to do.
    assert not [
        r
        for r in rows.values()
        if r["fired_at"] is None and not r["cancelled"] and r["due_at"] <= clock.now()
    ]
    third = make_service(holder="third")
    assert await third.tick() == 0
    assert await duplicated_reminders(second, ids) == []
    for iid in ids:
        assert (await AuditService(second.store).check(iid))[1] is None


async def test_two_instances_ticking_postgres_fire_each_timer_once(
    backend: str, make_service, clock: FakeClock
) -> None:
    if backend == "sqlite":
        pytest.skip("real concurrency needs PostgreSQL; SQLite has a single writer")
    setup = make_service(holder="setup")
    ids = await declare_many(setup, 12)
    a, b = make_service(holder="a"), make_service(holder="b")
    total = {"a": 0, "b": 0}
    for minutes in (3, 3, 4, 5, 5, 10):  # ack timeouts, reminders, overdue, nudges
        clock.advance(timedelta(minutes=minutes))
        fa, fb = await asyncio.gather(a.tick(), b.tick())
        total["a"] += fa
        total["b"] += fb
    rows = await timer_rows(setup.store.engine)
    fired = [r for r in rows if r["fired_at"] is not None]
    assert len(fired) > 100
    assert Counter(r["claimed_by"] for r in fired) == Counter(total)
    assert total["a"] > 0, total  # both did real work
    assert total["b"] > 0, total
    assert await duplicated_reminders(setup, ids) == []
    for iid in ids:
        assert (await AuditService(setup.store).check(iid))[1] is None


async def test_acks_racing_ticks_on_postgres_are_retried_not_lost(
    backend: str, make_service, clock: FakeClock
) -> None:
    """A person answering a page just as its timeout fires: both orders are fine.

    The ack updates the incident then cancels the page's timer; the tick claims that timer
    then updates the incident. On PostgreSQL the opposite lock order can deadlock: the
    loser must be retried, not surface as an error.
    """
    if backend == "sqlite":
        pytest.skip("real concurrency needs PostgreSQL; SQLite has a single writer")
    setup = make_service(holder="setup")
    ids = await declare_many(setup, 10)
    ticker, clicker = make_service(holder="ticker"), make_service(holder="clicker")
    clock.advance(timedelta(minutes=3))  # emergency-office pages time out now

    async def ack(iid: int) -> None:
        try:
            await clicker.acknowledge_page(
                key=key("ack"), incident_id=iid, page="emergency-office#1", actor="U01EOF0001"
            )
        except DomainError as exc:  # the timeout won and paged the backup first: still fine
            raise AssertionError(exc) from exc

    await asyncio.gather(ticker.tick(), *(ack(i) for i in ids), ticker.tick())
    for iid in ids:
        state = await setup.state(iid)
        assert state.commander == "U01EOF0001"
        assert (await AuditService(setup.store).check(iid))[1] is None
    assert await duplicated_reminders(setup, ids) == []


async def test_a_timer_that_keeps_failing_is_set_aside_and_blocks_no_other(
    database_url: str, make_service, clock: FakeClock, caplog: pytest.LogCaptureFixture
) -> None:
    service = make_service(holder="ticker")
    [broken, healthy] = await declare_many(service, 2)  # system-fault, db-crash
    # The broken incident's row is damaged (a severity no code knows): loading it raises, so
    # each of its timers fails to fire. Before, the first such timer stopped every tick.
    sessions = make_sessionmaker(service.store.engine)
    async with sessions() as session, session.begin():
        incident = await session.get(m.Incident, broken)
        assert incident is not None
        incident.severity = "IX"
        session.add(incident)
    clock.advance(timedelta(minutes=20))

    def due(rows: list[dict], iid: int) -> list[dict]:
        return [
            r
            for r in rows
            if r["incident_id"] == iid
            and r["fired_at"] is None
            and not r["cancelled"]
            and r["due_at"] <= clock.now()
        ]

    assert due(await timer_rows(service.store.engine), broken)
    assert due(await timer_rows(service.store.engine), healthy)
    for attempt in range(1, 4):
        await service.tick()  # does not raise
        rows = await timer_rows(service.store.engine)
        assert due(rows, healthy) == []  # the healthy incident's timers all fired
        broken_rows = [r for r in rows if r["incident_id"] == broken and r["attempts"]]
        assert broken_rows
        assert all(r["attempts"] == attempt for r in broken_rows)
        assert all(r["last_error"] for r in broken_rows)
    # After three failed ticks the broken timers are set aside: fired_at set, error kept,
    # and a fourth tick has nothing left to fire or fail.
    rows = await timer_rows(service.store.engine)
    assert due(rows, broken) == []
    assert all(
        r["fired_at"] is not None for r in rows if r["incident_id"] == broken and r["attempts"]
    )
    assert "set aside after 3 failures" in caplog.text
    assert await service.tick() == 0
    set_aside = [r for r in rows if r["incident_id"] == broken and r["attempts"] >= 3]
    text = (await Metrics(service.store.engine).render(now=clock.now())).decode()
    assert f"epbot_timers_set_aside {float(len(set_aside))}" in text
