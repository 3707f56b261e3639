"""Alert settings, token redaction and the rules file next to the playbooks."""

from __future__ import annotations

import logging
import shutil
from pathlib import Path

import pytest
from pydantic import SecretStr

from epbot.adapters.playbook_files import load_playbook_set, playbook_files
from epbot.config import Settings, load_settings, parse_alert_tokens
from epbot.logs import REDACTED, RedactSecrets, secrets_of

PLAYBOOKS = Path(__file__).resolve().parents[2] / "playbooks"


@pytest.mark.parametrize(
    ("value", "tokens"),
    [
        ("", {}),
        ("abc", {"abc": ""}),
        ("prometheus=t1, t2 ,grafana=t3,", {"t1": "prometheus", "t2": "", "t3": "grafana"}),
    ],
)
def test_alert_tokens(value: str, tokens: dict[str, str]) -> None:
    assert parse_alert_tokens(value) == tokens


def test_alert_channel_defaults_to_the_incidents_channel() -> None:
    assert Settings(incidents_channel="ep-incidents").alert_channel == "ep-incidents"
    settings = Settings(incidents_channel="ep-incidents", alerts_channel="ep-alerts")
    assert settings.alert_channel == "ep-alerts"
    assert load_settings(alert_tokens=" ").alert_token_map() == {}


def test_alert_tokens_are_redacted_from_logs() -> None:
    settings = Settings(alert_tokens=SecretStr("prometheus=s3cr3t-prom, s3cr3t-plain"))
    secrets = secrets_of(settings)
    assert {"s3cr3t-prom", "s3cr3t-plain"} <= set(secrets)
    assert "prometheus" not in secrets
    record = logging.LogRecord(
        "x", logging.INFO, __file__, 1, "got %s", ("Bearer s3cr3t-prom",), None
    )
    assert RedactSecrets(secrets).filter(record)
    assert record.getMessage() == f"got Bearer {REDACTED}"
    assert "s3cr3t" not in repr(settings)


def test_the_rules_file_is_not_a_playbook_and_is_checked(tmp_path: Path) -> None:
    files = playbook_files(PLAYBOOKS, PLAYBOOKS / "matrix.yaml")
    assert "alerts.yaml" not in [p.name for p in files]
    loaded, errors = load_playbook_set(PLAYBOOKS)
    assert errors == []
    assert loaded is not None
    names = [rule.name for rule in loaded.alert_rules.rules]
    assert {"database-down", "host-down", "disk-full", "intrusion-detected"} <= set(names)

    directory = tmp_path / "playbooks"
    shutil.copytree(PLAYBOOKS, directory)
    (directory / "alerts.yaml").write_text(
        "rules:\n"
        "  - name: db\n"
        "    match: {alertname: PostgresDown}\n"
        "    playbook: db-crsh\n"
        "    action: declare\n"
        "    unit: user-it\n",
        encoding="utf-8",
    )
    loaded, errors = load_playbook_set(directory)
    assert loaded is None
    assert [str(e).split(": ", 1)[0] for e in errors] == [f"{directory / 'alerts.yaml'}:4:15"]
    assert "unknown playbook 'db-crsh'" in str(errors[0])
