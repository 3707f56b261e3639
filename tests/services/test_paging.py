"""Paging: ack timeout -> the role's backup -> the role's escalation target."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import pytest

from epbot.adapters.clock import FakeClock
from epbot.adapters.slack.refusals import explain
from epbot.domain.errors import DomainError, ErrorCode
from epbot.domain.incident import PageReason, Status
from epbot.services.incidents import IncidentService
from tests.services.conftest import key


async def page_events(service: IncidentService, iid: int, role: str) -> list[tuple[str, Any]]:
    out = []
    for e in await service.timeline(iid):
        data = json.loads(e["payload"])
        if e["kind"] in ("paged", "page_timed_out", "page_acknowledged") and data["role"] == role:
            out.append((e["kind"], data.get("person") or e["actor"], data.get("reason")))
        if e["kind"] == "role_exhausted" and data["role"] == role:
            out.append((e["kind"], data["escalate_to"], None))
    return out


async def test_declaring_pages_commander_and_early_roles(declare, service: IncidentService) -> None:
    outcome = await declare("db-crash")
    state = await service.state(outcome.incident_id)
    assert state.status is Status.REPORTED
    paged = [(p.role, p.person, p.reason) for p in state.pages]
    assert paged[0] == ("emergency-office", "U01EOF0001", PageReason.DECLARED)
    early = {
        s.role for s in state.steps.values() if s.stage_id.value in ("report", "initial_handling")
    }
    assert {p.role for p in state.pages} == early | {"emergency-office"}
    # Roles of later stages are not paged yet.
    assert "leadership-leader" not in {p.role for p in state.pages}


async def test_ack_timeout_backup_then_escalation_target(
    declare, service: IncidentService, clock: FakeClock
) -> None:
    iid = (await declare("system-fault")).incident_id
    # The office files its report without answering the page (so no overdue step pages
    # the leader first): the page itself must escalate.
    clock.advance(timedelta(minutes=1))
    await service.send_report(
        key=key(), incident_id=iid, step="report-office", actor="U01EOF0001"
    )
    # emergency-office: ack_timeout 3m, people EOF1 then EOF2, escalate_to leadership-leader.
    clock.advance(timedelta(minutes=2))
    await service.tick()
    assert await page_events(service, iid, "emergency-office") == [
        ("paged", "U01EOF0001", "declared"),
        ("page_timed_out", "U01EOF0001", None),
        ("paged", "U01EOF0002", "backup"),
    ]
    assert await page_events(service, iid, "leadership-leader") == []
    clock.advance(timedelta(minutes=3))
    await service.tick()
    events = await page_events(service, iid, "emergency-office")
    assert events[3:] == [
        ("page_timed_out", "U01EOF0002", None),
        ("role_exhausted", "leadership-leader", None),
    ]
    leader = await page_events(service, iid, "leadership-leader")
    assert leader == [("paged", "U01LDR0001", "role_escalation")]

    # leadership-leader: default 5m ack timeout, then the deputy leader; nobody after that.
    clock.advance(timedelta(minutes=5))
    await service.tick()
    leader = await page_events(service, iid, "leadership-leader")
    assert ("paged", "U01LDR0002", "backup") in leader

    # The deputy acknowledges: no further page for that role, the clock may run on.
    state = await service.state(iid)
    page = next(p for p in state.pages if p.role == "leadership-leader" and p.person.endswith("2"))
    await service.acknowledge_page(key=key(), incident_id=iid, page=page.key, actor="U01LDR0002")
    before = len(await page_events(service, iid, "leadership-leader"))
    clock.advance(timedelta(minutes=30))
    await service.tick()
    after = await page_events(service, iid, "leadership-leader")
    assert not [e for e in after[before:] if e[0] in ("page_timed_out", "role_exhausted")]


async def test_exhausted_role_names_a_target_already_paged(
    declare, service: IncidentService, clock: FakeClock
) -> None:
    iid = (await declare("system-fault")).incident_id
    # report-office is overdue at 5m and pages the leader; at 6m the office's list runs out.
    for _ in range(6):
        clock.advance(timedelta(minutes=1))
        await service.tick()
    exhausted = [
        json.loads(e["payload"])
        for e in await service.timeline(iid)
        if e["kind"] == "role_exhausted"
    ]
    assert exhausted == [
        {"role": "emergency-office", "escalate_to": "leadership-leader", "already_paged": True}
    ]
    leader = await page_events(service, iid, "leadership-leader")
    assert leader == [("paged", "U01LDR0001", "overdue")]  # not paged twice


async def test_exhausted_role_without_target_stops(
    declare, service: IncidentService, clock: FakeClock
) -> None:
    iid = (await declare("system-fault")).incident_id
    for _ in range(6):
        clock.advance(timedelta(minutes=5))
        await service.tick()
    events = await page_events(service, iid, "leadership-leader")
    # the leader's own list runs out: nobody else is paged for it, and it is said so
    assert ("role_exhausted", None, None) in events
    assert {e[1] for e in events if e[0] == "paged"} == {"U01LDR0001", "U01LDR0002"}
    persons = [e[1] for e in events if e[0] == "paged"]
    assert persons[:2] == ["U01LDR0001", "U01LDR0002"]


async def test_late_ack_by_first_person_still_counts(
    declare, service: IncidentService, clock: FakeClock
) -> None:
    iid = (await declare("system-fault")).incident_id
    clock.advance(timedelta(minutes=3))
    await service.tick()
    await service.acknowledge_page(
        key=key(), incident_id=iid, page="emergency-office#1", actor="U01EOF0001"
    )
    state = await service.state(iid)
    assert state.commander == "U01EOF0001"
    assert state.status is Status.INITIAL_HANDLING
    # the backup's page is answered too: its timeout is cancelled
    assert not [t for t in state.timers if t.target.startswith("emergency-office#")]
    with pytest.raises(DomainError) as err:
        await service.acknowledge_page(
            key=key(), incident_id=iid, page="emergency-office#2", actor="U01EOF0002"
        )
    assert err.value.code is ErrorCode.ALREADY_ACKED
    assert "U01EOF0001" in explain(err.value, "en")


async def test_ack_by_someone_not_paged_is_refused(declare, service: IncidentService) -> None:
    iid = (await declare("system-fault")).incident_id
    with pytest.raises(DomainError) as err:
        await service.acknowledge_page(
            key=key(), incident_id=iid, page="emergency-office#1", actor="U02INS0002"
        )
    assert err.value.code is ErrorCode.NOT_PAGED
    assert explain(err.value, "zh-CN") == "此呼叫不是发给你的。"
    kinds = [e["kind"] for e in await service.timeline(iid)]
    assert kinds[-1] == "refused"
