"""Every message that names an incident outside its channel links the channel and shows
its number, title, severity and stage: pages (escalation pages too), approval requests,
reminders, reports, the 续报 prompt and unit notices, in the text a notification shows
as well as in the blocks."""

from __future__ import annotations

import dataclasses
from datetime import timedelta

import pytest

from epbot.adapters.playbook_files import PlaybookSet
from epbot.adapters.slack import receipt_render, report_render
from epbot.adapters.slack import render as r
from epbot.domain import incident as dom
from tests.adapters.slack.render.samples import (
    NOW,
    as_dict,
    check_blocks,
    context,
    declare,
    fire_timers,
    report,
    texts,
)

NAMES = {
    "en": ("Initial handling", "II"),
    "zh-CN": ("先期处置", "II"),
}
TITLE = "Main DB <down>"


def named(locale: str) -> r.RenderContext:
    return dataclasses.replace(context(locale), title=TITLE)


def assert_names_incident(text: str, blocks: list[dict[str, object]] | None, locale: str) -> None:
    stage, severity = NAMES[locale]
    for where in (text, texts(blocks or [])):
        assert "<#C0INCIDENT>" in where, where
        assert "2026-0007" in where, where
        assert "Main DB &lt;down&gt;" in where, where  # the title, escaped
        assert stage in where, where
        assert severity in where, where


def acknowledged(library: PlaybookSet) -> dom.IncidentState:
    state, _ = declare(library)
    page = state.pages[0]
    dom.decide(state, dom.AcknowledgePage(page.person, page.key), NOW)
    return state


@pytest.mark.parametrize("locale", ["en", "zh-CN"])
def test_pages_and_escalation_pages_link_the_channel(library: PlaybookSet, locale: str) -> None:
    state = acknowledged(library)
    fire_timers(state, rounds=12)  # past the first deadlines: escalation pages
    escalations = [p for p in state.pages if p.reason is dom.PageReason.OVERDUE]
    assert escalations
    for page in [state.pages[0], *escalations]:
        text, blocks = r.page_message(state, page, named(locale), channel_link=None)
        check_blocks(blocks)
        assert_names_incident(text, blocks, locale)


@pytest.mark.parametrize("locale", ["en", "zh-CN"])
def test_approval_requests_link_the_channel(library: PlaybookSet, locale: str) -> None:
    state = acknowledged(library)
    dom.decide(state, dom.RequestEscalation(state.pages[0].person, "spreading"), NOW)
    approval = next(iter(state.approvals.values()))
    text, blocks = r.approval_message(state, approval, named(locale))
    assert_names_incident(text, blocks, locale)


@pytest.mark.parametrize("locale", ["en", "zh-CN"])
def test_reminders_link_the_channel(library: PlaybookSet, locale: str) -> None:
    state = acknowledged(library)
    ctx = dataclasses.replace(named(locale), now=NOW + timedelta(minutes=6))
    found = r.deadlines(state, ctx.now, person=state.pages[0].person)
    assert found
    text, blocks = r.reminder_message(state, found, ctx)
    check_blocks(blocks)
    assert_names_incident(text, blocks, locale)
    # With nothing left to remind of, the DM still says which incident.
    text, blocks = r.reminder_message(state, r.Deadlines(), ctx)
    assert_names_incident(text, blocks, locale)


@pytest.mark.parametrize("locale", ["en", "zh-CN"])
def test_reports_prompts_and_notices_link_the_channel(library: PlaybookSet, locale: str) -> None:
    state = acknowledged(library)
    boss = state.pages[0].person
    sent_report = report(title=TITLE)
    events = dom.decide(state, dom.SendReport(boss, "report-office", 1, sent_report), NOW)
    sent = next(as_dict(e) for e in events if e.kind == "report_sent")
    text, blocks = report_render.report_message(state, sent, named(locale), channel_link=None)
    assert_names_incident(text, blocks, locale)
    prompt = {"kind": "progress_report_due", "data": {"commander": boss, "every_seconds": 3600}}
    _, blocks = report_render.progress_prompt(state, prompt, named(locale))
    stage, _ = NAMES[locale]
    assert "<#C0INCIDENT>" in texts(blocks)
    assert stage in texts(blocks)
    notice = {"kind": "broadcast", "data": {"step": "pause-uploads", "message_en": "x"}}
    text, _ = receipt_render.broadcast_message(state, notice, named(locale), "C0UNIT")
    assert "<#C0INCIDENT>" in text
    assert "2026-0007" in text
