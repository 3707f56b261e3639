"""Playbook models: texts, severities, lookups, snapshots."""

import json
from datetime import timedelta
from typing import Any

import pytest
from pydantic import ValidationError

from epbot.domain.playbook import (
    Due,
    DueFrom,
    Playbook,
    Reminders,
    Severity,
    StageId,
    Text,
)


def _text(word: str) -> dict[str, str]:
    return {"zh-CN": f"中文{word}", "en": word}


def playbook_data() -> dict[str, Any]:
    return {
        "id": "demo",
        "aliases": ["dm", "演示"],
        "title": _text("Demo"),
        "fault_class": "system",
        "default_severity": "III",
        "commander_role": "office",
        "stages": [
            {
                "id": "report",
                "steps": [
                    {
                        "id": "tell",
                        "title": _text("Tell"),
                        "role": "office",
                        "kind": "report",
                        "due": {"after": "15m", "from": "declared"},
                        "reminders": {"before": ["5m", "30s"], "repeat": "PT2M"},
                        "when": {"severities": ["I", "II"]},
                    }
                ],
            },
            {
                "id": "initial_handling",
                "steps": [{"id": "fix", "title": _text("Fix"), "role": "s"}],
            },
        ],
    }


def test_text_get_falls_back_to_zh() -> None:
    text = Text.model_validate({"zh-CN": "数据库故障", "en": "Database fault"})
    assert text.get("en") == "Database fault"
    assert text.get("en-US") == "Database fault"
    assert text.get("zh-CN") == "数据库故障"
    assert text.get("fr") == "数据库故障"


@pytest.mark.parametrize(
    ("severity", "major"),
    [(Severity.I, True), (Severity.II, True), (Severity.III, False), (Severity.IV, False)],
)
def test_major_severities(severity: Severity, major: bool) -> None:
    assert severity.is_major is major


def test_durations_are_parsed_in_models() -> None:
    pb = Playbook.model_validate(playbook_data())
    step = pb.step("tell")
    assert step.due == Due(after=timedelta(minutes=15), from_=DueFrom.DECLARED)
    assert step.reminders == Reminders(
        before=(timedelta(minutes=5), timedelta(seconds=30)), repeat=timedelta(minutes=2)
    )


@pytest.mark.parametrize("after", [15, 1.5, "15", "fifteen"])
def test_bare_or_bad_durations_are_refused(after: object) -> None:
    data = playbook_data()
    data["stages"][0]["steps"][0]["due"]["after"] = after
    with pytest.raises(ValidationError, match="bad duration"):
        Playbook.model_validate(data)


def test_single_reminder_may_be_a_string() -> None:
    data = playbook_data()
    data["stages"][0]["steps"][0]["reminders"] = {"before": "5m"}
    pb = Playbook.model_validate(data)
    assert pb.step("tell").reminders.before == (timedelta(minutes=5),)


@pytest.mark.parametrize(
    ("name", "matches"),
    [("demo", True), ("DEMO", True), (" dm ", True), ("演示", True), ("dem", False), ("", False)],
)
def test_matches_id_and_aliases(name: str, matches: bool) -> None:
    assert Playbook.model_validate(playbook_data()).matches(name) is matches


def test_lookups() -> None:
    pb = Playbook.model_validate(playbook_data())
    assert pb.names == ("demo", "dm", "演示")
    assert pb.stage(StageId.COMMAND) is None
    assert [s.id for _, s in pb.iter_steps()] == ["tell", "fix"]
    with pytest.raises(KeyError):
        pb.step("nope")


@pytest.mark.parametrize(
    ("severity", "applies"),
    [(Severity.I, True), (Severity.II, True), (Severity.III, False), (Severity.IV, False)],
)
def test_when_severities(severity: Severity, applies: bool) -> None:
    pb = Playbook.model_validate(playbook_data())
    assert pb.step("tell").applies_to(severity) is applies
    assert pb.step("fix").applies_to(severity) is True


def test_snapshot_round_trip_keeps_the_hash() -> None:
    pb = Playbook.model_validate(playbook_data())
    again = Playbook.from_snapshot(pb.canonical_json())
    assert again == pb
    assert again.content_hash() == pb.content_hash()
    assert json.loads(pb.canonical_json())["stages"][0]["steps"][0]["due"]["from"] == "declared"


def test_hash_changes_with_content() -> None:
    data = playbook_data()
    first = Playbook.model_validate(data).content_hash()
    data["stages"][0]["steps"][0]["due"]["after"] = "14m"
    assert Playbook.model_validate(data).content_hash() != first


def test_models_are_frozen() -> None:
    pb = Playbook.model_validate(playbook_data())
    with pytest.raises(ValidationError):
        pb.id = "other"  # type: ignore[misc]
