"""One digest instead of a drizzle (issue 14), end to end against the fake Slack.

db-crash, every page acknowledged, then nobody acting while the clock moves a minute at a
time: the deadlines digest is one message in the card's thread, edited in place (the fake
records chat.update on its ts) and posted anew only when its re-post interval has passed;
a second step falling overdue within the interval adds no post; each person's reminders
reach them as one DM; escalation pages still go out at the deadline; every reminder,
overdue notice and nudge is still on the timeline; every DM names its incident and links
its channel.
"""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

from epbot.adapters.slack.ids import Action
from epbot.domain.incident import PageReason
from epbot.fakeslack.workspace import Message
from tests.scenarios.conftest import START, Harness

COMMANDER = "U01EOF0001"  # emergency-office: report-office, pause-uploads, report-leadership
SECURITY = "U01SEC0003"  # security-officer: report-security-officer
TITLES = {
    "report-office": "Report at once to the emergency office",
    "report-security-officer": "Report the crash to the security officer",
    "pause-uploads": "Tell every unit to pause uploading data",
    "report-leadership": "Report the major event to the emergency leadership group",
}


def _buttons(message: Message | None) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    for block in (message.blocks if message else None) or ():
        found += [block.get("accessory") or {}, *block.get("elements", ())]
    return [b for b in found if b.get("type") == "button"]


async def acknowledge_pages(harness: Harness, incident_id: int) -> int:
    """Every page DM still showing Acknowledge is acknowledged by its person."""
    clicked = 0
    refs = await harness.refs(incident_id)
    for key, ref in sorted(refs.items()):
        if not key.startswith(f"page:{incident_id}:"):
            continue
        message = harness.fake.workspace.find_message(ref.channel, ref.ts)
        acks = [b for b in _buttons(message) if b["action_id"] == Action.INCIDENT_ACK.value]
        if not acks:
            continue
        user = harness.fake.workspace.channels[ref.channel].im_user
        assert user is not None
        status, _ = await harness.click(
            Action.INCIDENT_ACK.value, acks[0]["value"], user=user, ref_key=key
        )
        assert status == 200
        clicked += 1
    if clicked:
        await harness.eventually(harness._delivered)
    return clicked


async def at_minute(harness: Harness, incident_id: int, minute: int) -> None:
    """Move the clock to ``minute`` after the declaration, fire what is due, deliver,
    and acknowledge any new page (people are there, nobody does the steps)."""
    harness.clock.set(START + timedelta(minutes=minute, seconds=1))
    await harness.bot.service.tick()
    await harness.eventually(harness._delivered)
    while await acknowledge_pages(harness, incident_id):
        pass


def digest_posts(harness: Harness, channel: str, card_ts: str) -> list[Message]:
    return [
        msg
        for msg in harness.fake.workspace.replies(channel, card_ts)
        if msg.is_reply and msg.text.startswith("Deadlines of ")
    ]


def updates_of(harness: Harness, ts: str) -> list[str]:
    """The texts (blocks) each chat.update of the message ``ts`` set, in order."""
    return [
        json.dumps(c.args.get("blocks"))
        for c in harness.fake.calls_to("chat.update")
        if c.ok and c.args.get("ts") == ts
    ]


