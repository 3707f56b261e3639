"""Alert payloads, routing rules, dedup and rate: pure, table-driven."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from epbot.domain.alerts import (
    AlertAction,
    AlertRules,
    AlertStatus,
    Change,
    PayloadError,
    PayloadKind,
    RateLimiter,
    change_for,
    check_alert_rules,
    labels_fingerprint,
    occurred_at,
    parse_alert_rules,
    parse_payload,
    route,
    scope_of,
)
from epbot.domain.playbook import Severity

NOW = datetime(2026, 11, 24, 3, 0, tzinfo=UTC)

# Alertmanager's webhook body, version 4 (prometheus.io/docs/alerting/latest/configuration/
# #webhook_config): one notification, a group of two alerts.
ALERTMANAGER: dict[str, Any] = {
    "receiver": "epbot",
    "status": "firing",
    "alerts": [
        {
            "status": "firing",
            "labels": {"alertname": "PostgresDown", "instance": "db-1:5432", "job": "pg"},
            "annotations": {"summary": "PostgreSQL on db-1 is down", "description": "no scrape"},
            "startsAt": "2026-11-24T02:55:00.123456789Z",
            "endsAt": "0001-01-01T00:00:00Z",
            "generatorURL": "http://prometheus:9090/graph?g0.expr=up",
            "fingerprint": "1a30ba71cca2921f",
        },
        {
            "status": "firing",
            "labels": {"alertname": "PostgresDown", "instance": "db-2:5432", "job": "pg"},
            "annotations": {},
            "startsAt": "2026-11-24T02:56:00Z",
            "endsAt": "0001-01-01T00:00:00Z",
            "generatorURL": "",
            "fingerprint": "2b41cb82ddb3a32f",
        },
    ],
    "groupLabels": {"alertname": "PostgresDown"},
    "commonLabels": {"alertname": "PostgresDown", "job": "pg"},
    "commonAnnotations": {},
    "externalURL": "http://alertmanager:9093",
    "version": "4",
    "groupKey": '{}:{alertname="PostgresDown"}',
    "truncatedAlerts": 0,
}


def test_alertmanager_group_is_one_signal_per_alert() -> None:
    signals = parse_payload(ALERTMANAGER, PayloadKind.ALERTMANAGER)
    assert [s.fingerprint for s in signals] == ["1a30ba71cca2921f", "2b41cb82ddb3a32f"]
    first, second = signals
    assert first.summary == "PostgreSQL on db-1 is down"
    assert first.details == "no scrape"
    assert first.starts_at == datetime(2026, 11, 24, 2, 55, 0, 123456, tzinfo=UTC)
    assert first.ends_at is None  # Go's zero time: not ended
    assert first.url == "http://prometheus:9090/graph?g0.expr=up"
    assert second.summary == "PostgresDown"  # no annotations: the alert name
    assert second.url is None


def test_missing_fingerprint_falls_back_to_the_labels() -> None:
    body = {"status": "firing", "alerts": [{"status": "firing", "labels": {"b": "2", "a": "1"}}]}
    (signal,) = parse_payload(body, PayloadKind.GRAFANA)
    assert signal.fingerprint == labels_fingerprint({"a": "1", "b": "2"})


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ([], "body"),
        ({"alerts": []}, "status"),
        ({"status": "firing"}, "alerts"),
        ({"status": "firing", "alerts": [{"labels": {}}]}, "alerts[0].status"),
        ({"status": "firing", "alerts": [{"status": "burning"}]}, "alerts[0].status"),
        ({"status": "firing", "alerts": [{"status": "firing", "labels": {"a": 1}}]},
         "alerts[0].labels.a"),
        ({"status": "firing", "version": "3", "alerts": []}, "version"),
    ],
)
def test_bad_alertmanager_bodies_name_the_field(body: Any, field: str) -> None:
    with pytest.raises(PayloadError) as caught:
        parse_payload(body, PayloadKind.ALERTMANAGER)
    assert caught.value.field == field


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"dedup_key": "k", "status": "firing", "summary": "s"}, "source"),
        ({"source": "zabbix", "status": "firing", "summary": "s"}, "dedup_key"),
        ({"source": "zabbix", "dedup_key": "k", "summary": "s"}, "status"),
        ({"source": "zabbix", "dedup_key": "k", "status": "firing"}, "summary"),
        ({"source": "z", "dedup_key": "k", "status": "firing", "summary": "s", "x": 1}, "x"),
    ],
)
def test_bad_generic_bodies_name_the_field(body: Any, field: str) -> None:
    with pytest.raises(PayloadError) as caught:
        parse_payload(body, PayloadKind.GENERIC)
    assert caught.value.field == field


def test_generic_alert() -> None:
    (signal,) = parse_payload(
        {
            "source": "zabbix",
            "dedup_key": "disk:/data",
            "status": "resolved",
            "summary": "disk full",
            "details": "/data 99%",
            "labels": {"alertname": "DiskFull"},
            "url": "https://zabbix/tr/1",
        },
        PayloadKind.GENERIC,
    )
    assert (signal.fingerprint, signal.status, signal.source) == (
        "disk:/data",
        AlertStatus.RESOLVED,
        "zabbix",
    )


RULES = {
    "rules": [
        {
            "name": "database-down",
            "match": {"alertname": {"regex": "PostgresDown|MysqlDown"}},
            "playbook": "db-crash",
            "severity": "II",
            "action": "declare",
            "unit": "user-it",
        },
        {"name": "any-ids", "match": {"ids": {"present": True}}, "playbook": "attack"},
        {"name": "disk", "match": {"alertname": "DiskFull"}, "severity": "IV"},
    ]
}


@pytest.mark.parametrize(
    ("labels", "expected"),
    [
        (
            {"alertname": "PostgresDown"},
            ("db-crash", Severity.II, AlertAction.DECLARE, "database-down"),
        ),
        ({"alertname": "PostgresDownish"}, (None, None, AlertAction.WARN, None)),  # whole value
        ({"alertname": "X", "ids": ""}, ("attack", None, AlertAction.WARN, "any-ids")),
        ({"alertname": "DiskFull", "playbook": "system-fault"},
         ("system-fault", Severity.IV, AlertAction.WARN, "disk")),
        ({"alertname": "Other", "playbook": "virus"}, ("virus", None, AlertAction.WARN, None)),
        ({}, (None, None, AlertAction.WARN, None)),
    ],
)
def test_route(labels: dict[str, str], expected: tuple[Any, ...]) -> None:
    rules, issues = parse_alert_rules(RULES)
    assert issues == []
    assert rules is not None
    got = route(rules, labels)
    assert (got.playbook, got.severity, got.action, got.rule) == expected


def test_rule_cross_checks() -> None:
    rules = AlertRules.model_validate(
        {
            "rules": [
                {"name": "a", "match": {"x": "1"}, "playbook": "nope", "action": "declare"},
                {"name": "a", "match": {"x": {}}, "unit": "mars"},
            ]
        }
    )
    issues = check_alert_rules(rules, playbooks=["db-crash"], units=["user-it"])
    messages = [(i.path, i.message) for i in issues]
    assert (("rules", 0, "playbook"), "unknown playbook 'nope'; known: db-crash") in messages
    assert any("declares but names no unit" in m for _, m in messages)
    assert (("rules", 1, "name"), "duplicate rule name 'a'") in messages
    assert (("rules", 1, "unit"), "unknown unit 'mars'") in messages
    assert (("rules", 1, "match", "x"), "give equals, regex or present") in messages


def test_bad_rules_are_located() -> None:
    rules, issues = parse_alert_rules({"rules": [{"name": "a", "match": {"x": {"regex": "("}}}]})
    assert rules is None
    assert issues[0].path[:4] == ("rules", 0, "match", "x")


@pytest.mark.parametrize(
    ("open_", "status", "change"),
    [
        (False, AlertStatus.FIRING, Change.NEW),
        (True, AlertStatus.FIRING, Change.REPEAT),
        (True, AlertStatus.RESOLVED, Change.RESOLVED),
        (False, AlertStatus.RESOLVED, Change.IGNORED),
    ],
)
def test_change(open_: bool, status: AlertStatus, change: Change) -> None:
    assert change_for(open_, status) is change


def test_rate_limiter_refuses_whole_requests_and_says_when() -> None:
    limiter = RateLimiter(limit=300, window=timedelta(minutes=5))
    assert limiter.admit("am", 200, NOW) is None
    assert limiter.admit("am", 100, NOW + timedelta(seconds=60)) is None
    wait = limiter.admit("am", 1, NOW + timedelta(seconds=120))
    assert wait == 180  # the first 200 leave the window at NOW + 5 min
    assert limiter.admit("grafana", 300, NOW) is None  # per source
    assert limiter.admit("am", 1, NOW + timedelta(minutes=5)) is None
    assert limiter.admit("am", 301, NOW + timedelta(hours=1)) == 300


def test_report_helpers() -> None:
    assert scope_of({"b": "2", "a": "1"}) == "a=1, b=2"
    assert occurred_at(None, NOW) == NOW
    assert occurred_at(NOW + timedelta(minutes=1), NOW) == NOW
    assert occurred_at(NOW - timedelta(minutes=1), NOW) == NOW - timedelta(minutes=1)
