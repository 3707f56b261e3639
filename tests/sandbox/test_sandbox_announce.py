"""The announcement in the incidents channel follows the incident: stage, then cancelled."""

from __future__ import annotations

import asyncio
import contextlib
from datetime import timedelta

from epbot.domain import incident as dom
from epbot.sandbox import Sandbox

REPORTER = "U01UIT0001"


async def delivered(sandbox: Sandbox) -> None:
    sandbox.bot.delivery.kick()
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(sandbox.bot.delivery.wait_idle(), 20)


def announcement(sandbox: Sandbox) -> str:
    ws = sandbox.workspace
    channel = ws.channel_by_name("ep-incidents")
    assert channel is not None
    # The first message is the announcement, edited in place (the end adds a summary line).
    return ws.history(channel.id)[0].text


def sample_report(sandbox: Sandbox) -> dom.ReportFields:
    now = sandbox.clock.now()
    return dom.ReportFields(
        occurred_at=now - timedelta(minutes=2),
        place="Server room B",
        nature="Database crash",
        scope="All units",
        trend="Stable",
        measures="None yet",
        unit_id="user-it",
        contact_phone="022-2630-0201",
        title="DB down",
    )


async def test_the_announcement_is_kept_current(sandbox: Sandbox) -> None:
    service = sandbox.bot.service
    outcome = await service.declare(
        key="t:declare",
        playbook="db-crash",
        severity=None,
        report=sample_report(sandbox),
        reporter=REPORTER,
    )
    await delivered(sandbox)
    assert "Reported" in announcement(sandbox)
    state = await service.state(outcome.incident_id)
    # The reporter's own page (if she holds a paged role) is acknowledged with her report.
    page = next(p for p in state.pages if p.acked_at is None)
    await service.acknowledge_page(
        key="t:ack", incident_id=outcome.incident_id, page=page.key, actor=page.person
    )
    await delivered(sandbox)
    assert "Initial handling" in announcement(sandbox)
    await service.cancel(
        key="t:cancel", incident_id=outcome.incident_id, actor=page.person, reason="false alarm"
    )
    await delivered(sandbox)
    assert "Cancelled" in announcement(sandbox) or "cancelled" in announcement(sandbox)


async def test_switching_the_sandbox_language_switches_the_bot(sandbox: Sandbox) -> None:
    """The fixture's workspace speaks English; the page switches it to Chinese."""
    assert sandbox.set_language("zh-CN") == {"ok": True, "locale": "zh-CN"}
    assert sandbox.workspace.users[REPORTER].locale == "zh-CN"
    await sandbox.bot.service.declare(
        key="t:zh",
        playbook="db-crash",
        severity=None,
        report=sample_report(sandbox),
        reporter=REPORTER,
    )
    await delivered(sandbox)
    assert "已报告" in announcement(sandbox)  # shared messages: the workspace's language
    ws = sandbox.workspace
    office = ws.ims.get("U01EOF0001")
    assert office is not None
    page = ws.history(office)[-1]  # a person's DM: their own locale
    assert "呼叫" in page.text or "确认" in page.text, page.text