async def test_the_overdue_digest_is_edited_in_place_and_reposted_only_at_its_interval(
    harness: Harness,
) -> None:
    incident_id = await harness.declare()
    await acknowledge_pages(harness, incident_id)
    row = await harness.incident_row(incident_id)
    assert row.channel_id is not None
    assert row.card_ts is not None
    posted_at: dict[int, list[str]] = {}
    for minute in range(1, 17):
        before = {m.ts for m in digest_posts(harness, row.channel_id, row.card_ts)}
        await at_minute(harness, incident_id, minute)
        now = digest_posts(harness, row.channel_id, row.card_ts)
        posted_at[minute] = [m.ts for m in now if m.ts not in before]
    # First post at +3 (the reminders start), again at +5 (overdue: the playbook's repeat,
    # 2 min, has passed), then the interval doubles: +9; +17 would be the next.
    assert [m for m, new in posted_at.items() if new] == [3, 5, 9]
    assert all(len(new) <= 1 for new in posted_at.values())  # at most one post a minute
    latest = posted_at[9][0]
    # pause-uploads (+10) and report-leadership (+15) fell overdue within the interval: no
    # new post, the latest digest was edited in place and lists every overdue step.
    edits = updates_of(harness, latest)
    assert len(edits) >= 2
    final = edits[-1]
    for title in TITLES.values():
        assert title in final, title
    assert "Overdue (4)" in final
    message = harness.fake.workspace.find_message(row.channel_id, latest)
    assert message is not None
    assert json.dumps(message.blocks) == final  # the message shows the latest edit
    # No thread line of its own for any deadline any more.
    texts = [m.text for m in harness.fake.workspace.messages_in(row.channel_id)]
    assert not [t for t in texts if "Still open:" in t or ":red_circle: Overdue:" in t]

    # Escalation pages still went out at the deadlines, as DMs with their own button.
    state = await harness.state(incident_id)
    escalations = [p for p in state.pages if p.reason is PageReason.OVERDUE]
    assert {p.step_id for p in escalations} >= {"report-office", "report-security-officer"}
    refs = await harness.refs(incident_id)
    for page in escalations:
        assert f"page:{incident_id}:{page.key}" in refs
        due = state.steps[str(page.step_id)].due_at
        assert due is not None
        assert timedelta(0) <= page.sent_at - due < timedelta(minutes=1)  # at the tick

    # Nothing the playbook asks for is dropped: every deadline event is on the timeline.
    kinds = [e["kind"] for e in await harness.bot.service.timeline(incident_id)]
    assert kinds.count("step_reminder") >= 4
    assert kinds.count("step_overdue") == 4
    assert kinds.count("step_nudge") >= 8


async def test_each_persons_reminders_reach_them_as_one_dm(harness: Harness) -> None:
    incident_id = await harness.declare()
    await acknowledge_pages(harness, incident_id)
    for minute in range(1, 21):
        await at_minute(harness, incident_id, minute)
    refs = await harness.refs(incident_id)
    posts: dict[str, list[tuple[int, str, str]]] = {}
    for key, ref in refs.items():
        parts = key.split(":")  # remind:<incident>:<person>:<n>:<posted at | end>
        if parts[0] == "remind" and parts[4] != "end":
            posts.setdefault(parts[2], []).append((int(parts[3]), ref.channel, ref.ts))
    # The commander's reminders (report-office +3; pause-uploads and report-leadership +5,
    # +10, +14; contain and report-upward +20) came as two DMs: at +3 and, a quarter of an
    # hour later, at +20; the security officer's one reminder as one.
    assert len(posts[COMMANDER]) == 2
    assert len(posts[SECURITY]) == 1
    _, channel, first = min(posts[COMMANDER])
    dm = harness.fake.workspace.find_message(channel, first)
    assert dm is not None
    assert dm.text.startswith("Your deadlines")
    edits = updates_of(harness, first)
    assert edits  # kept current in place between the two
    assert TITLES["report-leadership"] in edits[-1]


async def test_every_dm_names_its_incident_with_a_link_to_its_channel(harness: Harness) -> None:
    incident_id = await harness.declare()
    await acknowledge_pages(harness, incident_id)
    for minute in range(1, 61, 3):
        await at_minute(harness, incident_id, minute)
    row = await harness.incident_row(incident_id)
    state = await harness.state(incident_id)
    ws = harness.fake.workspace
    dms = [
        msg
        for channel in ws.channels.values()
        if channel.is_im
        for msg in ws.messages_in(channel.id)
    ]
    kinds = {m.text.split(" ")[0] for m in dms}
    assert len(dms) >= 8
    assert {"Paged", "Your"} <= kinds  # pages, escalation pages and reminders
    assert any(p.reason is PageReason.OVERDUE for p in state.pages)
    for msg in dms:
        for text in (msg.text, json.dumps(msg.blocks, ensure_ascii=False)):
            assert f"<#{row.channel_id}>" in text, msg.text
            assert "2026-0001" in text, msg.text
            assert "数据库宕机 / DB down" in text, msg.text  # the title
