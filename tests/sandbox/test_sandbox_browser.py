"""The whole db-crash drill in a real browser, against the sandbox's real bot.

Declare with ``/incident db-crash`` and the report modal (a field error first), see the
incident channel and its pinned card, acknowledge the page as the emergency office, send
the first report from its step, fast-forward 15 minutes to see the overdue escalation, be
refused as a non-approver and approve as the leadership group's leader. Screenshots of
each moment go to the artifacts directory; with ``EPBOT_UPDATE_SCREENSHOT=1`` the README's
screenshot (docs/img/sandbox.png) is refreshed too.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Any

from playwright.async_api import Page, expect

from epbot.domain.incident import Status
from epbot.sandbox import Sandbox
from tests.sandbox.conftest import ROOT

REPORTER = "U01UIT0001"  # head of the user IT department
OFFICE = "U01EOF0001"  # emergency office: paged first, commands the incident
LEADER = "U01LDR0001"  # leader of the emergency leadership group
WAIT = 15_000  # ms


class Shots:
    def __init__(self, page: Page, directory: Path) -> None:
        self.page = page
        self.directory = directory
        self.taken: list[Path] = []

    async def take(self, name: str) -> Path:
        path = self.directory / f"{len(self.taken) + 1:02d}-{name}.png"
        await self.page.screenshot(path=str(path))
        self.taken.append(path)
        return path


async def act_as(page: Page, user_id: str) -> None:
    await page.select_option("#person", user_id)
    await expect(page.locator("#person")).to_have_value(user_id)


async def open_channel(page: Page, name_prefix: str) -> None:
    item = page.locator(f'.sidebar [data-channel-name^="{name_prefix}"]').first
    await expect(item).to_be_visible(timeout=WAIT)
    await item.click()
    await expect(page.locator(".channel-name")).to_contain_text(name_prefix)


async def send_report(page: Page, step: str) -> None:
    """Press the step's "Send report…", send the pre-filled report, see the step done."""
    button = page.locator(f'.messages button[data-action-id="step.report"][data-value$=":{step}"]')
    await expect(button).to_be_visible(timeout=WAIT)
    await button.click()
    modal = page.locator('.modal[data-callback-id="report.send"]')
    await expect(modal).to_be_visible(timeout=WAIT)
    await modal.locator('[data-role="submit"]').click()
    await expect(modal).to_be_hidden(timeout=WAIT)
    await expect(button).to_have_count(0, timeout=WAIT)


async def incident_status(sandbox: Sandbox) -> Status:
    incidents = await sandbox.bot.ui.open_incidents()
    assert len(incidents) == 1
    return incidents[0][1].status


