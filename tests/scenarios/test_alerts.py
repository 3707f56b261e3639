"""Early warning end to end: webhooks in, one warning per alert in Slack, declare, dismiss.

Payloads are written from the senders' documentation: Alertmanager's webhook_config
(version 4), Grafana Alerting's webhook contact point, and epbot's generic JSON
(docs/alerts.md). Every refusal is checked to change nothing.
"""

from __future__ import annotations

import asyncio
import copy
import io
import json
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import pytest
from prometheus_client.exposition import generate_latest

from epbot.adapters.slack.ids import Action, Callback
from epbot.domain.alerts import RateLimiter
from epbot.fakeslack import FakeSlack
from tests.scenarios.alerting import (
    ALERTS_CHANNEL,
    NAMED_TOKEN,
    PLAIN_TOKEN,
    AlertHarness,
    start,
    state_of,
)
from tests.scenarios.conftest import REPORTER

USER = REPORTER
ZERO_TIME = "0001-01-01T00:00:00Z"  # Go's zero time: Alertmanager's "not ended"


@pytest.fixture
async def alerting(database_url: str, fake: FakeSlack) -> AsyncIterator[AlertHarness]:
    async for harness in start(database_url, fake):
        yield harness


def alertmanager(status: str = "firing", **labels: str) -> dict[str, Any]:
    """An Alertmanager webhook body (version 4) with one alert."""
    alert_labels = {"alertname": "HostDown", "instance": "app-1:9100", "job": "node", **labels}
    return {
        "receiver": "epbot",
        "status": status,
        "alerts": [
            {
                "status": status,
                "labels": alert_labels,
                "annotations": {
                    "summary": "app-1 does not answer",
                    "description": "node_exporter on app-1 has been down for 5 minutes",
                },
                "startsAt": "2026-11-24T00:55:00Z",
                "endsAt": "2026-11-24T01:10:00Z" if status == "resolved" else ZERO_TIME,
                "generatorURL": "http://prometheus:9090/graph?g0.expr=up%3D%3D0&g0.tab=1",
                "fingerprint": "5d4a1c6f0e9b2a77",
            }
        ],
        "groupLabels": {"alertname": alert_labels["alertname"]},
        "commonLabels": alert_labels,
        "commonAnnotations": {"summary": "app-1 does not answer"},
        "externalURL": "http://alertmanager:9093",
        "version": "4",
        "groupKey": '{}:{alertname="HostDown"}',
        "truncatedAlerts": 0,
    }


# Grafana Alerting's webhook contact point (docs: "Configure webhook notifications").
GRAFANA: dict[str, Any] = {
    "receiver": "epbot",
    "status": "firing",
    "orgId": 1,
    "alerts": [
        {
            "status": "firing",
            "labels": {"alertname": "DiskFull", "grafana_folder": "platform", "host": "db-1"},
            "annotations": {"summary": "/data on db-1 is 97% full"},
            "startsAt": "2026-11-24T00:50:00+08:00",
            "endsAt": "0001-01-01T00:00:00Z",
            "generatorURL": "https://grafana.example/alerting/grafana/abc/view",
            "fingerprint": "c6eadffa33fcdf37",
            "silenceURL": "https://grafana.example/alerting/silence/new",
            "dashboardURL": "https://grafana.example/d/xyz",
            "panelURL": "https://grafana.example/d/xyz?viewPanel=2",
            "values": {"B": 97.2, "C": 1},
            "valueString": "[ var='B' labels={host=db-1} value=97.2 ]",
        }
    ],
    "groupLabels": {"alertname": "DiskFull"},
    "commonLabels": {"alertname": "DiskFull"},
    "commonAnnotations": {},
    "externalURL": "https://grafana.example/",
    "version": "1",
    "groupKey": '{}:{alertname="DiskFull"}',
    "truncatedAlerts": 0,
    "title": "[FIRING:1] DiskFull (platform)",
    "state": "alerting",
    "message": "**Firing**\n\nValue: B=97.2",
}


def generic(status: str = "firing", summary: str = "Backup job failed") -> dict[str, Any]:
    return {
        "source": "zabbix",
        "dedup_key": "backup:nightly",
        "status": status,
        "summary": summary,
        "details": "the nightly off-site backup did not finish",
        "labels": {"alertname": "BackupFailed", "service": "backup"},
        "url": "https://zabbix.example/tr_events.php?triggerid=1",
    }


