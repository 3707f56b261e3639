"""The services' store over SQLAlchemy: transactions, lost races, and the open-incident list
in a fixed number of queries, on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncEngine

from epbot.adapters.clock import FakeClock
from epbot.adapters.db import repository as repo
from epbot.adapters.db.store import SqlStore, SqlTx
from epbot.adapters.playbook_files import PlaybookLibrary
from epbot.domain.playbook import Severity
from epbot.services.incidents import IncidentService
from epbot.services.ports import AlertRecord, NotFound
from tests.services.conftest import START, ack_all, library, report

__all__ = ["library"]


@contextmanager
def counted(engine: AsyncEngine) -> Iterator[list[str]]:
    """The SQL statements the engine runs inside the block."""
    statements: list[str] = []

    def seen(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        statements.append(statement)

    event.listen(engine.sync_engine, "before_cursor_execute", seen)
    try:
        yield statements
    finally:
        event.remove(engine.sync_engine, "before_cursor_execute", seen)


async def _declare(service: IncidentService, n: int, batch: str) -> list[int]:
    ids = []
    for i in range(n):
        outcome = await service.declare(
            key=f"declare-{batch}-{i}",
            playbook=["system-fault", "db-crash", "virus"][i % 3],
            severity=Severity.II,
            report=report(f"incident {i}"),
            reporter="U09REPORTER",
        )
        ids.append(outcome.incident_id)
    return ids


async def test_the_open_list_costs_the_same_queries_for_one_or_many(
    engine: AsyncEngine, library: PlaybookLibrary
) -> None:
    store = SqlStore(engine)
    service = IncidentService(store=store, clock=FakeClock(START), playbooks=library)
    [first] = await _declare(service, 1, "a")
    with counted(engine) as one:
        listed = await service.open_incidents()
    assert [o.state.id for o in listed] == [first]

    more = await _declare(service, 6, "b")
    await ack_all(service, more[0])
    await service.cancel(key="cancel", incident_id=more[1], actor="U01EOF0001", reason="误报")
    with counted(engine) as seven:
        listed = await service.open_incidents()
    assert [o.state.id for o in listed] == [first, *more[:1], *more[2:]]
    assert len(seven) == len(one)  # not one load per incident: the N+1 is gone
    # The batch load gives each incident exactly what loading it alone gives.
    for found in listed:
        assert found.state.id is not None
        alone = await service.state(found.state.id)
        assert found.state.steps == alone.steps
        assert found.state.pages == alone.pages
        assert found.state.timers == alone.timers
        assert found.state.approvals == alone.approvals
        assert found.state.receipts == alone.receipts
        assert found.state.stages == alone.stages
    assert listed[0].number == "2026-0001"
    assert listed[1].state.commander is not None


async def test_a_lost_race_runs_the_work_again_on_a_clean_transaction(engine: AsyncEngine) -> None:
    store = SqlStore(engine)
    attempts: list[dict[str, Any] | None] = []

    async def work(tx: SqlTx) -> int:
        attempts.append(await tx.recall_key("k"))
        await tx.remember_key("k", {"attempt": len(attempts)}, START)
        if len(attempts) == 1:
            raise repo.StaleState("someone else saved the incident first")
        return len(attempts)

    assert await store.write(work) == 2
    assert attempts == [None, None]  # the first attempt's row was rolled back
    assert await store.read(lambda tx: tx.recall_key("k")) == {"attempt": 2}


async def test_an_error_rolls_the_whole_work_back(engine: AsyncEngine) -> None:
    store = SqlStore(engine)

    async def work(tx: SqlTx) -> None:
        await tx.remember_key("k", {"done": True}, START)
        raise NotFound("incident 404")

    with pytest.raises(NotFound):
        await store.write(work)
    assert await store.read(lambda tx: tx.recall_key("k")) is None


async def test_an_alert_record_round_trips(engine: AsyncEngine) -> None:
    store = SqlStore(engine)
    alert = AlertRecord(
        source="prometheus",
        kind="alertmanager",
        fingerprint="f1",
        live_key="prometheus:f1",
        status="firing",
        summary="disk full",
        details="",
        labels='{"instance": "db1"}',
        first_seen_at=START,
        last_seen_at=START,
        action="warn",
    )

    async def add(tx: SqlTx) -> None:
        await tx.add_alert(alert)
        await tx.show_alert(alert.id or 0, "C0ALERTS", START)

    await store.write(add)
    assert alert.id is not None
    found = await store.read(lambda tx: tx.find_open_alert("prometheus:f1"))
    assert found == alert
    assert found.label_map() == {"instance": "db1"}

    found.count, found.live_key, found.version = 2, None, 2

    async def update(tx: SqlTx) -> None:
        await tx.update_alert(found)

    await store.write(update)
    assert await store.read(lambda tx: tx.find_open_alert("prometheus:f1")) is None
    assert await store.read(lambda tx: tx.get_alert(alert.id or 0)) == found


async def test_outbox_rows_carry_their_events_place_in_the_audit_chain(
    engine: AsyncEngine, library: PlaybookLibrary
) -> None:
    """A stage change's message states the chain's head: the row's seq and hash ride along
    with the event (outside its hashed data), equal to the timeline row's."""
    import json

    from sqlmodel import select

    from epbot.adapters.db import models as m
    from epbot.adapters.db.engine import make_sessionmaker
    from epbot.adapters.slack.render.messages import event_text
    from epbot.domain.anchor import find_anchors
    from tests.adapters.slack.render.samples import context

    store = SqlStore(engine)
    service = IncidentService(store=store, clock=FakeClock(START), playbooks=library)
    [incident] = await _declare(service, 1, "chain")
    async with make_sessionmaker(engine)() as session:
        timeline = {
            (row.kind, row.seq): row.hash
            for row in (await session.exec(select(m.TimelineEvent))).all()
        }
        rows = (await session.exec(select(m.OutboxMessage))).all()
    payloads = [json.loads(row.payload) for row in rows if row.method == "event"]
    assert payloads
    for payload in payloads:
        chain = payload["chain"]
        assert timeline[(payload["kind"], chain["seq"])] == chain["hash"]
    [stage] = [p for p in payloads if p["kind"] == "stage_entered"][:1]
    state = await service.state(incident)
    for locale in ("en", "zh-CN"):
        ctx = context(locale)
        text = event_text(state, stage, ctx) or ""
        [anchor] = find_anchors(text)
        assert (anchor.entries, anchor.head) == (stage["chain"]["seq"], stage["chain"]["hash"])
