"""End to end over HTTP: /incident -> report -> channel, card, checklists, pages -> ack ->
done -> approval (refused for the wrong person) -> resolve."""

from __future__ import annotations

import json
from datetime import timedelta

from epbot.adapters.slack.ids import Action
from epbot.domain.incident import Status, StepKind, StepStatus
from tests.scenarios.conftest import INCIDENTS_CHANNEL, REPORTER, Harness, report_values


async def test_declare_creates_channel_card_checklists_and_pages(harness: Harness) -> None:
    incident_id = await harness.declare()
    fake, ws = harness.fake, harness.fake.workspace

    opened = fake.calls_to("views.open")
    assert opened[0].args["view"]["callback_id"] == "incident.report"
    [row] = await harness.incidents()
    assert row.channel_id is not None
    assert row.card_ts is not None
    assert len(fake.calls_to("conversations.create")) == 1
    assert ws.channels[row.channel_id].topic
    assert [(p.channel, p.ts) for p in ws.pins] == [(row.channel_id, row.card_ts)]
    assert REPORTER in ws.channels[row.channel_id].members
    for stage in ("report", "initial_handling"):
        ref = await harness.ref(f"checklist:{incident_id}:{stage}")
        assert ref.channel == row.channel_id
    announce = ws.channel_by_name(INCIDENTS_CHANNEL)
    assert announce is not None
    assert any(f"<#{row.channel_id}>" in t for t in harness.texts(announce.id))

    state = await harness.state(incident_id)
    for page in state.pages:
        ref = await harness.ref(f"page:{incident_id}:{page.key}")
        assert ref.channel.startswith("D")  # a DM with the paged person
        assert page.person in ws.channels[row.channel_id].members
    assert all(r.status == "sent" for r in await harness.outbox())


async def test_report_text_is_escaped(harness: Harness) -> None:
    values = report_values(title={"value": "<!channel> DB down & <https://evil|login>"})
    status, _ = await harness.command("db-crash")
    assert status == 200
    opened = await harness.eventually(lambda: harness.fake.calls_to("views.open"))
    await harness.submit_report(values=values, metadata=opened[0].args["view"]["private_metadata"])
    await harness.eventually(harness.incidents)
    await harness.eventually(harness._delivered)
    everything = "\n".join(harness.all_texts())
    assert "<!channel>" not in everything
    assert "<https://evil" not in everything
    assert "&lt;!channel&gt;" in everything


COMMANDER = "U01EOF0001"  # emergency-office, first in the matrix
LEADER = "U01LDR0001"  # leadership-group


async def _click_until(harness: Harness, check: object, *args: object, **kwargs: object) -> None:
    status, _ = await harness.click(*args, **kwargs)  # type: ignore[arg-type]
    assert status == 200
    await harness.eventually(check)  # type: ignore[arg-type]
    await harness.eventually(harness._delivered)


async def declare_acked(harness: Harness) -> int:
    """Declare db-crash and acknowledge the commander's page: initial handling."""
    incident_id = await harness.declare()

    async def acked() -> bool:
        return (await harness.state(incident_id)).commander == COMMANDER

    await _click_until(
        harness,
        acked,
        Action.INCIDENT_ACK.value,
        f"{incident_id}:emergency-office#1",
        user=COMMANDER,
        ref_key=f"page:{incident_id}:emergency-office#1",
    )
    return incident_id


async def request_leadership_approval(harness: Harness, incident_id: int) -> str:
    """Tick "report to the leadership group": the leaders' approval opens; its key."""
    approval = "approve-emergency-response"

    async def approval_open() -> bool:
        return approval in (await harness.state(incident_id)).approvals

    from tests.scenarios.reporting import send_step_report

    await send_step_report(harness, incident_id, "report-leadership", user=COMMANDER)
    await harness.eventually(approval_open)
    return approval