def metrics(alerting: AlertHarness) -> str:
    assert alerting.bot.metrics is not None
    return generate_latest(alerting.bot.metrics.registry).decode()


def blocks_text(message: Any) -> str:
    return json.dumps(message.blocks or [], ensure_ascii=False)


def buttons(message: Any) -> list[str]:
    return [
        element["action_id"]
        for block in message.blocks or []
        if block.get("type") == "actions"
        for element in block["elements"]
    ]


# --- dedup: one warning per alert -------------------------------------------------------------


async def test_firing_repeat_and_resolution_make_one_warning(alerting: AlertHarness) -> None:
    status, answer, _ = await alerting.send("alertmanager", alertmanager())
    assert (status, answer["new"], answer["source"]) == (200, 1, "prometheus")
    await alerting.deliver_alerts()
    status, answer, _ = await alerting.send("alertmanager", alertmanager())
    assert (status, answer["repeat"]) == (200, 1)
    await alerting.deliver_alerts()
    (warning,) = alerting.warnings()
    body = blocks_text(warning)
    for shown in (
        "app-1 does not answer",
        "prometheus",
        "instance=app-1:9100",
        "http://prometheus:9090/graph?g0.expr=up%3D%3D0&amp;g0.tab=1",
        "System fault",
        "seen 2 times",
        Action.ALERT_DECLARE.value,
    ):
        assert shown in body, shown
    assert buttons(warning) == [Action.ALERT_DECLARE, Action.ALERT_DISMISS]

    status, answer, _ = await alerting.send("alertmanager", alertmanager("resolved"))
    assert (status, answer["resolved"]) == (200, 1)
    await alerting.deliver_alerts()
    (warning,) = alerting.warnings()
    assert "Resolved" in blocks_text(warning)
    assert "Warning (resolved)" in warning.text
    assert len(alerting.fake.calls_to("chat.postMessage")) == 1
    assert len(alerting.fake.calls_to("chat.update")) == 2
    (row,) = await alerting.alerts()
    assert (row.status, row.count, row.live_key, row.channel, row.ts) == (
        "resolved",
        2,
        None,
        alerting.alerts_channel,
        warning.ts,
    )

    # A resolution repeated changes nothing; a new firing later is a new warning.
    _, answer, _ = await alerting.send("alertmanager", alertmanager("resolved"))
    assert answer["ignored"] == 1
    await alerting.send("alertmanager", alertmanager())
    await alerting.deliver_alerts()
    assert len(alerting.warnings()) == 2


async def test_concurrent_repeats_update_one_alert(alerting: AlertHarness) -> None:
    """Alertmanager replicas (HA) send the same alert at once: one alert, one warning."""
    answers = await asyncio.gather(
        *(alerting.send("alertmanager", alertmanager()) for _ in range(6))
    )
    assert [status for status, _, _ in answers] == [200] * 6
    assert sorted(answer["new"] for _, answer, _ in answers) == [0] * 5 + [1]
    (row,) = await alerting.alerts()
    assert row.count == 6
    await alerting.deliver_alerts()
    assert len(alerting.warnings()) == 1
    assert len(alerting.fake.calls_to("chat.postMessage")) == 1


async def test_a_group_is_one_warning_per_alert(alerting: AlertHarness) -> None:
    body = alertmanager()
    second = copy.deepcopy(body["alerts"][0])
    second["labels"]["instance"] = "app-2:9100"
    second["fingerprint"] = "77aa1c6f0e9b2a55"
    body["alerts"].append(second)
    status, answer, _ = await alerting.send("alertmanager", body)
    assert (status, answer["new"]) == (200, 2)
    await alerting.deliver_alerts()
    assert len(alerting.warnings()) == 2


