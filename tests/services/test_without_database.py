"""The incident service over the in-memory store (tests/services/fakes.py): no database.

What the ports promise is what is checked: a use case commits state, timeline and outbox
together, kicks delivery only after that commit, moves the alarm clock to the next due
timer, answers a repeated key without changing anything, and keeps a refused attempt on
the timeline even though the attempt itself is rolled back.
"""

from __future__ import annotations

from datetime import timedelta

import pytest

from epbot.adapters.clock import FakeClock
from epbot.adapters.playbook_files import PlaybookLibrary
from epbot.domain.errors import DomainError, ErrorCode
from epbot.domain.playbook import Severity
from epbot.services.audit import AuditService
from epbot.services.incidents import IncidentService
from tests.services.conftest import START, report
from tests.services.fakes import FakeStore, RecordingNotifier, RecordingTimers

PAGE, OFFICE = "emergency-office#1", "U01EOF0001"


@pytest.fixture
def store() -> FakeStore:
    return FakeStore()


@pytest.fixture
def notifier(store: FakeStore) -> RecordingNotifier:
    return RecordingNotifier(store)


@pytest.fixture
def timers() -> RecordingTimers:
    return RecordingTimers()


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(START)


@pytest.fixture
def service(
    store: FakeStore,
    clock: FakeClock,
    library: PlaybookLibrary,
    notifier: RecordingNotifier,
    timers: RecordingTimers,
) -> IncidentService:
    return IncidentService(
        store=store, clock=clock, playbooks=library, timers=timers, notifier=notifier
    )


async def _declare(service: IncidentService, key: str = "report-1") -> int:
    outcome = await service.declare(
        key=key,
        playbook="system-fault",
        severity=Severity.II,
        report=report(),
        reporter="U09REPORTER",
    )
    return outcome.incident_id


async def test_declare_then_acknowledge_commits_then_kicks(
    service: IncidentService,
    store: FakeStore,
    notifier: RecordingNotifier,
    timers: RecordingTimers,
) -> None:
    outcome = await service.declare(
        key="report-1",
        playbook="system-fault",
        severity=Severity.II,
        report=report(),
        reporter="U09REPORTER",
    )
    assert outcome.kinds[0] == "declared"
    assert outcome.events[0].data["number"] == "2026-0001"
    rows = len(store.tables.outbox)
    assert rows > 0
    # One kick, after the commit: the rows it announces were already stored when it came.
    assert notifier.seen == [rows]
    state = await service.state(outcome.incident_id)
    due = min(t.due_at for t in state.timers if t.live)
    assert timers.asked[-1] == due

    again = await service.declare(
        key="report-1",
        playbook="system-fault",
        severity=Severity.II,
        report=report(),
        reporter="U09REPORTER",
    )
    assert again.duplicate
    assert again.incident_id == outcome.incident_id
    assert len(store.tables.outbox) == rows
    assert notifier.seen == [rows]  # nothing new: no kick

    acked = await service.acknowledge_page(
        key="ack-1", incident_id=outcome.incident_id, page=PAGE, actor=OFFICE
    )
    assert "page_acknowledged" in acked.kinds
    assert (await service.state(outcome.incident_id)).commander == OFFICE
    assert len(notifier.seen) == 2
    assert notifier.seen[-1] == len(store.tables.outbox) > rows
    checked, problem = await AuditService(store).check(outcome.incident_id)
    assert problem is None
    assert checked == len(store.tables.timeline[outcome.incident_id])


async def test_a_refused_attempt_is_rolled_back_but_stays_on_the_timeline(
    service: IncidentService, store: FakeStore, notifier: RecordingNotifier
) -> None:
    incident = await _declare(service)
    before = await service.state(incident)
    kicks = len(notifier.seen)
    with pytest.raises(DomainError) as err:
        await service.acknowledge_page(
            key="ack-x", incident_id=incident, page=PAGE, actor="U02INS0002"
        )
    assert err.value.code is ErrorCode.NOT_PAGED
    after = await service.state(incident)
    assert after.pages == before.pages
    assert after.commander is None
    assert "ack-x" not in store.tables.keys  # the attempt's transaction left nothing
    entries = await service.timeline(incident)
    assert entries[-1]["kind"] == "refused"
    assert store.tables.outbox[-1] == (incident, "refused")
    assert len(notifier.seen) == kicks + 1


async def test_a_tick_fires_each_due_timer_once_and_kicks_once(
    service: IncidentService,
    store: FakeStore,
    clock: FakeClock,
    notifier: RecordingNotifier,
    timers: RecordingTimers,
) -> None:
    incident = await _declare(service)
    assert await service.tick() == 0  # nothing due yet
    kicks = len(notifier.seen)
    clock.advance(timedelta(minutes=20))
    fired = await service.tick()
    assert fired > 0
    assert len(notifier.seen) == kicks + 1
    assert await service.tick() == 0  # each timer fired once
    kinds = [e["kind"] for e in await service.timeline(incident)]
    assert "page_timed_out" in kinds
    state = await service.state(incident)
    assert all(t.due_at > clock.now() for t in state.timers)
    assert timers.asked[-1] == min(t.due_at for t in state.timers)


async def test_open_incidents_lists_what_is_open(
    service: IncidentService, library: PlaybookLibrary
) -> None:
    first = await _declare(service, "r-1")
    second = await _declare(service, "r-2")
    await service.cancel(key="c-1", incident_id=first, actor=OFFICE, reason="误报")
    listed = await service.open_incidents()
    assert [(o.number, o.state.id) for o in listed] == [("2026-0002", second)]
