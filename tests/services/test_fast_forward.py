"""Issue 14 through the service and the database: db-crash, the clock fast-forwarded an hour
and one tick, as the sandbox does (timers claimed in batches, each incident loaded once)."""

from __future__ import annotations

import json
from collections import Counter
from datetime import timedelta
from typing import Any

from epbot.adapters.clock import FakeClock
from epbot.domain import incident as dom
from epbot.services.incidents import IncidentService
from tests.services.conftest import ack_all, key, report

HOUR = timedelta(hours=1)
OFFICE = ("U01EOF0001", "U01EOF0002")


async def events(service: IncidentService, iid: int, kind: str) -> list[dict[str, Any]]:
    return [
        {"at": e["at"], "actor": e["actor"], **json.loads(e["payload"])}
        for e in await service.timeline(iid)
        if e["kind"] == kind
    ]


async def test_an_hour_fast_forwarded_escalates_in_a_way_a_person_can_follow(
    declare, service: IncidentService, clock: FakeClock
) -> None:
    iid = (await declare("db-crash")).incident_id
    await ack_all(service, iid)
    state = await service.state(iid)
    leader_pages = [p for p in state.pages if p.role == "leadership-leader"]
    assert leader_pages == []
    clock.advance(HOUR)
    await service.tick()
    clock.advance(timedelta(minutes=10))  # the leader's clock runs out, then the deputy's
    await service.tick()
    state = await service.state(iid)

    timed_out = Counter(
        (e["at"], e["role"], e["person"]) for e in await events(service, iid, "page_timed_out")
    )
    assert timed_out
    assert max(timed_out.values()) == 1
    for page in await events(service, iid, "paged"):
        members = state.members(page["role"])
        assert page["attempt"] == members.index(page["person"]) + 1
        assert page["group"] == f"{page['person']}@{page['at'].isoformat()}"
    # four overdue steps page the leader in one tick: one group, one clock
    first = [
        p for p in state.pages if p.role == "leadership-leader" and p.reason.value == "overdue"
    ]
    assert len(first) == 4
    assert dom.page_group(state, first[0]) == first
    assert {dom.page_status(state, p) for p in first} == {dom.PageStatus.TIMED_OUT}

    waiting = [
        e
        for e in await events(service, iid, "step_waiting")
        if e["step"] == "approve-emergency-response"
    ]
    assert [e["waiting_for"] for e in waiting] == [["report-leadership"]]
    overdue = {e["step"] for e in await events(service, iid, "step_overdue")}
    assert "approve-emergency-response" not in overdue

    # The late report asks for the approval: a fresh window, not one already over.
    now = clock.now()
    await service.send_report(
        key=key(), incident_id=iid, step="report-leadership", actor=state.commander or ""
    )
    await service.tick()
    requested = await events(service, iid, "approval_requested")
    assert [e["due_at"] for e in requested] == [(now + dom.DEFAULT_APPROVAL_TIMEOUT).isoformat()]
    assert await events(service, iid, "approval_expired") == []


async def test_the_reporter_holding_the_office_is_not_paged_about_her_report(
    declare, service: IncidentService, clock: FakeClock
) -> None:
    iid = (await declare("db-crash", reporter=OFFICE[0])).incident_id
    state = await service.state(iid)
    assert state.commander == OFFICE[0]
    assert state.status is dom.Status.INITIAL_HANDLING
    clock.advance(HOUR)
    await service.tick()
    office = [e for e in await events(service, iid, "paged") if e["role"] == "emergency-office"]
    assert [e for e in office if e["needs_ack"]] == []
    acked = await events(service, iid, "page_acknowledged")
    assert [(e["actor"], e["role"], e["implied"]) for e in acked] == [
        (OFFICE[0], "emergency-office", True)
    ]
    timed_out = {e["role"] for e in await events(service, iid, "page_timed_out")}
    assert "emergency-office" not in timed_out


async def test_a_snooze_is_stored_and_the_deadline_still_escalates(
    declare, service: IncidentService, clock: FakeClock
) -> None:
    """The service has no snooze use case of its own yet: the command goes through the
    generic path every use case takes (load, decide, save, reschedule)."""
    iid = (await declare("db-crash")).incident_id
    await ack_all(service, iid)
    clock.advance(timedelta(minutes=2))
    step = "report-leadership"  # due at 15m, reminders at 5, 10 and 14
    await service._apply(key=key(), incident_id=iid, command=dom.SnoozeStep(OFFICE[0], step, 10))
    for _ in range(13):
        clock.advance(timedelta(minutes=1))
        await service.tick()
    start = report().occurred_at
    reminders = [e["at"] for e in await events(service, iid, "step_reminder") if e["step"] == step]
    # quiet until 12 (the ones at 5 and 10 cancelled), reminded when the snooze ends, then 14
    assert reminders == [start + timedelta(minutes=12), start + timedelta(minutes=14)]
    snoozed = await events(service, iid, "step_snoozed")
    assert [(e["until"], e["clamped"], e["quieted"]) for e in snoozed] == [
        ((start + timedelta(minutes=12)).isoformat(), False, 2)
    ]
    overdue = [e for e in await events(service, iid, "step_overdue") if e["step"] == step]
    assert len(overdue) == 1
    pages = [e for e in await events(service, iid, "paged") if e["step"] == step]
    assert [(e["role"], e["reason"]) for e in pages] == [("leadership-leader", "overdue")]
