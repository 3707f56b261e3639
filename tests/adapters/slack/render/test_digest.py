"""The deadlines digest and a person's reminders, rendered from the incident's state: every
open overdue step with who, how late and what happens next; the steps due soon; the late
receipts; nothing once it is all done."""

from __future__ import annotations

import dataclasses
from datetime import timedelta

import pytest

from epbot.adapters.playbook_files import PlaybookSet
from epbot.adapters.slack import render as r
from epbot.domain import incident as dom
from tests.adapters.slack.render.samples import (
    NOW,
    check_blocks,
    context,
    declare,
    texts,
)

COMMANDER_STEPS = ("report-office", "pause-uploads", "report-leadership")


def run_until(state: dom.IncidentState, minutes: int) -> None:
    """Fire every timer due in the first ``minutes`` after the declaration, in order."""
    at = NOW
    while True:
        live = sorted(dom.live_timers(state), key=lambda t: t.due_at)
        if not live or live[0].due_at > NOW + timedelta(minutes=minutes):
            return
        timer = live[0]
        at = max(at, timer.due_at)
        dom.decide(state, dom.FireTimer(None, timer.kind, timer.target, timer.due_at), at)


def acknowledged(library: PlaybookSet) -> dom.IncidentState:
    state, _ = declare(library)
    for page in list(state.pages):
        dom.decide(state, dom.AcknowledgePage(page.person, page.key), NOW)
    return state


def at(locale: str, minutes: float) -> r.RenderContext:
    return dataclasses.replace(context(locale), now=NOW + timedelta(minutes=minutes))


def test_lists_every_open_overdue_step_and_what_comes_next(library: PlaybookSet) -> None:
    state = acknowledged(library)
    run_until(state, 16)
    ctx = at("en", 16)
    found = r.deadlines(state, ctx.now)
    overdue = [o.step.step_id for o in found.overdue]
    # due at +5, +5, +10, +15: oldest first
    assert overdue == [
        "report-office",
        "report-security-officer",
        "pause-uploads",
        "report-leadership",
    ]
    text, blocks = r.digest_message(state, found, ctx)
    check_blocks(blocks)
    body = texts(blocks)
    for step_id in overdue:
        assert state.playbook.step(step_id).title.en in body
    office = state.steps["report-office"].assignee
    security = state.steps["report-security-officer"].assignee
    assert f"<@{office}>" in text
    assert f"<@{security}>" in text
    assert "overdue 11 min" in body  # report-office, due at +5
    assert "overdue 1 min" in body  # report-leadership, due at +15
    # What happens next: the escalation (paged, acknowledged or not), the next reminder.
    assert "escalated to Leader of the emergency leadership group" in body
    assert "next reminder 11-24 09:3" in body
    line = next(ln for ln in body.split("\\n• ") if "Report the crash" in ln)
    assert "Information-security group lead" in line
    # The approval step waits for report-leadership: the digest says so once it is due.
    run_until(state, 31)
    found = r.deadlines(state, NOW + timedelta(minutes=31))
    approval = next(o for o in found.overdue if o.step.step_id == "approve-emergency-response")
    assert approval.waiting_for == ("report-leadership",)
    _, blocks = r.digest_message(state, found, at("en", 31))
    assert "waits for *Report the major event" in texts(blocks)


def test_due_soon_once_the_reminders_started(library: PlaybookSet) -> None:
    state = acknowledged(library)
    found = r.deadlines(state, NOW + timedelta(minutes=1))
    assert not found  # report-office's reminder comes 2 min before its +5 deadline
    found = r.deadlines(state, NOW + timedelta(minutes=3))
    assert [s.step.step_id for s in found.due_soon] == ["report-office", "report-security-officer"]
    assert found.repeat == timedelta(minutes=2)  # the playbook's repeat of those steps
    _, blocks = r.digest_message(state, found, at("en", 3))
    assert "Due soon (2)" in texts(blocks)
    assert "then escalates to Leader of the emergency leadership group" in texts(blocks)


def test_a_persons_reminder_lists_only_their_steps(library: PlaybookSet) -> None:
    state = acknowledged(library)
    run_until(state, 12)
    boss = state.steps["report-office"].assignee
    assert boss is not None
    found = r.deadlines(state, NOW + timedelta(minutes=12), person=boss)
    listed = [o.step.step_id for o in found.overdue] + [s.step.step_id for s in found.due_soon]
    assert sorted(listed) == sorted(COMMANDER_STEPS)
    assert all(o.step.assignee == boss for o in found.overdue)
    assert not found.receipts


