"""The plan's reports in Slack (issue 15): the send form, the delivered report, the prompt."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from epbot.adapters.playbook_files import PlaybookLibrary, PlaybookSet
from epbot.adapters.slack import ids
from epbot.adapters.slack import render as r
from epbot.adapters.slack import report_render as rr
from epbot.domain import incident as dom
from tests.adapters.slack.render.samples import (
    CJK,
    EVIL,
    NOW,
    buttons,
    check_blocks,
    check_view,
    context,
    declare,
    report,
    texts,
)


@pytest.fixture(scope="module")
def library() -> PlaybookSet:
    return PlaybookLibrary(Path("playbooks")).load()


def _sent(state: dom.IncidentState, **progress: str) -> dict[str, Any]:
    commander = state.pages[0]
    dom.decide(state, dom.AcknowledgePage(commander.person, commander.key), NOW)
    fields = report(place=EVIL, contact_phone="022-2630-0101")
    command = dom.SendReport(commander.person, "report-leadership", 2, fields, progress or None)
    events = dom.decide(state, command, NOW)
    event = next(e for e in events if e.kind == "report_sent")
    return {"kind": event.kind, "actor": event.actor, "at": event.at, "data": event.data}


@pytest.mark.parametrize("locale", ["en", "zh-CN"])
@pytest.mark.parametrize("progress", [False, True])
def test_send_report_modal_is_prefilled_and_editable(
    library: PlaybookSet, locale: str, progress: bool
) -> None:
    state, _ = declare(library)
    view = rr.send_report_modal(
        state,
        report(place="Machine room 2"),
        library.matrix,
        context(locale),
        step_id="report-leadership",
        progress=progress,
        private_metadata="{}",
    )
    check_view(view)
    assert view["callback_id"] == ids.Callback.REPORT_SEND.value
    inputs = {b["block_id"]: b["element"] for b in view["blocks"] if b["type"] == "input"}
    assert inputs["place"]["initial_value"] == "Machine room 2"
    assert inputs["contact_phone"]["initial_value"] == "022-2630-0101"
    assert inputs["unit"]["initial_option"]["value"] == "user-it"
    assert inputs["occurred_at"]["initial_date_time"] == int(
        (NOW - timedelta(minutes=5)).timestamp()
    )
    assert ("changes" in inputs) is progress


@pytest.mark.parametrize("locale", ["en", "zh-CN"])
def test_delivered_report_has_the_fields_phone_link_and_is_escaped(
    library: PlaybookSet, locale: str
) -> None:
    state, _ = declare(library)
    event = _sent(state)
    text, blocks = rr.report_message(state, event, context(locale), channel_link="<#C0INCIDENT>")
    check_blocks(blocks)
    body = texts(blocks)
    assert "022-2630-0101" in body
    assert "<#C0INCIDENT>" in body
    assert "<!channel>" not in body
    assert "&lt;!channel&gt;" in body
    assert ("信息报告" in body) is (locale == "zh-CN")
    assert text


def test_progress_report_and_final_report_in_the_plans_words(library: PlaybookSet) -> None:
    state, _ = declare(library)
    event = _sent(state, changes="replica promoted", next_steps="verify", help="")
    event["data"]["kind"] = "progress"
    _, blocks = rr.report_message(state, event, context("zh-CN"), channel_link=None)
    assert "续报" in texts(blocks)
    assert "replica promoted" in texts(blocks)
    final = {"kind": "final_report", "actor": "U1", "at": NOW, "data": {"kind": "final"}}
    _, blocks = rr.report_message(state, final, context("zh-CN"), channel_link=None)
    assert "终报" in texts(blocks)
    _, blocks = rr.report_message(state, final, context("en"), channel_link=None)
    assert not CJK.search(json.dumps(blocks, ensure_ascii=False).replace("张伟", ""))


@pytest.mark.parametrize("locale", ["en", "zh-CN"])
def test_progress_prompt_carries_the_button(library: PlaybookSet, locale: str) -> None:
    state, _ = declare(library)
    event = {
        "kind": "progress_report_due",
        "data": {"commander": "U1", "every_seconds": 3600, "roles": ["leadership-group"]},
    }
    _, blocks = rr.progress_prompt(state, event, context(locale))
    check_blocks(blocks)
    [button] = buttons(blocks)
    assert button["action_id"] == ids.Action.REPORT_PROGRESS.value
    assert button["value"] == "42"
    assert ("续报" in texts(blocks)) is (locale == "zh-CN")


def test_phones_on_the_card_roster_and_in_pages(library: PlaybookSet) -> None:
    state, _ = declare(library)
    commander = state.pages[0]
    dom.decide(state, dom.AcknowledgePage(commander.person, commander.key), NOW)
    phone = library.matrix.person(commander.person).phone
    assert phone
    _, blocks = r.incident_card(state, report(), context())
    assert phone in texts(blocks)
    other = next(p for p in state.pages if p.person != commander.person)
    _, blocks = r.page_message(state, other, context(), channel_link=None)
    assert phone in texts(blocks)  # whom to call: the commander


def _notice(library: PlaybookSet) -> tuple[dom.IncidentState, dict[str, Any]]:
    state, _ = declare(library)
    events = dom.decide(state, dom.CompleteStep("U01EOF0001", "pause-uploads"), NOW)
    event = next(e for e in events if e.kind == "broadcast")
    return state, {"kind": event.kind, "actor": event.actor, "at": event.at, "data": event.data}


@pytest.mark.parametrize("locale", ["en", "zh-CN"])
def test_a_notice_names_the_units_responsible_person_and_asks_a_receipt(
    library: PlaybookSet, locale: str
) -> None:
    from epbot.adapters.slack import receipt_render

    state, event = _notice(library)
    _, blocks = receipt_render.broadcast_message(state, event, context(locale), "#ep-unit-drc")
    assert blocks is not None
    check_blocks(blocks)
    body = texts(blocks)
    assert "<@U07DRC0001>" in body
    assert "022-2631-0001" in body
    [button] = buttons(blocks)
    assert button["action_id"] == ids.Action.BROADCAST_RECEIPT.value
    assert button["value"] == "42:pause-uploads@district-drc"
    dom.decide(state, dom.ConfirmReceipt("U07DRC0001", "pause-uploads@district-drc"), NOW)
    _, blocks = receipt_render.broadcast_message(state, event, context(locale), "#ep-unit-drc")
    assert blocks is not None
    assert not buttons(blocks)
    _, card = r.incident_card(state, report(), context(locale))
    total = len(state.receipts)
    expected = (
        f"1 of {total} units confirmed" if locale == "en" else f"{total} 个单位中已有 1 个确认"
    )
    assert expected in texts(card)