async def test_grafana_and_generic_payloads(alerting: AlertHarness) -> None:
    status, answer, _ = await alerting.send("grafana", GRAFANA, token=PLAIN_TOKEN)
    assert (status, answer["source"], answer["new"]) == (200, "grafana", 1)
    status, answer, _ = await alerting.send("generic", generic(), token=PLAIN_TOKEN)
    assert (status, answer["source"], answer["new"]) == (200, "zabbix", 1)
    await alerting.send("generic", generic(), token=PLAIN_TOKEN)
    await alerting.send("generic", generic("resolved"), token=PLAIN_TOKEN)
    await alerting.deliver_alerts()
    grafana, backup = alerting.warnings()
    assert "/data on db-1 is 97% full" in blocks_text(grafana)
    assert "https://grafana.example/alerting/grafana/abc/view" in blocks_text(grafana)
    assert "severity IV" in blocks_text(grafana)  # the disk-full rule
    assert "Backup job failed" in blocks_text(backup)
    assert "Resolved" in blocks_text(backup)
    rows = await alerting.alerts()
    assert [(r.source, r.kind, r.count) for r in rows] == [
        ("grafana", "grafana", 1),
        ("zabbix", "generic", 2),
    ]


async def test_alert_text_cannot_ping_or_link(alerting: AlertHarness) -> None:
    body = generic(summary="<!channel> disk <https://evil.example|click> & more")
    await alerting.send("generic", body)
    await alerting.deliver_alerts()
    (warning,) = alerting.warnings()
    for text in (warning.text, blocks_text(warning)):
        assert "<!channel>" not in text
        assert "<https://evil" not in text
    assert "&lt;!channel&gt; disk &lt;https://evil.example|click&gt; &amp; more" in blocks_text(
        warning
    )


# --- refusals ---------------------------------------------------------------------------------


async def assert_nothing_changed(alerting: AlertHarness) -> None:
    assert await alerting.alerts() == []
    assert await alerting.outbox() == []


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"Authorization": "Bearer wrong-token"},
        {"Authorization": f"Basic {NAMED_TOKEN}"},
        {"Authorization": f"Bearer {NAMED_TOKEN}x"},
    ],
)
async def test_no_or_wrong_token_is_401(alerting: AlertHarness, headers: dict[str, str]) -> None:
    status, answer, response_headers = await alerting.send(
        "alertmanager", alertmanager(), token=None, headers=headers
    )
    assert status == 401
    assert "unauthorized" in answer["error"]
    assert response_headers["WWW-Authenticate"] == "Bearer"
    await assert_nothing_changed(alerting)


@pytest.mark.parametrize(
    ("kind", "body", "field"),
    [
        ("alertmanager", b"{not json", "body"),
        ("alertmanager", {"status": "firing"}, "alerts"),
        ("alertmanager", {"status": "firing", "alerts": [{"labels": {}}]}, "alerts[0].status"),
        ("grafana", [1, 2], "body"),
        ("generic", {"source": "z", "status": "firing", "summary": "s"}, "dedup_key"),
    ],
)
async def test_bad_input_is_400_naming_the_field(
    alerting: AlertHarness, kind: str, body: Any, field: str
) -> None:
    raw = body if isinstance(body, bytes) else None
    status, answer, _ = await alerting.send(kind, body, raw=raw)
    assert status == 400
    assert answer["field"] == field
    assert field in answer["error"] or "JSON" in answer["error"]
    await assert_nothing_changed(alerting)


async def test_body_over_one_mebibyte_is_413(alerting: AlertHarness) -> None:
    big = json.dumps(generic(summary="x" * (1024 * 1024))).encode()
    status, _, _ = await alerting.send("generic", None, raw=io.BytesIO(big))
    assert status == 413

    async def chunked() -> AsyncIterator[bytes]:  # no Content-Length: counted while read
        for at in range(0, len(big), 65536):
            yield big[at : at + 65536]

    status, _, _ = await alerting.send("generic", None, raw=chunked())
    assert status == 413
    await assert_nothing_changed(alerting)
    just = json.dumps(generic(summary="x" * (1024 * 1024 - 400))).encode()
    assert len(just) <= 1024 * 1024
    status, _, _ = await alerting.send("generic", None, raw=io.BytesIO(just))
    assert status == 200


async def test_source_over_its_rate_is_429_with_retry_after(alerting: AlertHarness) -> None:
    assert alerting.bot.alert_intake is not None
    alerting.bot.alert_intake.limiter = RateLimiter(limit=2, window=timedelta(minutes=5))
    for _ in range(2):
        status, _, _ = await alerting.send("alertmanager", alertmanager())
        assert status == 200
    outbox = len(await alerting.outbox())
    status, answer, headers = await alerting.send("alertmanager", alertmanager())
    assert status == 429
    assert headers["Retry-After"] == "300"
    assert "over its alert rate" in answer["error"]
    assert len(await alerting.outbox()) == outbox
    (row,) = await alerting.alerts()
    assert row.count == 2
    # Another source is not held back by this one.
    status, _, _ = await alerting.send("generic", generic(), token=PLAIN_TOKEN)
    assert status == 200
    alerting.clock.advance(timedelta(minutes=5))
    status, _, _ = await alerting.send("alertmanager", alertmanager())
    assert status == 200


