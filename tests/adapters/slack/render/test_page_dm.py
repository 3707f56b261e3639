"""A page's DM by where the page stands (``page_status``): a live Acknowledge button only
while it waits; timed out, for information and acknowledged each say so without one; the
attempt is the person's place in the role's chain; pages sent together make one DM."""

from __future__ import annotations

import dataclasses
from datetime import timedelta

import pytest

from epbot.adapters.playbook_files import PlaybookSet
from epbot.adapters.slack import ids
from epbot.adapters.slack import render as r
from epbot.domain import incident as dom
from tests.adapters.slack.render.samples import NOW, buttons, check_blocks, context, declare, texts
from tests.adapters.slack.render.test_digest import run_until

NOTES = {
    "en": ("Timed out at", "For information:", "Acknowledged by", "(attempt 2)"),
    "zh-CN": ("超时未确认", "仅通知：", "确认", "（第 2 次）"),
}


@pytest.mark.parametrize("locale", ["en", "zh-CN"])
def test_a_timed_out_page_shows_its_note_and_no_button(library: PlaybookSet, locale: str) -> None:
    state, _ = declare(library)
    run_until(state, 30)
    timed_out = [p for p in state.pages if p.timed_out_at is not None]
    assert timed_out
    page = timed_out[0]
    assert dom.page_status(state, page) is dom.PageStatus.TIMED_OUT
    _, blocks = r.page_message(state, page, context(locale), channel_link=None)
    check_blocks(blocks)
    assert buttons(blocks) == []
    body = texts(blocks)
    assert NOTES[locale][0] in body
    following = [p for p in state.pages if p.role == page.role and p.person != page.person]
    if following:  # the chain went on: the note names who was paged next
        assert f"<@{following[0].person}>" in body


@pytest.mark.parametrize("locale", ["en", "zh-CN"])
def test_a_page_for_information_has_no_button(library: PlaybookSet, locale: str) -> None:
    state, _ = declare(library)
    first = state.pages[0]
    dom.decide(state, dom.AcknowledgePage(actor=first.person, page_key=first.key), NOW)
    later = dom.PageState(
        role=first.role,
        person="U0LATER",
        attempt=first.attempt + 1,
        reason=dom.PageReason.OVERDUE,
        sent_at=NOW + timedelta(minutes=5),
        step_id="report-office",
    )
    state.pages.append(later)
    assert dom.page_status(state, later) is dom.PageStatus.INFORMATION
    _, blocks = r.page_message(state, later, context(locale), channel_link=None)
    check_blocks(blocks)
    assert buttons(blocks) == []
    assert NOTES[locale][1] in texts(blocks)
    assert f"<@{first.person}>" in texts(blocks)


@pytest.mark.parametrize("locale", ["en", "zh-CN"])
def test_an_acknowledged_page_names_its_own_answer(library: PlaybookSet, locale: str) -> None:
    state, _ = declare(library)
    first = state.pages[0]
    dom.decide(state, dom.AcknowledgePage(actor=first.person, page_key=first.key), NOW)
    members = state.members(first.role)
    if len(members) < 2:
        pytest.skip("the role has one member")
    own = dom.PageState(
        role=first.role,
        person=members[1],
        attempt=7,  # its number among the role's pages; its place in the chain is 2
        reason=dom.PageReason.BACKUP,
        sent_at=NOW - timedelta(minutes=1),
        acked_at=NOW + timedelta(minutes=3),
        acked_by=members[1],
    )
    state.pages.append(own)
    ctx = dataclasses.replace(context(locale), now=NOW + timedelta(minutes=4))
    _, blocks = r.page_message(state, own, ctx, channel_link=None)
    check_blocks(blocks)
    assert buttons(blocks) == []
    body = texts(blocks)
    assert f"<@{members[1]}>" in body
    assert NOTES[locale][2] in body
    assert NOTES[locale][3] in body  # page_attempt(), not the page's number
    assert "attempt 7" not in body
    assert "第 7 次" not in body


@pytest.mark.parametrize("locale", ["en", "zh-CN"])
def test_pages_sent_together_make_one_dm_with_a_button_each(
    library: PlaybookSet, locale: str
) -> None:
    state, _ = declare(library)
    first = state.pages[0]
    other = dom.PageState(
        role="security-officer" if first.role != "security-officer" else "emergency-office",
        person=first.person,
        attempt=1,
        reason=dom.PageReason.DECLARED,
        sent_at=first.sent_at,
    )
    state.pages.append(other)
    assert dom.page_group(state, first) == [first, other]
    _, blocks = r.page_message(state, other, context(locale), channel_link=None)
    check_blocks(blocks)
    found = buttons(blocks)
    assert [b["value"] for b in found] == [f"42:{first.key}", f"42:{other.key}"]
    assert {b["action_id"] for b in found} == {ids.Action.INCIDENT_ACK.value}
    assert len({b["text"]["text"] for b in found}) == 2  # each names its role
    dom.decide(state, dom.AcknowledgePage(actor=first.person, page_key=first.key), NOW)
    _, blocks = r.page_message(state, first, context(locale), channel_link=None)
    assert [b["value"] for b in buttons(blocks)] == [f"42:{other.key}"]