async def test_db_crash_drill_in_the_browser(
    sandbox: Sandbox, browser: Any, artifacts: Path
) -> None:
    context = await browser.new_context(viewport={"width": 1440, "height": 900}, locale="en-US")
    page = await context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    shots = Shots(page, artifacts)
    await page.goto(sandbox.url)
    await expect(page.locator("#person")).to_have_value(REPORTER)
    await expect(page.locator(".channel-name")).to_contain_text("general")

    # /incident db-crash opens the Article 5.1 report form.
    composer = page.locator(".main .composer-input")
    await composer.fill("/incident db-crash")
    await composer.press("Enter")
    modal = page.locator('.modal[data-callback-id="incident.report"]')
    await expect(modal).to_be_visible(timeout=WAIT)
    for block, text in {
        "title": "Primary database down",
        "place": "Server room B",
        "nature": "Database crash",
        "scope": "All units cannot upload",
        "trend": "Stable",
        "measures": "Switched the portal to read-only",
        "contact_phone": "not a phone",
    }.items():
        field = f'[data-block-id="{block}"]'
        await modal.locator(f"{field} input, {field} textarea").fill(text)
    await modal.locator('[data-block-id="unit"] select').select_option(label="User IT department")
    await modal.locator('[data-role="submit"]').click()
    # The bot refuses the phone number: Slack shows the error under the field.
    phone_error = modal.locator('[data-block-id="contact_phone"] .bk-error')
    await expect(phone_error).to_contain_text("phone", timeout=WAIT)
    await shots.take("report-modal-field-error")
    await modal.locator('[data-block-id="contact_phone"] input').fill("022-2630-0201")
    await modal.locator('[data-role="submit"]').click()
    await expect(modal).to_be_hidden(timeout=WAIT)

    # A new incident channel with the pinned incident card.
    await open_channel(page, "inc-")
    pinned = page.locator(".messages .msg.pinned")
    await expect(pinned).to_have_count(1, timeout=WAIT)
    await expect(pinned).to_contain_text("Primary database down")
    await expect(page.locator(".channel-topic")).not_to_be_empty()
    await shots.take("incident-channel-pinned-card")

    # The paged emergency office acknowledges from the app's DM.
    await act_as(page, OFFICE)
    await page.locator('.sidebar [data-channel-name="epbot"]').click()
    ack = page.locator('.messages button[data-action-id="incident.ack"]').first
    await expect(ack).to_be_visible(timeout=WAIT)
    await shots.take("page-to-acknowledge")
    await ack.click()
    await expect(page.locator('.messages button[data-action-id="incident.ack"]')).to_have_count(
        0, timeout=WAIT
    )
    assert await incident_status(sandbox) is Status.INITIAL_HANDLING

    # Send the first report from the incident channel's checklist (a report step is met by
    # a delivered report, not a tick): the report modal opens pre-filled.
    await open_channel(page, "inc-")
    await send_report(page, "report-office")
    await shots.take("step-done")

    # Fast-forward 15 minutes: the open report steps are overdue and escalated.
    await page.locator("#ff-15").click()
    await expect(page.locator("#clock-offset")).to_contain_text("15", timeout=WAIT)
    report_stage = page.locator(".messages .msg", has_text="Information report")
    overdue_step = report_stage.locator(".bk-section", has_text="overdue")
    await expect(overdue_step.first).to_contain_text("🔴", timeout=WAIT)
    # The deadlines digest in the card's thread lists them (issue 14: it used to be a line
    # per overdue step in the checklist's thread).
    await page.locator(".messages .msg.pinned .thread-link").click()
    await expect(page.locator("#thread")).to_contain_text("Overdue (", timeout=WAIT)
    await shots.take("overdue-escalation")

    # Reporting to the leadership group asks the leaders to approve emergency response.
    await send_report(page, "report-leadership")

    # A non-approver (the reporter) presses Approve on the card's thread: refused privately.
    await act_as(page, REPORTER)
    await open_channel(page, "inc-")
    await page.locator(".messages .msg.pinned .thread-link").click()
    approve = page.locator('#thread button[data-action-id="approval.approve"]').first
    await expect(approve).to_be_visible(timeout=WAIT)
    await approve.click()
    confirm = page.locator(".confirm")
    await expect(confirm).to_be_visible()
    await confirm.locator('[data-role="confirm"]').click()
    refusal = page.locator("#thread .msg.ephemeral")
    await expect(refusal).to_have_count(1, timeout=WAIT)
    await expect(refusal).to_contain_text("Only visible to you")
    await shots.take("non-approver-refused")
    assert await incident_status(sandbox) is Status.INITIAL_HANDLING

    # The leader approves from the app's DM: emergency response starts.
    await act_as(page, LEADER)
    await page.locator('.sidebar [data-channel-name="epbot"]').click()
    approve = page.locator('.messages button[data-action-id="approval.approve"]').first
    await expect(approve).to_be_visible(timeout=WAIT)
    await approve.click()
    await page.locator('.confirm [data-role="confirm"]').click()
    await expect(page.locator('.messages button[data-action-id="approval.approve"]')).to_have_count(
        0, timeout=WAIT
    )
    assert await incident_status(sandbox) is Status.EMERGENCY_RESPONSE
    await shots.take("leader-approved")

    await open_channel(page, "inc-")
    await page.locator(".messages .msg.pinned .thread-link").click()
    await expect(page.locator("#thread")).to_contain_text("Approved by", timeout=WAIT)
    await expect(page.locator(".toast")).to_have_count(0, timeout=WAIT)  # a clean picture
    final = await shots.take("incident-after-approval")
    if os.environ.get("EPBOT_UPDATE_SCREENSHOT") == "1":
        target = ROOT / "docs" / "img" / "sandbox.png"
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(final, target)
        print(f"updated {target}")  # noqa: T201
    assert not errors, errors
    assert all(p.stat().st_size > 10_000 for p in shots.taken)
    await context.close()
