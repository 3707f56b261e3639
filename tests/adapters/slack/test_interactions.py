"""Interactions: reading submitted modals (field errors from the templates, in the person's
language), the reason modal, and private replies (ephemeral, else a DM)."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from epbot.adapters.clock import FakeClock
from epbot.adapters.db.engine import make_engine
from epbot.adapters.playbook_files import PlaybookLibrary
from epbot.adapters.slack import interactions as ix
from epbot.adapters.slack.client import SlackClient
from epbot.adapters.slack.ids import Callback
from epbot.domain.playbook import Severity
from epbot.fakeslack import FakeSlack

NOW = datetime(2026, 11, 24, 1, 0, tzinfo=UTC)
KNOWN = ["db-crash", "virus"]


def values(**overrides: Any) -> dict[str, Any]:
    """``view.state.values`` of a complete report (block id == action id)."""
    fields: dict[str, Any] = {
        "title": {"type": "plain_text_input", "value": " DB down "},
        "occurred_at": {
            "type": "datetimepicker",
            "selected_date_time": int((NOW - timedelta(minutes=5)).timestamp()),
        },
        "place": {"type": "plain_text_input", "value": "server room"},
        "nature": {"type": "plain_text_input", "value": "crash"},
        "scope": {"type": "plain_text_input", "value": "all"},
        "trend": {"type": "plain_text_input", "value": "stable"},
        "measures": {"type": "plain_text_input", "value": "none"},
        "unit": {"type": "static_select", "selected_option": {"value": "user-it"}},
        "contact_phone": {"type": "plain_text_input", "value": "+86 22-2630-0101"},
        "severity": {"type": "static_select", "selected_option": {"value": "II"}},
    }
    fields.update(overrides)
    return {name: {name: element} for name, element in fields.items()}


def view(state: dict[str, Any], **meta: Any) -> dict[str, Any]:
    return {"state": {"values": state}, "private_metadata": json.dumps(meta)}


def parse(state: dict[str, Any], locale: str = "en", **meta: Any) -> Any:
    meta.setdefault("playbook", "db-crash")
    return ix.parse_report(view(state, **meta), now=NOW, locale=locale, known=KNOWN)


def test_a_complete_report_is_parsed() -> None:
    parsed = parse(values(), drill=True)
    assert isinstance(parsed, ix.ParsedReport)
    assert (parsed.playbook, parsed.severity, parsed.drill) == ("db-crash", Severity.II, True)
    assert parsed.report.title == "DB down"
    assert parsed.report.occurred_at == NOW - timedelta(minutes=5)
    assert parsed.report.unit_id == "user-it"
    no_severity = parse(values(severity={"type": "static_select", "selected_option": None}))
    assert isinstance(no_severity, ix.ParsedReport)
    assert no_severity.severity is None


ZH_ERRORS = (
    "此项为必填项。",
    "发生时间不能晚于当前时间。",
    "请填写有效的联系电话",
    "未知的事件类型。",
)
EN_ERRORS = (
    "This field is required.",
    "The time cannot be in the future.",
    "Enter a valid",
    "Unknown incident type.",
)


@pytest.mark.parametrize(
    ("locale", "required", "future", "phone", "playbook"),
    [("zh-CN", *ZH_ERRORS), ("en-US", *EN_ERRORS)],
)
def test_field_errors_come_in_the_persons_language(
    locale: str, required: str, future: str, phone: str, playbook: str
) -> None:
    later = int((NOW + timedelta(hours=1)).timestamp())
    state = values(
        place={"type": "plain_text_input", "value": "   "},
        occurred_at={"type": "datetimepicker", "selected_date_time": later},
        contact_phone={"type": "plain_text_input", "value": "call me"},
    )
    errors = parse(state, locale, playbook="db-crush")
    assert errors["place"] == required
    assert errors["occurred_at"] == future
    assert errors["contact_phone"].startswith(phone)
    assert errors["playbook"] == playbook
    assert set(errors) == {"place", "occurred_at", "contact_phone", "playbook"}


def test_a_missing_time_and_playbook_are_required() -> None:
    state = values(occurred_at={"type": "datetimepicker", "selected_date_time": None})
    del state["title"]
    errors = parse(state, "zh-CN", playbook="")
    assert errors == {
        "occurred_at": "此项为必填项。",
        "title": "此项为必填项。",
        "playbook": "此项为必填项。",
    }


def test_a_report_a_little_ahead_of_our_clock_is_accepted() -> None:
    ahead = int((NOW + ix.CLOCK_SKEW - timedelta(seconds=1)).timestamp())
    parsed = parse(values(occurred_at={"type": "datetimepicker", "selected_date_time": ahead}))
    assert isinstance(parsed, ix.ParsedReport)


def test_the_playbook_picker_is_read_when_the_command_named_none() -> None:
    picked = values(playbook={"type": "static_select", "selected_option": {"value": "virus"}})
    parsed = ix.parse_report(view(picked), now=NOW, locale="en", known=KNOWN)
    assert isinstance(parsed, ix.ParsedReport)
    assert parsed.playbook == "virus"


def test_reading_inputs() -> None:
    state = {
        "reason": {"reason": {"type": "plain_text_input", "value": "too early"}},
        "assignee": {"assignee": {"type": "users_select", "selected_user": "U0NEW"}},
        "odd": {"other_action": {"type": "plain_text_input", "value": "by block"}},
    }
    assert ix.read_reason({"state": {"values": state}}) == "too early"
    assert ix.read_reason({}) == ""
    assert ix.read_assignee({"state": {"values": state}}) == "U0NEW"
    assert ix.read_assignee({"state": {"values": {}}}) is None
    assert ix.field_value(state, "odd") == "by block"
    assert ix.field_value(state, "missing") is None
    assert ix.required("en") == "This field is required."


@pytest.fixture
async def ui() -> AsyncIterator[tuple[ix.Interactions, FakeSlack]]:
    fake = FakeSlack(rate_limits=False, hang_seconds=1)
    await fake.start()
    engine = make_engine("sqlite+aiosqlite://")  # no query runs here
    client = SlackClient(fake.bot_token, base_url=fake.url, timeout=1, patience=0.2)
    library = PlaybookLibrary(Path("playbooks"))
    library.load()
    made = ix.Interactions(
        engine=engine, client=client, playbooks=library, clock=FakeClock(NOW), tz=ZoneInfo("UTC")
    )
    yield made, fake
    await engine.dispose()
    await fake.stop()


async def test_sent_report_errors_include_the_progress_fields(
    ui: tuple[ix.Interactions, FakeSlack],
) -> None:
    interactions, _ = ui
    state = values(changes={"type": "plain_text_input", "value": ""})
    errors = interactions.read_sent_report(view(state, playbook="db-crash"), locale="zh-CN")
    assert errors == {"changes": "此项为必填项。", "next_steps": "此项为必填项。"}
    full = values(
        changes={"type": "plain_text_input", "value": "contained"},
        next_steps={"type": "plain_text_input", "value": "restore"},
    )
    report, progress = interactions.read_sent_report(view(full, playbook="db-crash"), locale="en")  # type: ignore[misc]
    assert report.title == "DB down"
    assert progress == {"changes": "contained", "next_steps": "restore", "help": ""}


async def test_a_reason_modal_speaks_the_given_locale(
    ui: tuple[ix.Interactions, FakeSlack],
) -> None:
    interactions, fake = ui
    meta = {"incident": 3, "target": "s1", "channel": "C1", "key": "k"}
    for trigger, locale, title in (
        ("1.1.1", "zh-CN", "跳过理由"),
        ("2.2.2", "en", "Reason to skip"),
    ):
        await interactions.open_reason(
            trigger_id=trigger, locale=locale, callback_id=Callback.SKIP_REASON.value, meta=meta
        )
        opened = fake.calls_to("views.open")[-1].args["view"]
        assert opened["title"]["text"] == title
        assert json.loads(opened["private_metadata"]) == meta


async def test_tell_is_ephemeral_where_the_bot_is_else_a_dm(
    ui: tuple[ix.Interactions, FakeSlack],
) -> None:
    interactions, fake = ui
    person = fake.workspace.add_user("person")
    room = fake.workspace.add_channel("room", members=[person.id], bot_is_member=True)
    await interactions.tell(user_id=person.id, channel=room.id, text="here")
    assert [(e.channel, e.text) for e in fake.workspace.ephemerals] == [(room.id, "here")]
    await interactions.tell(user_id=person.id, channel="C0NOTTHERE", text="elsewhere")
    await interactions.tell(user_id=person.id, channel=None, text="nowhere")
    dm = [c.args["text"] for c in fake.calls_to("chat.postMessage")]
    assert dm == ["elsewhere", "nowhere"]
    assert all(c.args["channel"] == person.id for c in fake.calls_to("chat.postMessage"))
