"""Issue 15: receipts (回执) of a notice from each unit's responsible person update the card;
someone else's receipt is refused; a late unit is nudged, then its person paged."""

from __future__ import annotations

import json
from datetime import timedelta

from epbot.adapters.slack.ids import Action
from epbot.domain.incident import PageReason
from tests.scenarios.conftest import Harness
from tests.scenarios.test_incident_flow import COMMANDER, declare_acked

DRC, SAMR = "U07DRC0001", "U07SMR0001"


async def _notice_ref(harness: Harness, incident_id: int, channel: str) -> str:
    ref = await harness.ref(f"broadcast:{incident_id}:pause-uploads:{channel}")
    return ref.key


async def test_receipts_update_the_card_and_late_units_are_chased(harness: Harness) -> None:
    incident_id = await declare_acked(harness)
    await harness.click(
        Action.STEP_DONE.value,
        f"{incident_id}:pause-uploads",
        user=COMMANDER,
        ref_key=f"checklist:{incident_id}:report",
    )

    async def asked() -> int:
        return len((await harness.state(incident_id)).receipts)

    total = await harness.eventually(asked)
    await harness.eventually(harness._delivered)
    drc = await harness.ref(f"broadcast:{incident_id}:pause-uploads:#ep-unit-drc")
    notice = harness.fake.workspace.find_message(drc.channel, drc.ts)
    assert notice is not None
    blob = json.dumps(notice.blocks, ensure_ascii=False)
    assert f"<@{DRC}>" in blob  # the unit's responsible person (Art. 3) is named
    assert Action.BROADCAST_RECEIPT.value in blob

    # Someone else (another unit's contact) is refused, privately and on the record.
    responses = len(harness.fake.calls_to("response_url"))
    await harness.click(
        Action.BROADCAST_RECEIPT.value,
        f"{incident_id}:pause-uploads@district-drc",
        user=SAMR,
        ref_key=drc.key,
    )
    [refusal] = await harness.eventually(
        lambda: harness.fake.calls_to("response_url")[responses:]
    )
    assert "responsible person" in refusal.args["text"]
    timeline = await harness.bot.service.timeline(incident_id)
    assert any(e["kind"] == "refused" and e["actor"] == SAMR for e in timeline)

    # Every unit but the tax bureau confirms through its notice's button.
    state = await harness.state(incident_id)
    for receipt in state.receipts:
        if receipt.unit_id == "district-tax" or receipt.responsible_role is None:
            continue
        person = harness.slack_id(state.members(receipt.responsible_role)[0])
        await harness.click(
            Action.BROADCAST_RECEIPT.value,
            f"{incident_id}:{receipt.key}",
            user=person,
            ref_key=f"broadcast:{incident_id}:pause-uploads:{receipt.channel}",
        )

    async def confirmed() -> bool:
        receipts = (await harness.state(incident_id)).receipts
        return sum(r.confirmed_at is not None for r in receipts) == total - 1

    await harness.eventually(confirmed)
    await harness.eventually(harness._delivered)
    row = await harness.incident_row(incident_id)
    card = harness.fake.workspace.find_message(row.channel_id or "", row.card_ts or "")
    assert card is not None
    assert f"{total - 1} of {total} units confirmed" in json.dumps(card.blocks)
    notice = harness.fake.workspace.find_message(drc.channel, drc.ts)
    assert notice is not None
    assert Action.BROADCAST_RECEIPT.value not in json.dumps(notice.blocks)

    # The tax bureau is nudged in its channel after 30 minutes, then its contact paged.
    harness.clock.advance(timedelta(minutes=30, seconds=1))
    await harness.bot.service.tick()
    await harness.eventually(harness._delivered)
    tax = await harness.ref(f"broadcast:{incident_id}:pause-uploads:#ep-unit-tax")
    replies = harness.fake.workspace.replies(tax.channel, tax.ts)
    assert any("<@U07TAX0001>" in r.text for r in replies)
    assert not [
        p for p in (await harness.state(incident_id)).pages if p.reason is PageReason.RECEIPT
    ]
    harness.clock.advance(timedelta(minutes=30))
    await harness.bot.service.tick()
    await harness.eventually(harness._delivered)
    [page] = [
        p for p in (await harness.state(incident_id)).pages if p.reason is PageReason.RECEIPT
    ]
    assert page.person == "U07TAX0001"
    await harness.ref(f"page:{incident_id}:{page.key}")  # the DM went out
