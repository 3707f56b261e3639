"""Service fixtures: the shipped playbooks, a fake clock, and services over the test database."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime
from itertools import count
from pathlib import Path

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from epbot.adapters.clock import FakeClock
from epbot.adapters.db.engine import make_engine
from epbot.adapters.db.store import SqlStore
from epbot.adapters.playbook_files import PlaybookLibrary
from epbot.domain import incident as dom
from epbot.domain.playbook import Severity
from epbot.services.incidents import IncidentService, Outcome

PLAYBOOKS = Path(__file__).resolve().parents[2] / "playbooks"
START = datetime(2026, 11, 24, 1, 0, tzinfo=UTC)
_keys = count(1)


def key(prefix: str = "k") -> str:
    """A fresh idempotency key."""
    return f"{prefix}-{next(_keys)}"


def report(title: str = "平台故障 / platform fault", at: datetime = START) -> dom.ReportFields:
    return dom.ReportFields(
        occurred_at=at,
        place="机房 / server room",
        nature="fault",
        scope="all units",
        trend="worsening",
        measures="none yet",
        unit_id="user-it",
        contact_phone="022-2630-0101",
        title=title,
    )


@pytest.fixture(scope="session")
def library() -> PlaybookLibrary:
    lib = PlaybookLibrary(PLAYBOOKS)
    lib.load()
    return lib


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(START)


@pytest.fixture
async def make_service(
    database_url: str, clock: FakeClock, library: PlaybookLibrary
) -> AsyncIterator[Callable[..., IncidentService]]:
    """Build services over the test database, each with its own engine (disposed at the end)."""
    engines: list[AsyncEngine] = []

    def build(*, holder: str | None = None) -> IncidentService:
        eng = make_engine(database_url)
        engines.append(eng)
        return IncidentService(
            store=SqlStore(eng), clock=clock, playbooks=library, holder=holder
        )

    yield build
    for eng in engines:
        await eng.dispose()


@pytest.fixture
async def service(
    engine: AsyncEngine, clock: FakeClock, library: PlaybookLibrary
) -> IncidentService:
    return IncidentService(
        store=SqlStore(engine), clock=clock, playbooks=library, holder="svc-a"
    )


@pytest.fixture
def declare(service: IncidentService) -> Callable[..., Awaitable[Outcome]]:
    async def run(
        playbook: str = "system-fault",
        severity: Severity | None = Severity.II,
        *,
        reporter: str = "U09REPORTER",
        drill: bool = False,
    ) -> Outcome:
        return await service.declare(
            key=key("declare"),
            playbook=playbook,
            severity=severity,
            report=report(),
            reporter=reporter,
            drill=drill,
        )

    return run


async def ack_all(service: IncidentService, incident_id: int) -> None:
    """Every unanswered page is acknowledged by the person it went to."""
    state = await service.state(incident_id)
    acked_roles = {p.role for p in state.pages if p.acked_at}
    for page in state.pages:
        if page.role in acked_roles:
            continue
        await service.acknowledge_page(
            key=key("ack"), incident_id=incident_id, page=page.key, actor=page.person
        )
        acked_roles.add(page.role)