def test_done_steps_leave_and_an_ended_incident_lists_nothing(library: PlaybookSet) -> None:
    state = acknowledged(library)
    run_until(state, 11)
    boss = state.steps["pause-uploads"].assignee
    assert boss is not None
    dom.decide(state, dom.CompleteStep(boss, "pause-uploads"), NOW + timedelta(minutes=11))
    found = r.deadlines(state, NOW + timedelta(minutes=11))
    assert "pause-uploads" not in [o.step.step_id for o in found.overdue]
    assert found
    state.status = dom.Status.RESOLVED
    found = r.deadlines(state, NOW + timedelta(minutes=11))
    assert not found
    text, blocks = r.digest_message(state, found, at("en", 11))
    check_blocks(blocks)
    assert "nothing overdue" in text


def test_late_receipts_are_listed(library: PlaybookSet) -> None:
    state = acknowledged(library)
    boss = state.steps["pause-uploads"].assignee
    assert boss is not None
    dom.decide(state, dom.CompleteStep(boss, "pause-uploads"), NOW + timedelta(minutes=1))
    assert state.receipts
    late = NOW + timedelta(minutes=40)  # receipt_within: 30m
    found = r.deadlines(state, late)
    assert len(found.receipts) == len(state.receipts)
    _, blocks = r.digest_message(state, found, dataclasses.replace(context("en"), now=late))
    check_blocks(blocks)
    assert "Receipts not yet confirmed" in texts(blocks)
    state.receipts[0].confirmed_at = late
    assert len(r.deadlines(state, late).receipts) == len(state.receipts) - 1


@pytest.mark.parametrize("locale", ["en", "zh-CN"])
def test_many_overdue_steps_stay_within_slack_limits(library: PlaybookSet, locale: str) -> None:
    state = acknowledged(library)
    run_until(state, 240)
    found = r.deadlines(state, NOW + timedelta(minutes=240))
    assert len(found.overdue) >= 9
    text, blocks = r.digest_message(state, found, at(locale, 240))
    check_blocks(blocks)
    assert len(text) <= 3000


@pytest.mark.parametrize(
    ("locale", "labels"),
    [
        ("en", ["Snooze 10 min", "30 min", "1 h", "I'm on it"]),
        ("zh-CN", ["暂停提醒 10 分钟", "30 分钟", "1 小时", "我来处理"]),
    ],
)
def test_each_reminder_entry_has_its_row_of_buttons(
    library: PlaybookSet, locale: str, labels: list[str]
) -> None:
    """Due soon: snooze 10/30/60 and "I'm on it"; overdue: only "I'm on it" (a snooze past
    the deadline is refused by the engine). Each row acts on its own step."""
    state = acknowledged(library)
    run_until(state, 6)
    ctx = at(locale, 6)
    boss = state.steps["report-office"].assignee
    assert boss is not None
    found = r.deadlines(state, ctx.now, person=boss)
    assert [o.step.step_id for o in found.overdue] == ["report-office"]
    soon = [s.step.step_id for s in found.due_soon]
    assert soon == ["pause-uploads", "report-leadership"]
    _, blocks = r.reminder_message(state, found, ctx)
    check_blocks(blocks)
    rows = [b["elements"] for b in blocks if b["type"] == "actions"]
    assert len(rows) == 3
    incident = state.id if state.id is not None else 0
    expected = {"report-office": [labels[-1]], **dict.fromkeys(soon, labels)}
    for row, step_id in zip(rows, ["report-office", *soon], strict=True):
        assert [b["text"]["text"] for b in row] == expected[step_id]
        assert {b["value"] for b in row} == {f"{incident}:{step_id}"}
    actions = [b["action_id"] for b in rows[1]]
    assert actions == ["step.snooze_10", "step.snooze_30", "step.snooze_60", "step.on_it"]


@pytest.mark.parametrize(("locale", "words"), [("en", "waits for"), ("zh-CN", "等待前置步骤")])
def test_a_step_due_soon_says_what_it_still_waits_for(
    library: PlaybookSet, locale: str, words: str
) -> None:
    state = acknowledged(library)
    run_until(state, 21)  # the approval's reminders start at +20; report-leadership is open
    ctx = at(locale, 21)
    found = r.deadlines(state, ctx.now)
    soon = {s.step.step_id: s for s in found.due_soon}
    assert soon["approve-emergency-response"].waiting_for == ("report-leadership",)
    _, blocks = r.digest_message(state, found, ctx)
    line = next(
        b["text"]["text"] for b in blocks if b["type"] == "section" and words in b["text"]["text"]
    )
    title = state.playbook.step("report-leadership").title.get(locale)
    assert f"{words} *{title}*" in line
