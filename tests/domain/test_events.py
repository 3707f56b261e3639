"""Event kinds: one enum, every kind produced somewhere, no kind spelled as a bare string."""

from __future__ import annotations

import ast
import json
from datetime import UTC, datetime
from pathlib import Path

from epbot.domain.incident import Event, EventKind

EPBOT = Path(__file__).resolve().parents[2] / "epbot"
EVENTS_MODULE = EPBOT / "domain" / "incident" / "events.py"
SOURCES = sorted(EPBOT.rglob("*.py"))

# The strings the timeline and the outbox have stored since before the enum: never renamed.
STORED = {
    "declared",
    "status_changed",
    "stage_entered",
    "severity_changed",
    "update_posted",
    "resolved",
    "cancelled",
    "paged",
    "page_failed",
    "page_acknowledged",
    "page_timed_out",
    "role_exhausted",
    "step_opened",
    "step_unblocked",
    "step_done",
    "step_skipped",
    "step_rejected",
    "step_not_applicable",
    "step_reassigned",
    "step_reminder",
    "step_overdue",
    "step_nudge",
    "step_waiting",
    "step_snoozed",
    "step_on_it",
    "escalation_requested",
    "approval_requested",
    "approval_decided",
    "approval_asked_again",
    "approval_expired",
    "broadcast",
    "report_sent",
    "progress_report_due",
    "final_report",
    "receipt_confirmed",
    "receipt_overdue",
    "refused",
}


def _is_event_call(node: ast.AST) -> bool:
    if not isinstance(node, ast.Call):
        return False
    func = node.func
    named = (isinstance(func, ast.Name) and func.id == "Event") or (
        isinstance(func, ast.Attribute) and func.attr == "Event"
    )
    return named and bool(node.args or node.keywords)


def _is_kind_member(node: ast.AST) -> bool:
    """``EventKind.X`` or ``dom.EventKind.X``."""
    if not isinstance(node, ast.Attribute):
        return False
    owner = node.value
    return (isinstance(owner, ast.Name) and owner.id == "EventKind") or (
        isinstance(owner, ast.Attribute) and owner.attr == "EventKind"
    )


def _kind_tables(tree: ast.Module) -> dict[str, ast.Dict]:
    """Module-level dicts whose values are all EventKind members (explicit mappings)."""
    tables = {}
    for node in tree.body:
        target, value = None, None
        if isinstance(node, ast.Assign) and len(node.targets) == 1:
            target, value = node.targets[0], node.value
        elif isinstance(node, ast.AnnAssign):
            target, value = node.target, node.value
        if (
            isinstance(target, ast.Name)
            and isinstance(value, ast.Dict)
            and value.values
            and all(_is_kind_member(v) for v in value.values)
        ):
            tables[target.id] = value
    return tables


def _event_kind_args() -> list[tuple[Path, int, ast.expr]]:
    found = []
    for path in SOURCES:
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
            if not _is_event_call(node):
                continue
            assert isinstance(node, ast.Call)
            kind = node.args[0] if node.args else None
            kind = next((k.value for k in node.keywords if k.arg == "kind"), kind)
            assert kind is not None, f"{path}:{node.lineno}: an Event without a kind"
            found.append((path, node.lineno, kind))
    return found


def test_the_enum_keeps_the_stored_strings() -> None:
    assert {k.value for k in EventKind} == STORED
    assert all(k.value == k.name.lower() for k in EventKind)


def test_a_kind_serialises_as_its_plain_string() -> None:
    event = Event(EventKind.STEP_DONE, "U1", datetime(2026, 1, 1, tzinfo=UTC))
    assert json.dumps({"kind": event.kind}) == '{"kind": "step_done"}'
    assert event.kind == "step_done"  # what the Slack side reads back from JSON


def test_every_event_is_made_with_an_event_kind_member() -> None:
    """No ``Event("paged", ...)`` and no ``f"step_{...}"``: a kind is a member or a table."""
    calls = _event_kind_args()
    assert len(calls) > 30, "the scan found the domain's events"
    bad = []
    tables: dict[Path, set[str]] = {}
    for path, line, kind in calls:
        if _is_kind_member(kind):
            continue
        if path not in tables:
            tables[path] = _kind_tables(ast.parse(path.read_text(encoding="utf-8")))
        if (
            isinstance(kind, ast.Subscript)
            and isinstance(kind.value, ast.Name)
            and kind.value.id in tables[path]
        ):
            continue
        bad.append(f"{path.relative_to(EPBOT.parent)}:{line}: {ast.unparse(kind)}")
    assert bad == []


def test_every_event_kind_is_produced_somewhere() -> None:
    """A kind nobody makes an Event of any more (or a new one left unused) fails here."""
    produced = {k.attr for _, _, k in _event_kind_args() if isinstance(k, ast.Attribute)}
    for path in SOURCES:
        for table in _kind_tables(ast.parse(path.read_text(encoding="utf-8"))).values():
            produced |= {v.attr for v in table.values if isinstance(v, ast.Attribute)}
    assert sorted(k.name for k in EventKind if k.name not in produced) == []
