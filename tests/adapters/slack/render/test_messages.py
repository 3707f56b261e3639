"""The card, a page, an approval request, thread lines and broadcasts: valid Block Kit,
the right buttons, both locales."""

from __future__ import annotations

from datetime import timedelta

import pytest

from epbot.adapters.playbook_files import PlaybookSet
from epbot.adapters.slack import ids
from epbot.adapters.slack import render as r
from epbot.domain import incident as dom
from tests.adapters.slack.render.samples import (
    CJK,
    ENGINE_KINDS,
    EVIL,
    NOW,
    SAMPLES,
    as_dict,
    buttons,
    check_blocks,
    context,
    declare,
    engine_events,
    report,
    texts,
)


@pytest.mark.parametrize("locale", ["en", "zh-CN"])
def test_incident_card_for_every_playbook(library: PlaybookSet, locale: str) -> None:
    for playbook in library.playbooks:
        for drill in (False, True):
            state, _ = declare(library, playbook.id, drill=drill)
            text, blocks = r.incident_card(state, report(), context(locale))
            check_blocks(blocks)
            assert "2026-0007" in text
            actions = [b["action_id"] for b in buttons(blocks)]
            assert actions == [ids.Action.ESCALATION_REQUEST, ids.Action.INCIDENT_RESOLVE]
            assert all(b["value"] == "42" for b in buttons(blocks))
            header = blocks[0]["text"]["text"]
            assert (("DRILL" in header) or ("演练" in header)) == drill


def test_card_shows_report_fields_and_countdown(library: PlaybookSet) -> None:
    state, _ = declare(library)
    _, blocks = r.incident_card(state, report(), context("en", minutes=3))
    body = texts(blocks)
    for value in ("Machine room 2", "Database crash", "022-2630-0101", "User IT department"):
        assert value in body
    assert "11-24 09:10" in body  # occurred_at in Shanghai time
    assert "due in 2 min" in body
    _, late = r.incident_card(state, report(), context("en", minutes=8))
    assert "overdue 3 min" in texts(late)
    _, zh = r.incident_card(state, report(), context("zh-CN", minutes=8))
    assert "已超时 3 分钟" in texts(zh)


def test_card_without_escalation_once_escalated_and_without_buttons_once_ended(
    library: PlaybookSet,
) -> None:
    state, _ = declare(library)
    state.status = dom.Status.EMERGENCY_RESPONSE
    _, blocks = r.incident_card(state, report(), context())
    assert [b["action_id"] for b in buttons(blocks)] == [ids.Action.INCIDENT_RESOLVE]
    state.status = dom.Status.RESOLVED
    _, blocks = r.incident_card(state, report(), context())
    check_blocks(blocks)
    assert buttons(blocks) == []


@pytest.mark.parametrize("locale", ["en", "zh-CN"])
def test_page_message_ack_button_until_acknowledged(library: PlaybookSet, locale: str) -> None:
    state, _ = declare(library)
    page = state.pages[0]
    _, blocks = r.page_message(state, page, context(locale), channel_link="C0INCIDENT")
    check_blocks(blocks)
    (button,) = buttons(blocks)
    assert button["action_id"] == ids.Action.INCIDENT_ACK
    assert button["value"] == f"42:{page.key}"
    assert "<#C0INCIDENT>" in texts(blocks)
    dom.decide(state, dom.AcknowledgePage(actor=page.person, page_key=page.key), NOW)
    _, blocks = r.page_message(state, page, context(locale), channel_link=None)
    check_blocks(blocks)
    assert buttons(blocks) == []
    assert f"<@{page.person}>" in texts(blocks)


@pytest.mark.parametrize("locale", ["en", "zh-CN"])
def test_page_message_for_every_reason(library: PlaybookSet, locale: str) -> None:
    state, _ = declare(library)
    for reason in dom.PageReason:
        page = dom.PageState(
            role="security-officer",
            person="ops@example.com",
            attempt=2,
            reason=reason,
            sent_at=NOW,
            step_id="report-office",
        )
        text, blocks = r.page_message(state, page, context(locale), channel_link=None)
        check_blocks(blocks)
        assert "ops@example.com" not in text or "<" not in text


