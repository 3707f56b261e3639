"""The closing report: posted in the incident channel when an incident is resolved, closed or
cancelled, with a one-line summary in the announcement channel; never twice."""

from __future__ import annotations

import json

import sqlalchemy as sa
from sqlmodel import col

from epbot.adapters.db import models as m
from epbot.domain.incident import FINISHED_STEP, Status, StepStatus
from tests.scenarios import conftest as e2e
from tests.scenarios.conftest import INCIDENTS_CHANNEL, Harness

fake = e2e.fake
harness = e2e.harness
COMMANDER = "U01EOF0001"


async def _skip_everything(harness: Harness, incident_id: int) -> None:
    """The commander skips every unfinished step of the started stages (with a reason)."""
    service = harness.bot.service
    for n in range(100):
        state = await harness.state(incident_id)
        todo = [
            s
            for s in state.steps.values()
            if s.status not in FINISHED_STEP and s.status is not StepStatus.INACTIVE
        ]
        if not todo:
            return
        await service.skip_step(
            key=f"skip:{n}",
            incident_id=incident_id,
            step=todo[0].step_id,
            actor=COMMANDER,
            reason="not needed <!here>",
        )
    raise AssertionError("steps never ran out")


async def _deliver(harness: Harness) -> None:
    harness.bot.delivery.kick()
    await harness.eventually(harness._delivered)


def _message(harness: Harness, channel: str, ts: str) -> str:
    message = harness.fake.workspace.find_message(channel, ts)
    assert message is not None
    return message.text + json.dumps(message.blocks or [], ensure_ascii=False)


async def test_resolved_then_closed_each_post_a_report_once(harness: Harness) -> None:
    incident_id = await harness.declare()
    service = harness.bot.service
    await service.acknowledge_page(
        key="ack", incident_id=incident_id, page="emergency-office#1", actor=COMMANDER
    )
    await _skip_everything(harness, incident_id)
    await service.resolve(
        key="resolve", incident_id=incident_id, actor=COMMANDER, summary="back up <!channel>"
    )
    await _deliver(harness)
    row = await harness.incident_row(incident_id)
    assert row.channel_id is not None

    ref = await harness.ref(f"closing:{incident_id}:resolved")
    assert ref.channel == row.channel_id
    report = _message(harness, ref.channel, ref.ts)
    assert "Closing report" in report
    assert "back up &lt;!channel&gt;" in report  # the summary, escaped
    assert "<!channel>" not in report
    assert "not needed &lt;!here&gt;" in report  # skip reasons, escaped
    assert "Resolved" in report
    announce = harness.fake.workspace.channel_by_name(INCIDENTS_CHANNEL)
    assert announce is not None
    summary = await harness.ref(f"closing:{incident_id}:resolved:announce")
    assert summary.channel == announce.id
    line = _message(harness, summary.channel, summary.ts)
    assert f"<#{row.channel_id}>" in line
    assert "Resolved" in line

    posts = len(harness.fake.calls_to("chat.postMessage"))
    await service.close(key="close", incident_id=incident_id, actor=COMMANDER)
    await _deliver(harness)
    closed = await harness.ref(f"closing:{incident_id}:closed")
    assert "Closed" in _message(harness, closed.channel, closed.ts)
    await harness.ref(f"closing:{incident_id}:closed:announce")
    # Closing posts its status line, its own report and its own summary.
    new_posts = harness.fake.calls_to("chat.postMessage")[posts:]
    assert len(new_posts) == 3  # the status line, the report, the summary
    assert (await harness.state(incident_id)).status is Status.CLOSED


async def test_cancelled_incident_gets_a_report_with_the_reason(harness: Harness) -> None:
    incident_id = await harness.declare()
    await harness.bot.service.cancel(
        key="cancel", incident_id=incident_id, actor=COMMANDER, reason="false alarm & test"
    )
    await _deliver(harness)
    ref = await harness.ref(f"closing:{incident_id}:cancelled")
    report = _message(harness, ref.channel, ref.ts)
    assert "false alarm &amp; test" in report
    assert "Cancelled" in report
    summary = await harness.ref(f"closing:{incident_id}:cancelled:announce")
    assert "Cancelled" in _message(harness, summary.channel, summary.ts)


async def test_a_redelivered_row_does_not_post_the_report_twice(harness: Harness) -> None:
    incident_id = await harness.declare()
    service = harness.bot.service
    await service.cancel(key="cancel", incident_id=incident_id, actor=COMMANDER, reason="drill")
    await _deliver(harness)
    # As if the workers crashed after posting but before marking the rows sent: the room's
    # (closing report) and the announcement's (summary).
    rows = await harness.outbox()
    cancelled = [r.id for r in rows if json.loads(r.payload)["kind"] == "cancelled"]
    assert sorted(r.ordering_key for r in rows if r.id in cancelled) == [
        f"announce:{incident_id}",
        f"room:{incident_id}",
    ]
    async with harness.sessions()() as session, session.begin():
        await session.exec(
            sa.update(m.OutboxMessage)
            .where(col(m.OutboxMessage.id).in_(cancelled))
            .values(status="pending", next_attempt_at=harness.clock.now())
        )
    posts = len(harness.fake.calls_to("chat.postMessage"))
    await _deliver(harness)
    assert harness.fake.calls_to("chat.postMessage")[posts:] == []
    ref = await harness.ref(f"closing:{incident_id}:cancelled")
    reports = [
        msg
        for msg in harness.fake.workspace.messages_in(ref.channel)
        if msg.text.startswith("*Closing report")
    ]
    assert len(reports) == 1
