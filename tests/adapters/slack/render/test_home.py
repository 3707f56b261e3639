"""App Home and ``/incident list``."""

from __future__ import annotations

from datetime import timedelta

import pytest

from epbot.adapters.playbook_files import PlaybookSet
from epbot.adapters.slack import render as r
from epbot.domain import incident as dom
from tests.adapters.slack.render.samples import (
    NOW,
    check_view,
    context,
    declare,
    texts,
)


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


@pytest.mark.parametrize("locale", ["en", "zh-CN"])
def test_incident_list(library: PlaybookSet, locale: str) -> None:
    state, _ = declare(library)
    ctx = context(locale)
    listing = r.incident_list([("2026-0007", state, "C0ABC"), ("2026-0008", state, None)], ctx)
    assert "2026-0007" in listing
    assert "<#C0ABC>" in listing
    assert r.incident_list([], ctx)