@pytest.mark.parametrize("locale", ["en", "zh-CN"])
def test_approval_message_buttons_then_decision(library: PlaybookSet, locale: str) -> None:
    state, _ = declare(library)
    commander = state.pages[0].person
    dom.decide(state, dom.AcknowledgePage(actor=commander, page_key=state.pages[0].key), NOW)
    dom.decide(state, dom.RequestEscalation(actor=commander, reason=EVIL), NOW)
    approval = next(iter(state.approvals.values()))
    _, blocks = r.approval_message(state, approval, context(locale))
    check_blocks(blocks)
    approve, reject = buttons(blocks)
    assert approve["action_id"] == ids.Action.APPROVAL_APPROVE
    assert approve["style"] == "primary"
    assert "confirm" in approve
    assert reject["action_id"] == ids.Action.APPROVAL_REJECT
    assert reject["style"] == "danger"
    assert approve["value"] == reject["value"] == f"42:{approval.key}"
    approver = state.members(approval.approver_role)[0]
    dom.decide(
        state,
        dom.DecideApproval(actor=approver, approval_key=approval.key, approve=False, reason=EVIL),
        NOW + timedelta(minutes=1),
    )
    _, blocks = r.approval_message(state, approval, context(locale))
    check_blocks(blocks)
    assert buttons(blocks) == []
    body = texts(blocks)
    assert f"<@{approver}>" in body
    assert "11-24 09:16" in body
    assert "&lt;!channel&gt;" in body
    assert "<!channel>" not in body


def test_samples_cover_every_engine_kind() -> None:
    assert set(SAMPLES) == set(ENGINE_KINDS)


@pytest.mark.parametrize("locale", ["en", "zh-CN"])
@pytest.mark.parametrize("kind", ENGINE_KINDS)
def test_event_text_for_every_kind(library: PlaybookSet, locale: str, kind: str) -> None:
    state, _ = declare(library)
    for actor in ("U0ACTOR", dom.SYSTEM):
        event = {"kind": kind, "actor": actor, "at": NOW.isoformat(), "data": SAMPLES[kind]}
        text = r.event_text(state, event, context(locale))
        assert text
        assert "\n" not in text
        assert len(text) <= 3000
        # old outbox rows may lack newer keys: no KeyError, still a line
        assert r.event_text(
            state, {"kind": kind, "actor": actor, "at": NOW, "data": {}}, context(locale)
        )


@pytest.mark.parametrize("locale", ["en", "zh-CN"])
def test_event_text_for_real_engine_events(library: PlaybookSet, locale: str) -> None:
    state, _ = declare(library)
    events = engine_events(library)
    kinds = {e["kind"] for e in events}
    assert {"step_reminder", "step_overdue", "page_timed_out", "broadcast"} <= kinds
    for event in events:
        assert r.event_text(state, event, context(locale))


def test_event_text_unknown_kind_is_none(library: PlaybookSet) -> None:
    state, _ = declare(library)
    assert (
        r.event_text(state, {"kind": "internal", "actor": "x", "at": NOW, "data": {}}, context())
        is None
    )


def test_broadcast_text(library: PlaybookSet) -> None:
    state, _ = declare(library)
    person = state.pages[0].person
    dom.decide(state, dom.AcknowledgePage(person, state.pages[0].key), NOW)
    events = dom.decide(state, dom.CompleteStep(person, "pause-uploads"), NOW)
    broadcast = next(as_dict(e) for e in events if e.kind == "broadcast")
    zh = r.broadcast_text(state, broadcast, context("zh-CN"))
    en = r.broadcast_text(state, broadcast, context("en"))
    assert "2026-0007" in zh
    assert "暂缓上传" in zh
    assert "2026-0007" in en
    assert "pause uploading" in en
    assert not CJK.search(en)


def test_escalation_thread_lines_say_what_still_happens(library: PlaybookSet) -> None:
    state, _ = declare(library)

    def line(kind: str, **data: object) -> str:
        event = {"kind": kind, "actor": "U0ACTOR", "at": NOW.isoformat(), "data": data}
        return r.event_text(state, event, context("en")) or ""

    snoozed = line("step_snoozed", **SAMPLES["step_snoozed"])
    assert "until 11-24 09:15 (its deadline). The deadline stands: at 11-24 09:15" in snoozed
    assert snoozed.endswith("is paged.")
    on_it = line("step_on_it", **SAMPLES["step_on_it"])
    assert "(taking it over from " in on_it
    assert "; no more reminders before its deadline 11-24 09:15, when " in on_it
    late = line("step_on_it", **{**SAMPLES["step_on_it"], "overdue": True})
    assert late.endswith("it is overdue, the reminders go on until it is done")
    waiting = line("step_waiting", **SAMPLES["step_waiting"])
    assert "is still waiting for *" in waiting
    assert waiting.endswith("nobody is paged for it until it can start")
    implied = line("page_acknowledged", **SAMPLES["page_acknowledged"], implied=True)
    assert "reported the incident and holds the" in implied
    timed_out = line("page_timed_out", **SAMPLES["page_timed_out"])
    assert "in time (2 pages); paging " in timed_out
    reminder = line("step_reminder", **SAMPLES["step_reminder"])
    assert " · waiting for *" in reminder
