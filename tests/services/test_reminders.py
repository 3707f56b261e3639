"""Deadlines: reminders before due, overdue + escalation at due, nudges until done."""

from __future__ import annotations

import json
from datetime import timedelta

from epbot.adapters.clock import FakeClock
from epbot.services.incidents import IncidentService
from tests.services.conftest import START, key

STEP = "report-leadership"  # due 15m after declaring; reminders 10m/5m/1m before; nudge 2m


async def step_events(service: IncidentService, iid: int, step: str) -> list[tuple[int, str]]:
    """(minute after START, kind) of the reminder-ish events of ``step``, and its escalation."""
    out = []
    for e in await service.timeline(iid):
        data = json.loads(e["payload"])
        minute = int((e["at"] - START).total_seconds() // 60)
        if e["kind"] in ("step_reminder", "step_overdue", "step_nudge") and data["step"] == step:
            out.append((minute, e["kind"]))
        if e["kind"] == "paged" and data["step"] == step:
            out.append((minute, f"paged:{data['role']}:{data['reason']}"))
    return out


async def test_reminders_overdue_escalation_and_nudges_until_done(
    declare, service: IncidentService, clock: FakeClock
) -> None:
    iid = (await declare("system-fault")).incident_id
    for _ in range(22):
        clock.advance(timedelta(minutes=1))
        await service.tick()
    assert await step_events(service, iid, STEP) == [
        (5, "step_reminder"),
        (10, "step_reminder"),
        (14, "step_reminder"),
        (15, "step_overdue"),
        (15, "paged:leadership-leader:overdue"),
        (17, "step_nudge"),
        (19, "step_nudge"),
        # nobody answers the leader: the deputy is paged for this step too (issue 14: each
        # reason walks the role's list, and a new one starts at its top)
        (20, "paged:leadership-leader:backup"),
        (21, "step_nudge"),
    ]
    state = await service.state(iid)
    step = state.steps[STEP]
    assert step.overdue_at == START + timedelta(minutes=15)
    await service.send_report(key=key(), incident_id=iid, step=STEP, actor="U01EOF0001")
    for _ in range(10):
        clock.advance(timedelta(minutes=1))
        await service.tick()
    events = await step_events(service, iid, STEP)
    assert events[-1] == (21, "step_nudge")  # nothing after it was done
    state = await service.state(iid)
    assert not [t for t in state.timers if t.target == STEP]
    done = next(e for e in await service.timeline(iid) if e["kind"] == "step_done")
    assert json.loads(done["payload"])["on_time"] is False


async def test_catching_up_after_downtime_sends_one_overdue_and_no_stale_reminders(
    declare, service: IncidentService, clock: FakeClock
) -> None:
    iid = (await declare("system-fault")).incident_id
    clock.advance(timedelta(minutes=30))
    await service.tick()
    assert await step_events(service, iid, STEP) == [
        (30, "step_overdue"),
        (30, "paged:leadership-leader:overdue"),
    ]
    # the nudges go on from the playbook's grid, not in a burst
    state = await service.state(iid)
    nudges = [t.due_at for t in state.timers if t.target == STEP]
    assert nudges == [START + timedelta(minutes=31)]


async def test_nudges_stop_when_the_incident_ends(
    declare, service: IncidentService, clock: FakeClock
) -> None:
    iid = (await declare("system-fault")).incident_id
    for _ in range(16):
        clock.advance(timedelta(minutes=1))
        await service.tick()
    await service.cancel(key=key(), incident_id=iid, actor="U09REPORTER", reason="false alarm")
    before = await step_events(service, iid, STEP)
    for _ in range(10):
        clock.advance(timedelta(minutes=1))
        assert await service.tick() == 0
    assert await step_events(service, iid, STEP) == before
    assert (await service.state(iid)).timers == []


async def test_steps_due_from_another_step_get_their_deadline_when_it_is_done(
    declare, service: IncidentService, clock: FakeClock
) -> None:
    iid = (await declare("system-fault")).incident_id
    state = await service.state(iid)
    assert state.steps["fix-fault"].due_at is None  # due 1h after locate-cause is done
    clock.advance(timedelta(minutes=7))
    await service.complete_step(key=key(), incident_id=iid, step="locate-cause", actor="U02INS0002")
    state = await service.state(iid)
    assert state.steps["fix-fault"].due_at == clock.now() + timedelta(hours=1)


async def test_a_repeating_nudge_that_fell_due_while_down_is_posted_once(
    declare, service: IncidentService, clock: FakeClock
) -> None:
    """Nudges due at minutes 17, 19, 21 and 23 while the bot was down: one nudge, saying
    how late it is, and the next one on the grid ahead of now."""
    iid = (await declare("system-fault")).incident_id
    clock.advance(timedelta(minutes=16))
    await service.tick()  # overdue at 15; the first nudge is due at 17
    clock.advance(timedelta(minutes=7, seconds=30))  # down until 23:30
    await service.tick()
    await service.tick()  # a second tick at the same moment adds nothing
    nudges = [
        json.loads(e["payload"])
        for e in await service.timeline(iid)
        if e["kind"] == "step_nudge" and json.loads(e["payload"])["step"] == STEP
    ]
    assert len(nudges) == 1
    assert nudges[0]["late_seconds"] == 6 * 60 + 30  # due at 17:00, fired at 23:30
    state = await service.state(iid)
    assert [t.due_at for t in state.timers if t.target == STEP] == [START + timedelta(minutes=25)]
