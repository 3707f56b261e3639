"""Page DMs as the pages stand (issue 14), end to end against the fake Slack.

db-crash and nobody answering: the emergency office's page times out at +3 and its DM is
edited to say so, with no live Acknowledge button left; at +10 the escalation chain pages
the same leader for two roles at one tick, and that is one DM with a button per role,
remembered under both page keys; acknowledging one edits that same DM.
"""

from __future__ import annotations

from datetime import timedelta

from epbot.adapters.slack.ids import Action
from tests.scenarios.conftest import START, Harness
from tests.scenarios.test_digest import _buttons, updates_of


async def _minute(harness: Harness, minute: int) -> None:
    harness.clock.set(START + timedelta(minutes=minute, seconds=1))
    await harness.bot.service.tick()
    await harness.eventually(harness._delivered)


async def test_a_timed_out_page_loses_its_button_and_pages_together_make_one_dm(
    harness: Harness,
) -> None:
    incident_id = await harness.declare()
    ws = harness.fake.workspace
    key = f"page:{incident_id}:emergency-office#1"
    ref = (await harness.refs(incident_id))[key]
    dm = ws.find_message(ref.channel, ref.ts)
    assert [b["action_id"] for b in _buttons(dm)] == [Action.INCIDENT_ACK.value]
    for minute in range(1, 12):
        await _minute(harness, minute)

    state = await harness.state(incident_id)
    page = next(p for p in state.pages if p.key == "emergency-office#1")
    assert page.timed_out_at is not None
    dm = ws.find_message(ref.channel, ref.ts)
    assert dm is not None
    assert _buttons(dm) == []
    assert "Timed out at" in str(dm.blocks)
    assert updates_of(harness, ref.ts)  # edited in place

    # Pages sent to one person at one tick: one DM, under every page's key.
    together: dict[tuple[str, object], list[str]] = {}
    for p in state.pages:
        together.setdefault((p.person, p.sent_at), []).append(p.key)
    groups = [keys for keys in together.values() if len(keys) > 1]
    assert groups, "db-crash pages one leader for two roles at +10"
    refs = await harness.refs(incident_id)
    keys = groups[0]
    where = {
        (refs[f"page:{incident_id}:{k}"].channel, refs[f"page:{incident_id}:{k}"].ts) for k in keys
    }
    assert len(where) == 1
    ((channel, ts),) = where
    dm = ws.find_message(channel, ts)
    assert dm is not None
    acks = [b for b in _buttons(dm) if b["action_id"] == Action.INCIDENT_ACK.value]
    assert sorted(b["value"] for b in acks) == sorted(f"{incident_id}:{k}" for k in keys)
    # Every person got one page DM per moment they were paged, no more.
    for person in {p.person for p in state.pages}:
        mine = [p for p in state.pages if p.person == person]
        dms = {refs[f"page:{incident_id}:{p.key}"].ts for p in mine}
        assert len(dms) == len({p.sent_at for p in mine}), person

    # Acknowledging one page edits the same DM: that role's button is gone, the other's stays.
    user = ws.channels[channel].im_user
    assert user is not None
    before = len(updates_of(harness, ts))
    status, _ = await harness.click(
        Action.INCIDENT_ACK.value,
        acks[0]["value"],
        user=user,
        ref_key=f"page:{incident_id}:{keys[0]}",
    )
    assert status == 200
    await harness.eventually(lambda: len(updates_of(harness, ts)) > before)
    await harness.eventually(harness._delivered)
    dm = ws.find_message(channel, ts)
    left = [b["value"] for b in _buttons(dm) if b["action_id"] == Action.INCIDENT_ACK.value]
    assert acks[0]["value"] not in left
