"""Every shipped playbook, end to end over signed HTTP requests against the fake Slack.

declare -> channel, pinned card, checklists, page DMs -> every page acknowledged by the
paged person -> every step ticked by a person of its role -> every approval decided by an
approver (and one refused for the wrong person) -> resolve -> every outbox row sent, the
card at its final status, the closing report in the channel. Who clicks what is derived
from the playbook and the matrix, never written down per playbook.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from epbot.adapters.playbook_files import playbook_files
from epbot.adapters.slack.ids import Action
from epbot.domain.incident import (
    ApprovalStatus,
    IncidentState,
    PageState,
    Status,
    StepKind,
    StepState,
    StepStatus,
)
from tests.scenarios.conftest import PLAYBOOKS, REPORTER, Harness, report_values

# The library's own idea of a playbook file (not the matrix, alert rules or drill schedule).
PLAYBOOK_IDS = [p.stem for p in playbook_files(PLAYBOOKS, PLAYBOOKS / "matrix.yaml")]
MAJOR = report_values(severity={"selected_option": {"value": "I"}})


def test_every_shipped_playbook_is_covered() -> None:
    assert len(PLAYBOOK_IDS) == 7
    assert {"db-crash", "attack", "virus", "disaster"} <= set(PLAYBOOK_IDS)


def _buttons(blocks: list[dict[str, Any]] | None) -> list[dict[str, Any]]:
    """Every button of a message, in section accessories and actions blocks."""
    found = []
    for block in blocks or ():
        accessory = block.get("accessory")
        if accessory and accessory.get("type") == "button":
            found.append(accessory)
        found += [e for e in block.get("elements", ()) if e.get("type") == "button"]
    return found


class Driver:
    """Plays every person of the matrix: acks, ticks and approves what the engine asks."""

    def __init__(self, harness: Harness, incident_id: int) -> None:
        self.h = harness
        self.id = incident_id
        self.clicks: list[tuple[str, str, str]] = []  # (action, target, slack user)
        self.refused: str | None = None  # the approval the wrong person tried first

    async def state(self) -> IncidentState:
        return await self.h.state(self.id)

    async def click(self, action: Action, target: str, user: str, ref_key: str) -> None:
        """Click, then wait until the engine changed and the outbox is delivered."""
        before = await self._timeline_length()
        # The button must be on the message the person clicks.
        ref = await self.h.ref(ref_key)
        message = self.h.fake.workspace.find_message(ref.channel, ref.ts)
        assert message is not None, ref_key
        value = f"{self.id}:{target}" if target else str(self.id)
        assert any(
            b["action_id"] == action.value and b["value"] == value
            for b in _buttons(message.blocks)
        ), (ref_key, action, value)
        status, _ = await self.h.click(action.value, value, user=user, ref_key=ref_key)
        assert status == 200
        self.clicks.append((action.value, target, user))

        async def changed() -> bool:
            return await self._timeline_length() > before

        await self.h.eventually(changed)
        await self.h.eventually(self.h._delivered)

    async def _timeline_length(self) -> int:
        return len(await self.h.bot.service.timeline(self.id))

    def person_for(self, state: IncidentState, step: StepState) -> str:
        """A person of the step's role: its assignee when that is one, else the first."""
        members = state.members(step.role)
        assert members, step.role
        ref = step.assignee if step.assignee in members else members[0]
        return self.h.slack_id(ref)

    async def ack(self, page: PageState) -> None:
        await self.click(
            Action.INCIDENT_ACK,
            page.key,
            self.h.slack_id(page.person),
            f"page:{self.id}:{page.key}",
        )

    async def tick(self, state: IncidentState, step: StepState) -> None:
        if step.kind is StepKind.REPORT:  # met by sending its report (issue 15)
            from tests.scenarios.reporting import send_step_report

            await send_step_report(
                self.h, self.id, step.step_id, user=self.person_for(state, step)
            )
            return
        action = Action.STEP_CHECKIN if step.kind is StepKind.CHECKIN else Action.STEP_DONE
        ref_key = f"checklist:{self.id}:{step.stage_id.value}"
        await self.click(action, step.step_id, self.person_for(state, step), ref_key)

    async def approve(self, state: IncidentState, key: str) -> None:
        approval = state.approvals[key]
        approver = self.h.slack_id(state.members(approval.approver_role)[0])
        if self.refused is None:
            await self.refuse_wrong_person(state, key)
        await self.click(
            Action.APPROVAL_APPROVE, key, approver, f"approval:{self.id}:{key}:{approver}"
        )

    async def refuse_wrong_person(self, state: IncidentState, key: str) -> None:
        """The reporter (in no role) tries to approve: told privately, recorded, no change."""
        approval = state.approvals[key]
        assert REPORTER not in state.members(approval.approver_role)
        calls = len(self.h.fake.calls_to("response_url"))
        before = await self._timeline_length()
        status, _ = await self.h.click(
            Action.APPROVAL_APPROVE.value,
            f"{self.id}:{key}",
            user=REPORTER,
            ref_key=f"approval:{self.id}:{key}:thread",
        )
        assert status == 200
        replies = await self.h.eventually(lambda: self.h.fake.calls_to("response_url")[calls:])
        assert replies[0].args["response_type"] == "ephemeral"
        assert replies[0].args.get("replace_original") is False
        role = state.matrix.role(approval.approver_role).name.en
        assert role.lower() in replies[0].args["text"].lower()

        async def recorded() -> list[dict[str, Any]]:
            timeline = (await self.h.bot.service.timeline(self.id))[before:]
            return [e for e in timeline if e["kind"] == "refused" and e["actor"] == REPORTER]

        await self.h.eventually(recorded)
        assert (await self.state()).approvals[key].status is ApprovalStatus.PENDING
        self.refused = key

    async def next_move(self) -> bool:
        """Do one thing the incident waits for; False when nothing is left."""
        state = await self.state()
        order = {s.id: n for n, (_, s) in enumerate(state.playbook.iter_steps())}
        acked_roles = {p.role for p in state.pages if p.acked_at is not None}
        for page in state.pages:
            if page.role not in acked_roles and page.timed_out_at is None:
                await self.ack(page)
                return True
        for key, approval in state.approvals.items():
            if approval.status is ApprovalStatus.PENDING:
                await self.approve(state, key)
                return True
        open_steps = sorted(
            (s for s in state.steps.values() if s.status is StepStatus.OPEN),
            key=lambda s: order[s.step_id],
        )
        if open_steps:
            await self.tick(state, open_steps[0])
            return True
        return False


