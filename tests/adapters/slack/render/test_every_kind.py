"""Every event kind the domain emits has its effect in Slack, or says it has none: a new
kind that nobody wires into Slack fails here instead of vanishing silently."""

from __future__ import annotations

import re
from pathlib import Path

from epbot.adapters.playbook_files import PlaybookSet
from epbot.adapters.slack import render as r
from epbot.adapters.slack.effects.digest import DEADLINE_KINDS
from epbot.adapters.slack.effects.dispatch import (
    CHANNEL_KINDS,
    EDIT_HANDLERS,
    NO_SLACK_EFFECT,
    PERSON_HANDLERS,
    ROOM_HANDLERS,
)
from epbot.domain import incident as dom
from epbot.domain.incident import EventKind
from tests.adapters.slack.render.samples import context, declare, engine_events

TEMPLATES = Path(__file__).resolve().parents[4] / "epbot" / "adapters" / "templates"


def _thread_line_kinds(library: PlaybookSet) -> set[str]:
    """The kinds that render a thread line, from a real run's events (both locales)."""
    state, _ = declare(library)
    lined: set[str] = set()
    for event in engine_events(library):
        for locale in ("en", "zh-CN"):
            if r.event_text(state, event, context(locale)):
                lined.add(str(event["kind"]))
    return lined


def _template_kinds() -> set[str]:
    """Kinds that both locales' thread-line template give a branch of their own (for kinds
    the sample run does not produce: a refusal, a skip, a severity change...)."""
    found: list[set[str]] = []
    for locale in ("en", "zh-CN"):
        text = (TEMPLATES / locale / "event.j2").read_text(encoding="utf-8")
        found.append({k.value for k in EventKind if re.search(rf'"{k.value}"', text)})
    return found[0] & found[1]


def test_every_event_kind_has_a_slack_effect_or_says_it_has_none(library: PlaybookSet) -> None:
    handled = {*ROOM_HANDLERS, *EDIT_HANDLERS, *PERSON_HANDLERS, *CHANNEL_KINDS, *DEADLINE_KINDS}
    shown = handled | _thread_line_kinds(library) | _template_kinds()
    missing = {k for k in EventKind if k not in shown and k not in NO_SLACK_EFFECT}
    assert not missing, f"event kinds with no Slack effect and not declared so: {missing}"


def test_a_kind_declared_without_effect_really_has_none(library: PlaybookSet) -> None:
    handled = {*ROOM_HANDLERS, *EDIT_HANDLERS, *PERSON_HANDLERS, *CHANNEL_KINDS, *DEADLINE_KINDS}
    assert not (set(NO_SLACK_EFFECT) & handled)
    assert not (set(NO_SLACK_EFFECT) & _thread_line_kinds(library))


def test_the_tables_are_keyed_by_the_domains_enum() -> None:
    for table in (ROOM_HANDLERS, EDIT_HANDLERS, PERSON_HANDLERS):
        assert all(isinstance(kind, EventKind) for kind in table)
    assert all(isinstance(kind, EventKind) for kind in CHANNEL_KINDS)
    assert dom.EventKind is EventKind
