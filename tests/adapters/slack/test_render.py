"""Rendering: valid Block Kit within Slack's limits, both locales, user text escaped."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from slack_sdk.models.blocks import Block
from slack_sdk.models.views import View

from epbot.adapters.playbook_files import PlaybookLibrary, PlaybookSet
from epbot.adapters.slack import ids
from epbot.adapters.slack import render as r
from epbot.domain import incident as dom
from epbot.domain.playbook import STAGE_ORDER, Playbook, StageId, StepKind

NOW = datetime(2026, 11, 24, 1, 15, tzinfo=UTC)  # 09:15 in Shanghai
TZ = ZoneInfo("Asia/Shanghai")
CJK = re.compile(r"[\u4e00-\u9fff]")
EVIL = "<!channel> <https://evil|click> & <@U999>"

ENGINE_KINDS = (
    "declared",
    "paged",
    "page_acknowledged",
    "page_timed_out",
    "role_exhausted",
    "page_failed",
    "stage_entered",
    "status_changed",
    "step_opened",
    "step_done",
    "step_skipped",
    "step_rejected",
    "step_not_applicable",
    "step_unblocked",
    "step_reassigned",
    "step_reminder",
    "step_overdue",
    "step_nudge",
    "broadcast",
    "approval_requested",
    "approval_decided",
    "approval_expired",
    "escalation_requested",
    "update_posted",
    "resolved",
    "cancelled",
    "refused",
    "approval_asked_again",
    "severity_changed",
    "report_sent",
    "progress_report_due",
    "final_report",
    "receipt_confirmed",
    "receipt_overdue",
)


@pytest.fixture(scope="module")
def library() -> PlaybookSet:
    return PlaybookLibrary(Path("playbooks")).load()


def report(**overrides: Any) -> dom.ReportFields:
    fields: dict[str, Any] = {
        "occurred_at": NOW - timedelta(minutes=5),
        "place": "Machine room 2",
        "nature": "Database crash",
        "scope": "All uploads",
        "trend": "Stable",
        "measures": "Restarted the service",
        "unit_id": "user-it",
        "contact_phone": "022-2630-0101",
        "title": "Database down",
    }
    fields.update(overrides)
    return dom.ReportFields(**fields)


def declare(
    library: PlaybookSet, playbook_id: str = "db-crash", *, drill: bool = False, **fields: Any
) -> tuple[dom.IncidentState, list[dom.Event]]:
    playbook = library.get(playbook_id)
    assert playbook is not None
    state, events = dom.declare(
        playbook=playbook,
        matrix=library.matrix,
        severity=playbook.default_severity,
        report=report(**fields),
        reporter="U0REPORTER",
        drill=drill,
        now=NOW,
    )
    state.id = 42
    return state, events


def context(locale: str = "en", minutes: int = 3) -> r.RenderContext:
    return r.RenderContext(
        locale=locale,
        tz=TZ,
        now=NOW + timedelta(minutes=minutes),
        number="2026-0007",
        channel_id="C0INCIDENT",
    )


def as_dict(event: dom.Event) -> dict[str, Any]:
    return {"kind": event.kind, "actor": event.actor, "at": event.at, "data": event.data}


def walk(node: Any) -> Iterator[dict[str, Any]]:
    if isinstance(node, dict):
        yield node
        for value in node.values():
            yield from walk(value)
    elif isinstance(node, list):
        for item in node:
            yield from walk(item)


def check_blocks(blocks: list[dict[str, Any]], limit: int = 50) -> None:
    assert 0 < len(blocks) <= limit
    parsed = Block.parse_all(blocks)
    assert [b.to_dict() for b in parsed if b is not None] == blocks
    for node in walk(blocks):
        if node.get("type") == "button":
            assert len(node["text"]["text"]) <= 75
            assert len(node.get("value", "")) <= 2000
            assert node["action_id"] in {a.value for a in ids.Action}
        if node.get("type") == "section" and "text" in node:
            assert 0 < len(node["text"]["text"]) <= 3000


def check_view(view: dict[str, Any]) -> None:
    View(**view).validate_json()
    assert View(**view).to_dict() == view
    check_blocks(view["blocks"], limit=100)
    if "title" in view:
        assert len(view["title"]["text"]) <= 24


def buttons(blocks: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [n for n in walk(blocks) if n.get("type") == "button"]


def texts(blocks: list[dict[str, Any]]) -> str:
    return json.dumps(blocks, ensure_ascii=False)


# --- templates ----------------------------------------------------------------------------


def test_every_template_exists_in_both_locales() -> None:
    en, zh = r.template_names("en"), r.template_names("zh-CN")
    assert en
    assert en == zh


def test_labels_have_the_same_keys_in_both_locales() -> None:
    from epbot.adapters.slack.render import _labels

    assert set(_labels("en")) == set(_labels("zh-CN"))


# --- the incident card and checklists -----------------------------------------------------


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
def test_stage_checklist_for_every_stage(library: PlaybookSet, locale: str) -> None:
    for playbook in library.playbooks:
        state, _ = declare(library, playbook.id)
        for stage_id in STAGE_ORDER:
            _, blocks = r.stage_checklist(state, stage_id, context(locale))
            check_blocks(blocks)
            manage = (ids.Action.STEP_SKIP, ids.Action.STEP_REASSIGN)
            for button in buttons(blocks):
                incident, step_id = ids.parse_value(button["value"])
                assert incident == 42
                step = state.steps[step_id]
                if button["action_id"] in manage:
                    assert step.status in (
                        dom.StepStatus.PENDING,
                        dom.StepStatus.OPEN,
                        dom.StepStatus.AWAITING_APPROVAL,
                    )
                    continue
                assert step.status is dom.StepStatus.OPEN
                expected = {
                    StepKind.CHECKIN: ids.Action.STEP_CHECKIN,
                    StepKind.REPORT: ids.Action.STEP_REPORT,  # a report is sent, not ticked
                }.get(step.kind, ids.Action.STEP_DONE)
                assert button["action_id"] == expected
            started = [
                s
                for s in state.steps.values()
                if s.stage_id is stage_id
                and s.status
                in (dom.StepStatus.PENDING, dom.StepStatus.OPEN, dom.StepStatus.AWAITING_APPROVAL)
            ]
            skips = {
                ids.parse_value(b["value"])[1]
                for b in buttons(blocks)
                if b["action_id"] == ids.Action.STEP_SKIP
            }
            assert skips == {s.step_id for s in started}


def test_no_skip_or_reassign_once_the_incident_ended(library: PlaybookSet) -> None:
    state, _ = declare(library)
    _, blocks = r.stage_checklist(state, StageId.REPORT, context())
    assert any(b["action_id"] == ids.Action.STEP_SKIP for b in buttons(blocks))
    state.status = dom.Status.CANCELLED
    _, blocks = r.stage_checklist(state, StageId.REPORT, context())
    primary = (ids.Action.STEP_DONE, ids.Action.STEP_REPORT)
    assert not [b for b in buttons(blocks) if b["action_id"] not in primary]


@pytest.mark.parametrize("locale", ["en", "zh-CN"])
def test_reassign_modal(locale: str) -> None:
    view = r.reassign_modal(
        context(locale), step_title="<b>", initial_user="U1", private_metadata="{}"
    )
    assert view["callback_id"] == ids.Callback.REASSIGN
    [picker] = [b for b in view["blocks"] if b.get("block_id") == r.ASSIGNEE_FIELD]
    assert picker["element"] == {
        "type": "users_select",
        "action_id": r.ASSIGNEE_FIELD,
        "initial_user": "U1",
    }
    assert "&lt;b&gt;" in json.dumps(view)
    check_view(view)


def test_checkin_button_and_approval_marker(library: PlaybookSet) -> None:
    state, _ = declare(library, "virus")
    checkin = next(s for s in state.steps.values() if s.kind is StepKind.CHECKIN)
    checkin.status = dom.StepStatus.OPEN
    gated = next(
        s for s in state.steps.values() if s.step_id != checkin.step_id and s.kind is StepKind.TASK
    )
    gated.status = dom.StepStatus.AWAITING_APPROVAL
    for locale, on_site, waiting in (
        ("en", "On site", "Awaiting approval"),
        ("zh-CN", "已到场", "待审批"),
    ):
        ctx = context(locale)
        stages = {checkin.stage_id, gated.stage_id}
        found = []
        for stage_id in stages:
            _, blocks = r.stage_checklist(state, stage_id, ctx)
            check_blocks(blocks)
            found.append(texts(blocks))
        body = "".join(found)
        assert on_site in body
        assert waiting in body
        _, blocks = r.stage_checklist(state, checkin.stage_id, ctx)
        checkins = [b for b in buttons(blocks) if b["action_id"] == ids.Action.STEP_CHECKIN]
        assert checkins[0]["value"] == ids.button_value(42, checkin.step_id)


def test_finished_step_shows_who_and_when(library: PlaybookSet) -> None:
    state, _ = declare(library)
    # report-office is a report step now (sent, not ticked): a task of the same stage instead
    events = dom.decide(
        state, dom.CompleteStep(actor="U01EOF0001", step_id="pause-uploads", note=EVIL), NOW
    )
    assert events
    _, blocks = r.stage_checklist(state, StageId.REPORT, context())
    body = texts(blocks)
    assert "Done by <@U01EOF0001> at 11-24 09:15" in body
    assert "<!channel>" not in body
    step_buttons = [ids.parse_value(b["value"])[1] for b in buttons(blocks)]
    assert "pause-uploads" not in step_buttons


def test_checklist_compacts_a_stage_with_too_many_steps(library: PlaybookSet) -> None:
    base = library.get("db-crash")
    assert base is not None
    data = base.model_dump(by_alias=True)
    template = data["stages"][0]["steps"][0]
    steps = []
    for i in range(80):
        step = dict(template, id=f"many-{i}", depends_on=(), escalate_to=None)
        steps.append(step)
    data["stages"][0]["steps"] = [*data["stages"][0]["steps"], *steps]
    playbook = Playbook.model_validate(data)
    state, _ = dom.declare(
        playbook=playbook,
        matrix=library.matrix,
        severity=playbook.default_severity,
        report=report(),
        reporter="U0REPORTER",
        drill=False,
        now=NOW,
    )
    state.id = 42
    for locale in ("en", "zh-CN"):
        _, blocks = r.stage_checklist(state, StageId.REPORT, context(locale))
        check_blocks(blocks)
        open_steps = [
            s
            for s in state.steps.values()
            if s.stage_id is StageId.REPORT and s.status is dom.StepStatus.OPEN
        ]
        assert len(open_steps) > 80
        primary = (ids.Action.STEP_DONE, ids.Action.STEP_REPORT)
        done = [b for b in buttons(blocks) if b["action_id"] in primary]
        assert len(done) == len(open_steps)


# --- pages and approvals ------------------------------------------------------------------


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


# --- escaping and locales -----------------------------------------------------------------


def test_user_text_is_escaped_everywhere(library: PlaybookSet) -> None:
    state, events = declare(library, title=EVIL, place=EVIL, scope=EVIL, measures=EVIL)
    evil = report(title=EVIL, place=EVIL, scope=EVIL, measures=EVIL)
    for locale in ("en", "zh-CN"):
        ctx = context(locale)
        text, blocks = r.incident_card(state, evil, ctx)
        rendered = [text, texts(blocks), r.closing_report(state, evil, [], ctx)]
        rendered += [r.event_text(state, as_dict(e), ctx) or "" for e in events]
        rendered.append(
            r.event_text(
                state,
                {"kind": "update_posted", "actor": "U1", "at": NOW, "data": {"text": EVIL}},
                ctx,
            )
            or ""
        )
        for out in rendered:
            assert "<!channel>" not in out
            assert "<https://evil" not in out
            assert "<@U999>" not in out
        assert "&lt;!channel&gt;" in rendered[1]
        assert "&lt;https://evil|click&gt;" in rendered[1]


def test_escape_and_mentions() -> None:
    assert r.escape("<!channel> & <x>") == "&lt;!channel&gt; &amp; &lt;x&gt;"
    assert r.default_mention("U0123ABC") == "<@U0123ABC>"
    assert r.default_mention("a<b>@example.com") == "a&lt;b&gt;@example.com"


def test_zh_output_is_chinese_and_en_output_is_not(library: PlaybookSet) -> None:
    state, events = declare(library)
    samples: dict[str, list[str]] = {}
    for locale in ("en", "zh-CN"):
        ctx = context(locale)
        out = [texts(r.incident_card(state, report(), ctx)[1])]
        out.append(texts(r.stage_checklist(state, StageId.REPORT, ctx)[1]))
        out.append(texts(r.page_message(state, state.pages[0], ctx, channel_link=None)[1]))
        out += [r.event_text(state, as_dict(e), ctx) or "" for e in events]
        out.append(r.channel_topic(state, ctx))
        out.append(r.closing_report(state, report(), [], ctx))
        samples[locale] = out
    assert all(CJK.search(text) for text in samples["zh-CN"])
    assert not any(CJK.search(text) for text in samples["en"])


# --- thread lines and broadcasts ----------------------------------------------------------


def engine_events(library: PlaybookSet) -> list[dict[str, Any]]:
    """Real events from a run: declare, acknowledge, finish steps, escalate, fire every timer."""
    state, events = declare(library)
    commander = state.pages[0]
    events += dom.decide(state, dom.AcknowledgePage(commander.person, commander.key), NOW)
    events += dom.decide(state, dom.CompleteStep(commander.person, "pause-uploads"), NOW)
    events += dom.decide(state, dom.PostUpdate(commander.person, "progress"), NOW)
    at = NOW
    for _ in range(60):
        live = sorted(dom.live_timers(state), key=lambda t: t.due_at)
        if not live:
            break
        timer = live[0]
        at = max(at, timer.due_at)
        events += dom.decide(state, dom.FireTimer(None, timer.kind, timer.target, timer.due_at), at)
    return [as_dict(e) for e in events]


SAMPLES: dict[str, dict[str, Any]] = {
    "declared": {
        "playbook": "db-crash",
        "severity": "II",
        "drill": True,
        "major": True,
        "title": "t",
    },
    "paged": {
        "page": "security-officer#2",
        "role": "security-officer",
        "person": "U1",
        "attempt": 2,
        "reason": "backup",
        "step": "report-office",
        "needs_ack": False,
    },
    "page_acknowledged": {"page": "x#1", "role": "security-officer", "attempt": 1, "seconds": 75},
    "page_timed_out": {
        "page": "x#1",
        "role": "security-officer",
        "person": "U1",
        "due": NOW.isoformat(),
        "late_seconds": 1.0,
    },
    "role_exhausted": {"role": "security-officer", "escalate_to": None, "already_paged": False},
    "page_failed": {"role": "nobody", "reason": "no people"},
    "stage_entered": {"stage": "command_coordination"},
    "status_changed": {"from": "reported", "to": "initial_handling"},
    "step_opened": {"step": "report-office", "assignee": None},
    "step_done": {
        "step": "report-office",
        "kind": "report",
        "note": "n",
        "on_time": False,
        "broadcast_to": None,
    },
    "step_skipped": {
        "step": "report-office",
        "kind": "report",
        "note": "why",
        "on_time": True,
        "broadcast_to": None,
    },
    "step_rejected": {
        "step": "report-office",
        "kind": "task",
        "note": "no",
        "on_time": True,
        "broadcast_to": None,
    },
    "step_not_applicable": {
        "step": "gone-step",
        "kind": "task",
        "note": None,
        "on_time": True,
        "broadcast_to": None,
    },
    "step_unblocked": {"step": "report-office"},
    "report_sent": {
        "kind": "report",
        "step": "report-office",
        "version": 2,
        "report": {"place": EVIL},
        "progress": None,
        "people": ["U1", "U2"],
        "channels": ["#ep-leadership"],
        "roles": ["leadership-group"],
        "units": ["leadership"],
        "on_time": False,
    },
    "progress_report_due": {
        "commander": "U1",
        "every_seconds": 3600,
        "people": ["U1"],
        "channels": [],
        "roles": ["leadership-group"],
        "units": [],
    },
    "final_report": {
        "kind": "final",
        "summary": EVIL,
        "people": ["U1"],
        "channels": ["#ep-leadership"],
        "roles": [],
        "units": ["leadership"],
    },
    "receipt_confirmed": {
        "step": "pause-uploads",
        "unit": "district-drc",
        "channel": "#ep-unit-drc",
        "seconds": 180,
        "confirmed": 1,
        "asked": 10,
    },
    "receipt_overdue": {
        "step": "pause-uploads",
        "unit": "district-drc",
        "channel": "#ep-unit-drc",
        "responsible_role": "drc-contact",
        "responsible": ["U07DRC0001"],
        "paged": True,
    },
    "approval_asked_again": {"step": "report-office", "reason": EVIL, "refused_by": "U1"},
    "severity_changed": {"from": "IV", "to": "II", "reason": EVIL, "major": True, "raised": True},
    "step_reassigned": {"step": "report-office", "from": None, "to": "person@example.com"},
    "step_reminder": {
        "step": "report-office",
        "assignee": "U1",
        "role": "emergency-office",
        "due_at": None,
        "due": NOW.isoformat(),
        "late_seconds": 0.0,
    },
    "step_overdue": {
        "step": "report-office",
        "assignee": None,
        "role": "emergency-office",
        "due_at": NOW.isoformat(),
        "due": NOW.isoformat(),
        "late_seconds": 0.0,
    },
    "step_nudge": {
        "step": "report-office",
        "assignee": "U1",
        "role": "emergency-office",
        "due_at": NOW.isoformat(),
        "due": NOW.isoformat(),
        "late_seconds": 0.0,
    },
    "broadcast": {
        "step": "pause-uploads",
        "target": "all_units",
        "units": ["a"],
        "channels": ["#a"],
        "message_zh": "暂停",
        "message_en": "pause",
    },
    "approval_requested": {
        "approval": "k",
        "kind": "escalation",
        "approver_role": "x",
        "approvers": [],
        "step": None,
        "due_at": NOW.isoformat(),
    },
    "approval_decided": {
        "approval": "k",
        "kind": "gated_step",
        "step": "report-office",
        "approved": True,
        "reason": None,
    },
    "approval_expired": {
        "approval": "k",
        "approver_role": "leadership-group",
        "escalate_to": "leadership-leader",
        "due": NOW.isoformat(),
        "late_seconds": 5.0,
    },
    "escalation_requested": {"reason": "spreading"},
    "update_posted": {"text": "all fine", "status": "initial_handling"},
    "resolved": {"summary": None},
    "cancelled": {"reason": "false alarm"},
    "refused": {"command": "CompleteStep", "code": "not_responsible", "message": "no"},
}


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


# --- modals and home ----------------------------------------------------------------------


@pytest.mark.parametrize("locale", ["en", "zh-CN"])
@pytest.mark.parametrize("playbook_id", [None, "virus"])
@pytest.mark.parametrize("drill", [False, True])
def test_report_modal(
    library: PlaybookSet, locale: str, playbook_id: str | None, drill: bool
) -> None:
    view = r.report_modal(
        list(library.playbooks),
        library.matrix,
        context(locale),
        playbook_id=playbook_id,
        drill=drill,
        private_metadata='{"channel": "C1"}',
    )
    check_view(view)
    assert view["callback_id"] == ids.Callback.REPORT
    inputs = {b["block_id"]: b for b in view["blocks"] if b["type"] == "input"}
    expected = [f for f in r.REPORT_FIELDS if playbook_id is None or f != "playbook"]
    assert list(inputs) == expected
    for block_id, block in inputs.items():
        assert block["element"]["action_id"] == block_id
    assert inputs["occurred_at"]["element"]["type"] == "datetimepicker"
    assert inputs["occurred_at"]["element"]["initial_date_time"] == int(context().now.timestamp())
    assert inputs["measures"]["element"]["multiline"] is True
    units = [o["value"] for o in inputs["unit"]["element"]["options"]]
    assert units == [u.id for u in library.matrix.units]
    severity = inputs["severity"]["element"]
    assert [o["value"] for o in severity["options"]] == ["I", "II", "III", "IV"]
    if playbook_id:
        assert severity["initial_option"]["value"] == "III"


@pytest.mark.parametrize("locale", ["en", "zh-CN"])
def test_reason_modal(locale: str) -> None:
    view = r.reason_modal(
        ids.Callback.REJECT_REASON,
        context(locale),
        title="A very long title that Slack would refuse",
        private_metadata="42:k",
    )
    check_view(view)
    assert view["callback_id"] == ids.Callback.REJECT_REASON
    block = view["blocks"][-1]
    assert block["block_id"] == r.REASON_FIELD


@pytest.mark.parametrize("locale", ["en", "zh-CN"])
def test_home_view(library: PlaybookSet, locale: str) -> None:
    state, _ = declare(library)
    step = state.steps["report-office"]
    approval = dom.ApprovalState(
        key="k",
        kind=dom.ApprovalKind.ESCALATION,
        approver_role="leadership-group",
        requested_by="U1",
        requested_at=NOW,
        due_at=NOW + timedelta(minutes=30),
    )
    empty = r.home_view(steps=[], approvals=[], incidents=[], ctx=context(locale))
    check_view(empty)
    view = r.home_view(
        steps=[("2026-0007", "Report <!channel>", step)],
        approvals=[("2026-0007", approval)],
        incidents=[("2026-0007", state)],
        ctx=context(locale),
    )
    check_view(view)
    assert "&lt;!channel&gt;" in texts(view["blocks"])
    huge = r.home_view(
        steps=[(f"2026-{i:04}", "x" * 200, step) for i in range(500)],
        approvals=[(f"2026-{i:04}", approval) for i in range(500)],
        incidents=[(f"2026-{i:04}", state) for i in range(500)],
        ctx=context(locale),
    )
    check_view(huge)


# --- plain texts --------------------------------------------------------------------------


@pytest.mark.parametrize("locale", ["en", "zh-CN"])
def test_incident_list_help_and_unknown_type(library: PlaybookSet, locale: str) -> None:
    state, _ = declare(library)
    ctx = context(locale)
    listing = r.incident_list([("2026-0007", state, "C0ABC"), ("2026-0008", state, None)], ctx)
    assert "2026-0007" in listing
    assert "<#C0ABC>" in listing
    assert r.incident_list([], ctx)
    helped = r.help_text(list(library.playbooks), ctx)
    assert all(p.id in helped for p in library.playbooks)
    unknown = r.unknown_type_text("databse <!channel>", list(library.playbooks), ctx)
    assert "`db-crash`" in unknown
    assert "<!channel>" not in unknown
    assert "`virus`" in r.unknown_type_text("病毒", list(library.playbooks), ctx)
    assert "`virus`" in r.unknown_type_text("viruss", list(library.playbooks), ctx)


@pytest.mark.parametrize(
    ("playbook_id", "drill", "expected"),
    [
        ("db-crash", False, "inc-20261124-db-crash-7"),
        ("db-crash", True, "drill-20261124-db-crash-7"),
        ("DB Crash!!", False, "inc-20261124-db-crash-7"),
        ("数据库", False, "inc-20261124-incident-7"),
    ],
)
def test_channel_name(playbook_id: str, drill: bool, expected: str) -> None:
    assert r.channel_name("2026-0007", playbook_id, date(2026, 11, 24), 7, drill) == expected


def test_channel_name_limits() -> None:
    name = r.channel_name("2026-0007", "x" * 200, date(2026, 11, 24), 123456, True)
    assert len(name) <= 80
    assert re.fullmatch(r"[a-z0-9_-]+", name)
    assert name.startswith("drill-")
    assert name.endswith("-123456")


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