async def _resolve(harness: Harness, driver: Driver, *, by_command: bool) -> None:
    state = await driver.state()
    assert state.commander is not None
    commander = harness.slack_id(state.commander)
    row = await harness.incident_row(driver.id)
    assert row.channel_id is not None
    if by_command:
        status, _ = await harness.command("resolve", user=commander, channel=row.channel_id)
        assert status == 200
    else:
        status, _ = await harness.click(
            Action.INCIDENT_RESOLVE.value,
            str(driver.id),
            user=commander,
            ref_key=f"card:{driver.id}",
        )
        assert status == 200

    async def resolved() -> bool:
        return (await driver.state()).status is Status.RESOLVED

    await harness.eventually(resolved)
    await harness.eventually(harness._delivered)


@pytest.mark.parametrize("playbook", PLAYBOOK_IDS)
async def test_playbook_end_to_end(harness: Harness, playbook: str) -> None:
    fake, ws = harness.fake, harness.fake.workspace
    incident_id = await harness.declare(playbook, values=MAJOR, view_id=f"V0{playbook.upper()}")
    row = await harness.incident_row(incident_id)
    state = await harness.state(incident_id)
    assert state.playbook.id == playbook

    # Declared: the channel, its pinned card, one checklist per started stage, page DMs.
    assert row.channel_id is not None
    assert row.card_ts is not None
    channel = ws.channels[row.channel_id]
    assert channel.name.startswith("inc-")
    assert playbook in channel.name
    assert channel.topic
    assert (row.channel_id, row.card_ts) in [(p.channel, p.ts) for p in ws.pins]
    for stage_id in state.stages:
        ref = await harness.ref(f"checklist:{incident_id}:{stage_id.value}")
        assert ref.channel == row.channel_id
    assert state.pages
    for page in state.pages:
        dm = await harness.ref(f"page:{incident_id}:{page.key}")
        assert ws.channels[dm.channel].im_user == harness.slack_id(page.person)
        assert harness.slack_id(page.person) in channel.members

    driver = Driver(harness, incident_id)
    for _ in range(200):
        if not await driver.next_move():
            break
    else:
        raise AssertionError("the incident never ran out of things to do")

    state = await driver.state()
    # Every step the incident needs was ticked (optional ones too); nothing is left open.
    assert not [s.step_id for s in state.steps.values() if s.status is StepStatus.OPEN]
    assert all(a.status is ApprovalStatus.APPROVED for a in state.approvals.values())
    assert driver.refused is not None, "every major incident asks for an approval"
    assert state.status is Status.COMMAND  # approved escalation, response steps all done
    for step in state.steps.values():
        if step.status is StepStatus.DONE and step.kind is not StepKind.APPROVAL:
            assert step.done_by in state.members(step.role), step.step_id
    for page in state.pages:
        assert any(p.role == page.role and p.acked_at for p in state.pages), page.key

    await _resolve(harness, driver, by_command=PLAYBOOK_IDS.index(playbook) % 2 == 0)

    rows = await harness.outbox()
    assert rows
    assert all(r.status == "sent" for r in rows), [(r.id, r.last_error) for r in rows]
    kinds = {json.loads(r.payload)["kind"] for r in rows}
    assert {"declared", "paged", "page_acknowledged", "approval_decided", "resolved"} <= kinds
    assert "refused" in kinds

    # The card shows the final status and offers no more buttons; so do the checklists.
    card = ws.find_message(row.channel_id, row.card_ts)
    assert card is not None
    assert "Resolved" in json.dumps(card.blocks)
    assert _buttons(card.blocks) == []
    # The topic names the stage, so it followed the status to the end.
    assert "Resolved" in ws.channels[row.channel_id].topic
    for stage_id in state.stages:
        ref = await harness.ref(f"checklist:{incident_id}:{stage_id.value}")
        checklist = ws.find_message(ref.channel, ref.ts)
        assert checklist is not None
        assert _buttons(checklist.blocks) == [], stage_id
    # Every approval copy shows the decision; every acknowledged page DM lost its button.
    refs = await _refs(harness, incident_id)
    for key, ref in refs.items():
        if key.startswith(("approval:", "page:")):
            message = ws.find_message(ref.channel, ref.ts)
            assert message is not None, key
            assert _buttons(message.blocks) == [], key
    # The closing report is in the channel, and a summary in the announcement channel.
    closing = await harness.ref(f"closing:{incident_id}:resolved")
    report = ws.find_message(closing.channel, closing.ts)
    assert report is not None
    assert closing.channel == row.channel_id
    assert "Closing report" in report.text
    summary = await harness.ref(f"closing:{incident_id}:resolved:announce")
    assert f"<#{row.channel_id}>" in (ws.find_message(summary.channel, summary.ts) or report).text
    assert fake.calls_to("chat.postMessage")


async def _refs(harness: Harness, incident_id: int) -> dict[str, Any]:
    from epbot.adapters.slack.delivery import session_refs

    async with harness.sessions()() as session:
        return await session_refs(session, incident_id)
