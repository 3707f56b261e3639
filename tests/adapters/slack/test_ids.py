"""The action and callback ids are a documented contract: each one is in docs/slack.md."""

from __future__ import annotations

from pathlib import Path

import pytest

from epbot.adapters.slack.ids import Action, Callback, button_value, parse_value

DOCS = (Path(__file__).resolve().parents[3] / "docs" / "slack.md").read_text(encoding="utf-8")


@pytest.mark.parametrize("value", [*Action, *Callback], ids=str)
def test_every_id_is_documented(value: str) -> None:
    assert f"| `{value}` |" in DOCS


def test_ids_are_unique_and_button_values_round_trip() -> None:
    values = [*Action, *Callback]
    assert len({str(v) for v in values}) == len(values)
    assert parse_value(button_value(7, "security-officer#2")) == (7, "security-officer#2")
    assert parse_value(button_value(7)) == (7, "")
