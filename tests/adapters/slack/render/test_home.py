"""App Home and ``/incident list``: every line that names an incident links its channel
and shows its number, title, severity and stage."""

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

TITLES = {"en": ("Database fault", "Initial handling"), "zh-CN": ("数据库故障", "先期处置")}


def escalation(key: str = "k") -> dom.ApprovalState:
    return dom.ApprovalState(
        key=key,
        kind=dom.ApprovalKind.ESCALATION,
        approver_role="leadership-group",
        requested_by="U1",
        requested_at=NOW,
        due_at=NOW + timedelta(minutes=30),
    )


def section_lines(view: dict[str, object]) -> list[str]:
    lines: list[str] = []
    for block in view["blocks"]:  # type: ignore[attr-defined]
        if block["type"] == "section":
            lines += block["text"]["text"].split("\n• ")
    return lines


@pytest.mark.parametrize("locale", ["en", "zh-CN"])
def test_home_view(library: PlaybookSet, locale: str) -> None:
    state, _ = declare(library)
    step = state.steps["report-office"]
    approval = escalation()
    empty = r.home_view(steps=[], approvals=[], incidents=[], ctx=context(locale))
    check_view(empty)
    ref = r.IncidentRef("2026-0007", state, "C0ABC", "Main DB <!channel>")
    view = r.home_view(
        steps=[(ref, "Report <!channel>", step)],
        approvals=[(ref, approval)],
        incidents=[ref],
        ctx=context(locale),
    )
    check_view(view)
    assert "&lt;!channel&gt;" in texts(view["blocks"])
    assert "<!channel>" not in texts(view["blocks"])
    huge = r.home_view(
        steps=[
            (r.IncidentRef(f"2026-{i:04}", state, "C0ABC"), "x" * 200, step) for i in range(500)
        ],
        approvals=[(r.IncidentRef(f"2026-{i:04}", state), approval) for i in range(500)],
        incidents=[r.IncidentRef(f"2026-{i:04}", state, "C0ABC") for i in range(500)],
        ctx=context(locale),
    )
    check_view(huge)


@pytest.mark.parametrize("locale", ["en", "zh-CN"])
def test_every_home_entry_names_and_links_its_incident(library: PlaybookSet, locale: str) -> None:
    state, _ = declare(library)
    other, _ = declare(library, "virus")
    first = r.IncidentRef("2026-0007", state, "C0FIRST", "Main DB down")
    second = r.IncidentRef("2026-0008", other, "C0SECOND", "Virus on host 7")
    view = r.home_view(
        steps=[(first, "Report", state.steps["report-office"])],
        approvals=[(second, escalation())],
        incidents=[first, second],
        ctx=context(locale),
    )
    check_view(view)
    entries = [line for line in section_lines(view) if "2026-" in line]
    # one step, one approval, two incidents: each names its own incident and links it
    assert len(entries) == 4
    playbook, stage = TITLES[locale]
    for entry in entries:
        own = first if "2026-0007" in entry else second
        assert f"<#{own.channel_id}>" in entry, entry
        assert own.title is not None
        assert own.title in entry, entry
        assert "II" in entry, entry  # the severity
    assert any(playbook in e and stage in e for e in entries if "2026-0007" in e)


@pytest.mark.parametrize("locale", ["en", "zh-CN"])
def test_incident_list(library: PlaybookSet, locale: str) -> None:
    state, _ = declare(library)
    ctx = context(locale)
    listing = r.incident_list(
        [
            r.IncidentRef("2026-0007", state, "C0ABC", "Main DB down"),
            r.IncidentRef("2026-0008", state, "C0DEF", "Replica lost"),
        ],
        ctx,
    )
    entries = [line for line in listing.splitlines() if line.startswith("•")]
    assert len(entries) == 2
    playbook, stage = TITLES[locale]
    for entry, (number, channel, title) in zip(
        entries,
        [("2026-0007", "C0ABC", "Main DB down"), ("2026-0008", "C0DEF", "Replica lost")],
        strict=True,
    ):
        for part in (number, f"<#{channel}>", title, playbook, stage, "II"):
            assert part in entry, (part, entry)
    # An incident whose channel is not there yet is still named, without a broken link.
    pending = r.incident_list([r.IncidentRef("2026-0009", state, None, "New")], ctx)
    assert "2026-0009" in pending
    assert "<#" not in pending
    assert r.incident_list([], ctx)
