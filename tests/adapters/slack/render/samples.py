"""What the rendering tests share: a declared incident, a render context, event samples of
every engine kind, and checks that blocks and views are valid Block Kit within Slack's limits."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from slack_sdk.models.blocks import Block
from slack_sdk.models.views import View

from epbot.adapters.playbook_files import PlaybookSet
from epbot.adapters.slack import ids
from epbot.adapters.slack import render as r
from epbot.domain import incident as dom

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
    "step_waiting",
    "step_snoozed",
    "step_on_it",
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


def engine_events(library: PlaybookSet) -> list[dict[str, Any]]:
    """Real events from a run: declare, acknowledge, finish steps, escalate, fire every timer."""
    state, events = declare(library)
    commander = state.pages[0]
    events += dom.decide(state, dom.AcknowledgePage(commander.person, commander.key), NOW)
    events += dom.decide(state, dom.CompleteStep(commander.person, "pause-uploads"), NOW)
    events += dom.decide(state, dom.PostUpdate(commander.person, "progress"), NOW)
    events += fire_timers(state, rounds=60)
    return [as_dict(e) for e in events]


def fire_timers(state: dom.IncidentState, *, rounds: int) -> list[dom.Event]:
    """Fire the incident's timers one by one, earliest first (at most ``rounds``)."""
    events: list[dom.Event] = []
    at = NOW
    for _ in range(rounds):
        live = sorted(dom.live_timers(state), key=lambda t: t.due_at)
        if not live:
            break
        timer = live[0]
        at = max(at, timer.due_at)
        events += dom.decide(state, dom.FireTimer(None, timer.kind, timer.target, timer.due_at), at)
    return events


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
        "pages": ["x#1", "y#1"],
        "next": "U2",
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
    "step_waiting": {
        "step": "report-office",
        "assignee": "U1",
        "role": "emergency-office",
        "due_at": NOW.isoformat(),
        "waiting_for": ["report-security-officer", "pause-uploads"],
        "due": NOW.isoformat(),
        "late_seconds": 0.0,
    },
    "step_snoozed": {
        "step": "report-office",
        "assignee": "U1",
        "minutes": 30,
        "until": NOW.isoformat(),
        "clamped": True,
        "deadline": NOW.isoformat(),
        "escalate_to": "leadership-leader",
        "quieted": 1,
        "resumes": False,
    },
    "step_on_it": {
        "step": "report-office",
        "from": "U2",
        "deadline": NOW.isoformat(),
        "overdue": False,
        "escalate_to": "leadership-leader",
        "quieted": 1,
    },
    "step_reminder": {
        "step": "report-office",
        "assignee": "U1",
        "waiting_for": ["report-security-officer"],
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