# --- declare and dismiss ------------------------------------------------------------------------


async def test_declare_button_opens_a_prefilled_report_that_makes_an_incident(
    alerting: AlertHarness,
) -> None:
    await alerting.send("alertmanager", alertmanager())
    await alerting.deliver_alerts()
    (alert,) = await alerting.alerts()
    await alerting.click_alert(Action.ALERT_DECLARE, alert, user=USER)
    opened = await alerting.eventually(lambda: alerting.fake.calls_to("views.open"))
    view = opened[-1].args["view"]
    assert view["callback_id"] == Callback.ALERT_REPORT
    assert json.loads(view["private_metadata"])["alert"] == alert.id
    prefilled = {
        b["block_id"]: b["element"]
        for b in view["blocks"]
        if b.get("type") == "input"
    }
    assert prefilled["title"]["initial_value"] == "app-1 does not answer"
    assert prefilled["nature"]["initial_value"] == "app-1 does not answer"
    assert prefilled["scope"]["initial_value"] == (
        "alertname=HostDown, instance=app-1:9100, job=node"
    )
    assert prefilled["place"]["initial_value"] == "app-1:9100"
    assert alert.starts_at is not None
    assert prefilled["occurred_at"]["initial_date_time"] == int(alert.starts_at.timestamp())
    assert prefilled["severity"]["initial_option"]["value"] == "III"  # the host-down rule

    values = state_of(
        view, trend="stable", measures="restarting", unit="user-it", contact_phone="022-2630-0101"
    )
    status, _ = await alerting.submit_view(view, values, user=USER, view_id="V0ALERT01")
    assert status == 200
    incidents = await alerting.eventually(alerting.incidents)
    await alerting.eventually(
        lambda: 'epbot_alerts_declared_total{how="person",source="prometheus"} 1.0'
        in metrics(alerting)
    )
    (incident,) = incidents
    assert (incident.playbook_id, incident.severity) == ("system-fault", "III")
    (alert,) = await alerting.eventually(
        lambda: _linked(alerting), within=10
    )
    assert alert.incident_id == incident.id
    await alerting.deliver_alerts()
    (warning,) = alerting.warnings()
    assert "Incident *2026-0001*" in blocks_text(warning)
    assert buttons(warning) == []  # declared: no more buttons

    # The same report submitted again (a second person) makes no second incident; they
    # are told it was declared already.
    status, _ = await alerting.submit_view(view, values, user=USER, view_id="V0ALERT02")
    assert status == 200
    told = await alerting.eventually(lambda: alerting.fake.calls_to("chat.postEphemeral"))
    assert "already declared" in told[-1].args["text"]
    assert len(await alerting.incidents()) == 1

    # The source resolves it: the warning says so, and a note goes to the incident.
    await alerting.send("alertmanager", alertmanager("resolved"))
    await alerting.deliver_alerts()
    assert "Resolved" in blocks_text(alerting.warnings()[0])
    state = await alerting.state(incident.id or 0)
    assert state.is_open  # a person decides when it is resolved
    timeline = await alerting.bot.service.timeline(incident.id or 0)
    notes = [e for e in timeline if e["kind"] == "update_posted"]
    assert len(notes) == 1
    assert "reports the alert resolved" in notes[0]["payload"]
    assert notes[0]["actor"] == "prometheus"


async def _linked(alerting: AlertHarness) -> Any:
    rows = await alerting.alerts()
    return rows if rows and rows[0].incident_id is not None else None