async def test_ack_done_approve_resolve(harness: Harness) -> None:
    fake = harness.fake
    incident_id = await harness.declare()
    page_key = f"page:{incident_id}:emergency-office#1"
    dm = await harness.ref(page_key)

    # The paged commander acknowledges from the DM: the incident is in initial handling.
    async def acked() -> bool:
        return (await harness.state(incident_id)).commander == COMMANDER

    await _click_until(
        harness,
        acked,
        Action.INCIDENT_ACK.value,
        f"{incident_id}:emergency-office#1",
        user=COMMANDER,
        ref_key=page_key,
    )
    assert (await harness.state(incident_id)).status is Status.INITIAL_HANDLING
    assert any(c.args.get("ts") == dm.ts for c in fake.calls_to("chat.update"))

    # Reporting to the leadership group (Art. 5.1) opens the approval to escalate.
    async def approval_open() -> bool:
        state = await harness.state(incident_id)
        return "approve-emergency-response" in state.approvals

    from tests.scenarios.reporting import send_step_report

    # A report step is met by sending its report (issue 15), not by ticking it.
    await send_step_report(harness, incident_id, "report-leadership", user=COMMANDER)
    await harness.eventually(approval_open)
    approval = "approve-emergency-response"
    leader_dm = await harness.ref(f"approval:{incident_id}:{approval}:{LEADER}")
    assert leader_dm.channel.startswith("D")
    await harness.ref(f"approval:{incident_id}:{approval}:thread")

    # The wrong person is refused, privately; the right one approves.
    responses = len(fake.calls_to("response_url"))
    status, _ = await harness.click(
        Action.APPROVAL_APPROVE.value,
        f"{incident_id}:{approval}",
        user=COMMANDER,
        ref_key=f"approval:{incident_id}:{approval}:thread",
    )
    assert status == 200
    refusals = await harness.eventually(lambda: fake.calls_to("response_url")[responses:])
    assert refusals[0].args["response_type"] == "ephemeral"
    assert "leadership" in refusals[0].args["text"].lower()

    async def escalated() -> bool:
        state = await harness.state(incident_id)
        return state.status is Status.EMERGENCY_RESPONSE

    updates = len(fake.calls_to("chat.update"))
    await _click_until(
        harness,
        escalated,
        Action.APPROVAL_APPROVE.value,
        f"{incident_id}:{approval}",
        user=LEADER,
        ref_key=f"approval:{incident_id}:{approval}:{LEADER}",
    )
    updated = {c.args.get("ts") for c in fake.calls_to("chat.update")[updates:]}
    assert leader_dm.ts in updated

    # The commander finishes every open step through the buttons, then resolves.
    for _ in range(40):
        state = await harness.state(incident_id)
        step = next((s for s in state.steps.values() if s.status is StepStatus.OPEN), None)
        if step is None:
            break
        if step.kind is StepKind.REPORT:
            await send_step_report(harness, incident_id, step.step_id, user=COMMANDER)
            continue
        action = Action.STEP_CHECKIN if step.kind is StepKind.CHECKIN else Action.STEP_DONE
        stage = f"checklist:{incident_id}:{step.stage_id.value}"

        async def finished(step_id: str = step.step_id) -> bool:
            return (await harness.state(incident_id)).steps[step_id].finished

        await _click_until(
            harness,
            finished,
            action.value,
            f"{incident_id}:{step.step_id}",
            user=COMMANDER,
            ref_key=stage,
        )

    async def resolved() -> bool:
        return (await harness.state(incident_id)).status is Status.RESOLVED

    await _click_until(
        harness,
        resolved,
        Action.INCIDENT_RESOLVE.value,
        str(incident_id),
        user=COMMANDER,
        ref_key=f"card:{incident_id}",
    )
    rows = await harness.outbox()
    assert all(r.status == "sent" for r in rows)
    kinds = [json.loads(r.payload)["kind"] for r in rows]
    assert "broadcast" in kinds
    # Every unit channel received the "pause uploads" notice (Art. 7.1).
    for unit in harness.bot.library.matrix.units:
        assert unit.channel is not None
        channel = fake.workspace.channel_by_name(unit.channel)
        assert channel is not None
        assert harness.texts(channel.id), unit.id


async def test_reminders_and_timeouts_reach_slack_without_sleeping(harness: Harness) -> None:
    incident_id = await harness.declare()
    before = len(await harness.outbox())
    harness.clock.advance(timedelta(minutes=6))  # past report-office's 5-minute deadline
    assert await harness.bot.service.tick() > 0
    await harness.eventually(harness._delivered)
    rows = (await harness.outbox())[before:]
    kinds = [json.loads(r.payload)["kind"] for r in rows]
    assert "step_overdue" in kinds
    assert "page_timed_out" in kinds  # nobody acknowledged within the ack timeout
    # The overdue step is announced in the deadlines digest in the card's thread (issue
    # 14: it used to be a line of its own in its checklist's thread, one per reminder).
    row = await harness.incident_row(incident_id)
    digest = [r for k, r in (await harness.refs(incident_id)).items() if k.startswith("digest:")]
    assert len(digest) == 1
    message = harness.fake.workspace.find_message(digest[0].channel, digest[0].ts)
    assert message is not None
    assert message.thread_ts == row.card_ts
    assert "Overdue" in json.dumps(message.blocks)
    assert "Report at once to the emergency office" in json.dumps(message.blocks)
