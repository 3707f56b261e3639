"""A newcomer's first minutes in the sandbox, in a real browser.

The welcome in #general, the drill report filled with sample values, the private link to
the new incident channel, unread markers and the 🔔 on people with a page waiting, a modal
that survives a reload, and Chinese dates in the zh-CN page.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from playwright.async_api import expect

from epbot.sandbox import Sandbox
from tests.sandbox.test_sandbox_browser import OFFICE, REPORTER, WAIT, Shots, act_as

SECURITY = "U01SEC0003"  # the security officer, paged at declaration


async def test_first_run_in_the_browser(sandbox: Sandbox, browser: Any, artifacts: Path) -> None:
    context = await browser.new_context(viewport={"width": 1440, "height": 900}, locale="en-US")
    page = await context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    shots = Shots(page, artifacts)
    await page.goto(sandbox.url)
    await page.select_option("#lang", "en")
    await expect(page.locator("#person")).to_have_value(REPORTER)

    # The welcome says what to try and what the top bar does.
    welcome = page.locator("#welcome")
    await expect(welcome).to_be_visible()
    await expect(welcome).to_contain_text("/incident drill db-crash")
    await expect(welcome).to_contain_text("Acting as")
    await expect(welcome).to_contain_text("+15m")
    await shots.take("welcome")

    # "Type it for me", then the drill report filled with sample values.
    await welcome.locator('[data-role="try"]').click()
    composer = page.locator(".main .composer-input")
    await expect(composer).to_have_value("/incident drill db-crash")
    await composer.press("Enter")
    modal = page.locator('.modal[data-callback-id="incident.report"]')
    await expect(modal).to_be_visible(timeout=WAIT)
    await modal.locator('[data-role="sample"]').click()
    await expect(modal.locator('[data-block-id="title"] input')).not_to_have_value("")
    await modal.locator('[data-role="submit"]').click()
    await expect(modal).to_be_hidden(timeout=WAIT)

    # A private note in #general links to the new channel; the link opens it.
    note = page.locator(".messages .msg.ephemeral", has_text="Report submitted")
    await expect(note).to_have_count(1, timeout=WAIT)
    await shots.take("report-link")
    await note.locator(".channel-link").click()
    await expect(page.locator(".channel-name")).to_contain_text("drill-")

    # The paged emergency office: 🔔 in the person list, the app's DM unread until opened.
    office = page.locator(f'#person option[value="{OFFICE}"]')
    await expect(office).to_have_attribute("data-pending", "page", timeout=WAIT)
    await expect(office).to_contain_text("🔔")
    await act_as(page, OFFICE)
    app = page.locator('.sidebar [data-channel-name="epbot"]')
    await expect(app).to_have_class("side-item unread", timeout=WAIT)
    await expect(app.locator(".side-badge")).to_be_visible()
    await shots.take("unread-and-pending")
    await app.click()
    await expect(app).not_to_have_class("side-item unread", timeout=WAIT)
    ack = page.locator('.messages button[data-action-id="incident.ack"]').first
    await ack.click()
    await expect(office).to_have_attribute("data-pending", "", timeout=WAIT)
    # Read marks are per person: the security officer (paged too) has not looked. (The
    # reporter, head of the user IT unit, is not: her report is her acknowledgement.)
    await page.locator('.sidebar [data-channel-name="general"]').click()
    await act_as(page, SECURITY)
    await expect(page.locator('.sidebar [data-channel-name="epbot"]')).to_have_class(
        "side-item unread", timeout=WAIT
    )

    # An open modal keeps what was typed over a reload.
    await composer.fill("/incident db-crash")
    await composer.press("Enter")
    await expect(modal).to_be_visible(timeout=WAIT)
    await modal.locator('[data-block-id="title"] input').fill("Kept over a reload")
    await page.reload()
    await expect(modal).to_be_visible(timeout=WAIT)
    await expect(modal.locator('[data-block-id="title"] input')).to_have_value("Kept over a reload")

    # The zh-CN page writes dates the Chinese way.
    await page.select_option("#lang", "zh-CN")
    when = modal.locator('[data-block-id="occurred_at"] input')
    await expect(when).to_have_value(re.compile(r"^\d{4}年\d{1,2}月\d{1,2}日 \d{2}:\d{2}$"))
    await expect(modal.locator('[data-block-id="title"] input')).to_have_value("Kept over a reload")
    await modal.locator('[data-role="cancel"]').click()
    await expect(modal).to_be_hidden(timeout=WAIT)
    assert not errors, errors
    await context.close()
