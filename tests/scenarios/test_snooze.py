"""Snooze from a reminder DM (issue 14), end to end against the fake Slack.

db-crash, every page acknowledged: at +3 the security officer's reminder DM lists
"Report the crash to the security officer" (due +5) with its row of buttons. They click
Snooze 30 min: the confirmation DM names the deadline and the escalation that still
happens; the snooze is clamped to the deadline; their reminder DM is left alone until then;
at the deadline the step is overdue and the escalation page goes out all the same.
"""

from __future__ import annotations

import json
from datetime import timedelta

from epbot.adapters.slack.ids import Action
from epbot.domain.incident import PageReason
from tests.scenarios.conftest import START, Harness
from tests.scenarios.test_digest import _buttons, acknowledge_pages, at_minute

SECURITY = "U01SEC0003"
STEP = "report-security-officer"
TITLE = "Report the crash to the security officer"


async def test_a_snooze_from_the_reminder_dm_keeps_the_deadline_escalation(
    harness: Harness,
) -> None:
    incident_id = await harness.declare()
    await acknowledge_pages(harness, incident_id)
    await at_minute(harness, incident_id, 3)
    refs = await harness.refs(incident_id)
    keys = [k for k in refs if k.startswith(f"remind:{incident_id}:{SECURITY}:")]
    assert len(keys) == 1
    ref = refs[keys[0]]
    ws = harness.fake.workspace
    dm = ws.find_message(ref.channel, ref.ts)
    assert dm is not None
    assert TITLE in str(dm.blocks)
    buttons = {b["action_id"]: b for b in _buttons(dm)}
    assert [b["text"]["text"] for b in buttons.values()] == [
        "Snooze 10 min",
        "30 min",
        "1 h",
        "I'm on it",
    ]
    value = buttons[Action.STEP_SNOOZE_30.value]["value"]
    assert value == f"{incident_id}:{STEP}"
    assert {b["value"] for b in buttons.values()} == {value}

    before = len(ws.messages_in(ref.channel))
    updates_before = _updates(harness, ref.ts)
    status, _ = await harness.click(
        Action.STEP_SNOOZE_30.value, value, user=SECURITY, ref_key=keys[0]
    )
    assert status == 200
    await harness.eventually(lambda: ws.messages_in(ref.channel)[before:] or ws.ephemerals)
    await harness.eventually(harness._delivered)

    # The confirmation: a DM of its own, naming the snooze's end (the deadline, 01:05) and
    # the escalation that still happens then.
    assert not ws.ephemerals, [e.text for e in ws.ephemerals]
    new = ws.messages_in(ref.channel)[before:]
    assert len(new) == 1, [m.text for m in new]
    text = new[0].text
    assert text.startswith(":zzz:"), text
    assert TITLE in text
    assert "(its deadline)" in text
    assert "The deadline stands: at " in text
    assert "it is overdue and" in text
    assert "is paged" in text
    assert "2026-0001" in text  # names its incident
    timeline = await harness.bot.service.timeline(incident_id)
    snoozed = [e for e in timeline if e["kind"] == "step_snoozed"]
    assert len(snoozed) == 1
    assert json.loads(snoozed[0]["payload"])["clamped"] is True

    # Until the snooze ends (the deadline, +5) the reminder DM is neither edited nor posted
    # again, and no reminder of the step is due.
    await at_minute(harness, incident_id, 4)
    assert _updates(harness, ref.ts) == updates_before
    refs = await harness.refs(incident_id)
    assert [k for k in refs if k.startswith(f"remind:{incident_id}:{SECURITY}:")] == keys
    kinds = [e["kind"] for e in await harness.bot.service.timeline(incident_id)]
    assert kinds.count("step_reminder") == [e["kind"] for e in timeline].count("step_reminder")

    # At the deadline: overdue, and the escalation page goes out as the plan says.
    await at_minute(harness, incident_id, 5)
    state = await harness.state(incident_id)
    due = state.steps[STEP].due_at
    assert due is not None
    assert due == START + timedelta(minutes=5)
    pages = [p for p in state.pages if p.reason is PageReason.OVERDUE and p.step_id == STEP]
    assert pages
    assert timedelta(0) <= pages[0].sent_at - due < timedelta(minutes=1)
    refs = await harness.refs(incident_id)
    assert f"page:{incident_id}:{pages[0].key}" in refs
    overdue = list(await harness.bot.service.timeline(incident_id))
    assert any(
        e["kind"] == "step_overdue" and json.loads(e["payload"])["step"] == STEP for e in overdue
    )


def _updates(harness: Harness, ts: str) -> int:
    return len([c for c in harness.fake.calls_to("chat.update") if c.ok and c.args.get("ts") == ts])
