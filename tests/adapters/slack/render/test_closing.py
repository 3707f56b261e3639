"""The channel topic and the closing report: escaped, both locales, late steps counted."""

from __future__ import annotations

from datetime import timedelta

import pytest

from epbot.adapters.playbook_files import PlaybookSet
from epbot.adapters.slack import render as r
from epbot.domain import incident as dom
from tests.adapters.slack.render.samples import (
    NOW,
    as_dict,
    context,
    declare,
    report,
)


@pytest.mark.parametrize("locale", ["en", "zh-CN"])
def test_channel_topic_and_closing_report(library: PlaybookSet, locale: str) -> None:
    state, events = declare(library)
    person = state.pages[0].person
    events += dom.decide(state, dom.AcknowledgePage(person, state.pages[0].key), NOW)
    events += dom.decide(state, dom.SendReport(person, "report-office", 1, report()), NOW)
    late = NOW + timedelta(minutes=20)
    events += dom.decide(state, dom.CompleteStep(person, "pause-uploads"), late)
    ctx = context(locale, minutes=30)
    topic = r.channel_topic(state, ctx)
    assert "2026-0007" in topic
    assert len(topic) <= 250
    state.status, state.resolved_at = dom.Status.RESOLVED, late
    timeline = [as_dict(e) for e in events]
    timeline.append(
        {
            "kind": "resolved",
            "actor": person,
            "at": late,
            "data": {"summary": "restored <!channel>"},
        }
    )
    closing = r.closing_report(state, report(), timeline, ctx)
    assert "restored &lt;!channel&gt;" in closing
    assert ("1 late" in closing) or ("超时 1 个" in closing)
    assert f"<@{person}>" in closing


@pytest.mark.parametrize(
    ("locale", "information", "attempt"),
    [
        ("en", "for information (no acknowledgement needed)", "#2 → "),
        ("zh-CN", "仅通知（无需确认）", "第 2 次 → "),
    ],
)
def test_closing_report_pages_by_their_status(
    library: PlaybookSet, locale: str, information: str, attempt: str
) -> None:
    state, events = declare(library)
    first = state.pages[0]
    events += dom.decide(state, dom.AcknowledgePage(first.person, first.key), NOW)
    members = state.members(first.role)
    later = dom.PageState(
        role=first.role,
        person=members[-1],
        attempt=9,  # its number among the role's pages; the report shows its chain place
        reason=dom.PageReason.OVERDUE,
        sent_at=NOW + timedelta(minutes=5),
    )
    state.pages.append(later)
    assert dom.page_status(state, later) is dom.PageStatus.INFORMATION
    text = r.closing_report(state, report(), [as_dict(e) for e in events], context(locale))
    assert information in text
    assert attempt.replace("2", str(len(members))) in text  # page_attempt: last of the list
    assert "#9" not in text
    assert "第 9 次" not in text