async def test_declare_rule_opens_the_incident_by_itself(alerting: AlertHarness) -> None:
    body = alertmanager(alertname="PostgresDown", instance="db-1:5432", job="postgres")
    body["alerts"][0]["annotations"]["summary"] = "PostgreSQL on db-1 is down"
    status, answer, _ = await alerting.send("alertmanager", body)
    assert status == 200
    (incident_id,) = answer["declared"]
    (incident,) = await alerting.incidents()
    assert incident.id == incident_id
    assert (incident.playbook_id, incident.severity, incident.reporter) == (
        "db-crash",
        "II",
        "prometheus",
    )
    assert incident.title == "PostgreSQL on db-1 is down"
    state = await alerting.state(incident_id)
    # The 15-minute rule runs: reporting to the leadership group is due 15 minutes on.
    assert state.severity.is_major
    assert any(t.due_at == incident.declared_at + timedelta(minutes=15) for t in state.timers)
    # A repeat does not declare again.
    _, answer, _ = await alerting.send("alertmanager", body)
    assert (answer["repeat"], answer["declared"]) == (1, [])
    assert len(await alerting.incidents()) == 1
    await alerting.deliver_alerts()
    (warning,) = alerting.warnings()
    assert "Incident *2026-0001*" in blocks_text(warning)
    assert "declared automatically by rule" in blocks_text(warning)
    assert 'epbot_alerts_declared_total{how="rule",source="prometheus"} 1.0' in metrics(alerting)


async def test_dismiss_asks_for_a_reason(alerting: AlertHarness) -> None:
    await alerting.send("generic", generic())
    await alerting.deliver_alerts()
    (alert,) = await alerting.alerts()
    await alerting.click_alert(Action.ALERT_DISMISS, alert, user=USER)
    opened = await alerting.eventually(lambda: alerting.fake.calls_to("views.open"))
    view = opened[-1].args["view"]
    assert view["callback_id"] == Callback.ALERT_DISMISS
    empty = {"reason": {"reason": {"type": "plain_text_input", "value": " "}}}
    status, text = await alerting.submit_view(view, empty, user=USER, view_id="V0DISMISS1")
    assert status == 200
    assert json.loads(text)["response_action"] == "errors"
    reason = {"reason": {"reason": {"type": "plain_text_input", "value": "误报: <!here> test"}}}
    status, _ = await alerting.submit_view(view, reason, user=USER, view_id="V0DISMISS2")
    assert status == 200

    async def dismissed() -> Any:
        rows = await alerting.alerts()
        return rows[0] if rows[0].dismissed_at is not None else None

    row = await alerting.eventually(dismissed)
    assert (row.dismissed_by, row.dismiss_reason) == (USER, "误报: <!here> test")
    assert 'epbot_alerts_dismissed_total{source="prometheus"} 1.0' in metrics(alerting)
    await alerting.deliver_alerts()
    (warning,) = alerting.warnings()
    assert "Dismissed by" in blocks_text(warning)
    assert "&lt;!here&gt;" in blocks_text(warning)
    assert buttons(warning) == []
    # Dismissed, then the source repeats it: still one warning, still dismissed.
    await alerting.send("generic", generic())
    await alerting.deliver_alerts()
    assert len(alerting.warnings()) == 1

    await alerting.click_alert(Action.ALERT_DECLARE, row, user=USER)  # refused, told privately
    told = await alerting.eventually(lambda: alerting.fake.calls_to("response_url"))
    assert "dismissed" in told[-1].args["text"]


async def test_metrics_count_alerts(alerting: AlertHarness) -> None:
    await alerting.send("alertmanager", alertmanager())
    await alerting.send("alertmanager", alertmanager())
    await alerting.send("alertmanager", alertmanager("resolved"))
    await alerting.send("alertmanager", alertmanager(), token="nope")
    await alerting.send("alertmanager", None, raw=b"{")
    metrics = alerting.bot.metrics
    assert metrics is not None
    text = generate_latest(metrics.registry).decode()
    for line in (
        'epbot_alerts_received_total{source="prometheus",status="firing"} 2.0',
        'epbot_alerts_received_total{source="prometheus",status="resolved"} 1.0',
        'epbot_alerts_deduplicated_total{source="prometheus"} 1.0',
        'epbot_alerts_refused_total{reason="unauthorized"} 1.0',
        'epbot_alerts_refused_total{reason="bad_request"} 1.0',
    ):
        assert line in text, line
    assert NAMED_TOKEN not in text
    assert ALERTS_CHANNEL


async def test_the_served_app_mounts_the_alert_webhooks(alerting: AlertHarness) -> None:
    paths = {resource.canonical for resource in alerting.bot.web().router.resources()}
    assert {"/alerts/alertmanager", "/alerts/grafana", "/alerts/generic", "/slack/events"} <= paths
