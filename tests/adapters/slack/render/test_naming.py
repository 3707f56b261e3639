"""Channel names, ``/incident help`` and the closest playbook to an unknown name."""

from __future__ import annotations

import re
from datetime import date

import pytest

from epbot.adapters.playbook_files import PlaybookSet
from epbot.adapters.slack import render as r
from tests.adapters.slack.render.samples import (
    context,
)


@pytest.mark.parametrize("locale", ["en", "zh-CN"])
def test_help_and_unknown_type(library: PlaybookSet, locale: str) -> None:
    ctx = context(locale)
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
