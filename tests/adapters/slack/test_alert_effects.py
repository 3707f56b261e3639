"""AlertEffects against the fake Slack: post once, then update in place; failures propagate."""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from epbot.adapters.db import models as m
from epbot.adapters.db.engine import make_sessionmaker
from epbot.adapters.slack.alert_effects import AlertEffects
from epbot.adapters.slack.alert_render import WarningContext, resolved_note, warning_message
from epbot.adapters.slack.client import CallFailure, SlackClient
from epbot.fakeslack import FakeSlack

NOW = datetime(2026, 11, 24, 1, 0, tzinfo=UTC)
TZ = ZoneInfo("Asia/Shanghai")


@pytest.fixture
async def fake() -> AsyncIterator[FakeSlack]:
    server = FakeSlack(rate_limits=False, hang_seconds=1)
    await server.start()
    yield server
    await server.stop()


def alert_row(**values: Any) -> m.Alert:
    fields: dict[str, Any] = {
        "source": "prometheus",
        "kind": "alertmanager",
        "fingerprint": "5d4a1c6f0e9b2a77",
        "live_key": "prometheus:5d4a1c6f0e9b2a77",
        "status": "firing",
        "summary": "app-1 does not answer",
        "details": "",
        "labels": json.dumps({"alertname": "HostDown", "instance": "app-1:9100"}),
        "url": "http://prometheus:9090/graph",
        "starts_at": NOW - timedelta(minutes=5),
        "first_seen_at": NOW,
        "last_seen_at": NOW,
        "playbook_id": "system-fault",
        "severity": "III",
        "action": "warn",
        "channel": "ep-alerts",
    }
    fields.update(values)
    return m.Alert(**fields)


async def insert(engine: AsyncEngine, alert: m.Alert) -> int:
    async with make_sessionmaker(engine)() as session, session.begin():
        session.add(alert)
        await session.flush()
        assert alert.id is not None
        return alert.id


async def stored(engine: AsyncEngine, alert_id: int) -> m.Alert:
    async with make_sessionmaker(engine)() as session:
        row = await session.get(m.Alert, alert_id)
    assert row is not None
    return row


def effects(fake: FakeSlack, engine: AsyncEngine, locale: str = "en") -> AlertEffects:
    client = SlackClient(fake.bot_token, base_url=fake.url, timeout=1)
    fake.workspace.add_channel("ep-alerts", bot_is_member=True)
    return AlertEffects(client, engine, locale, TZ)


async def test_posts_once_then_updates_in_place(fake: FakeSlack, engine: AsyncEngine) -> None:
    alert_id = await insert(engine, alert_row())
    worker = effects(fake, engine)
    await worker.deliver({"kind": "alert", "alert_id": alert_id})
    row = await stored(engine, alert_id)
    channel = fake.workspace.channel_by_name("ep-alerts")
    assert channel is not None
    assert (row.channel, row.ts is not None) == (channel.id, True)
    # Retried, or a later change of the same alert: never a second message.
    await worker.deliver({"kind": "alert", "alert_id": alert_id})
    await worker.deliver({"kind": "alert", "alert_id": alert_id})
    assert len(fake.calls_to("chat.postMessage")) == 1
    assert len(fake.calls_to("chat.update")) == 2
    assert [msg.ts for msg in fake.workspace.messages_in(channel.id)] == [row.ts]


async def test_a_failed_call_propagates_and_the_retry_posts_once(
    fake: FakeSlack, engine: AsyncEngine
) -> None:
    alert_id = await insert(engine, alert_row())
    worker = effects(fake, engine)
    fake.inject_failure("chat.postMessage", status="channel_not_found")
    with pytest.raises(CallFailure) as failure:
        await worker.deliver({"kind": "alert", "alert_id": alert_id})
    assert failure.value.error == "channel_not_found"
    assert (await stored(engine, alert_id)).ts is None
    await worker.deliver({"kind": "alert", "alert_id": alert_id})
    assert (await stored(engine, alert_id)).ts is not None
    channel = fake.workspace.channel_by_name("ep-alerts")
    assert channel is not None
    assert len(fake.workspace.messages_in(channel.id)) == 1
    fake.inject_failure("chat.update", status="cant_update_message")
    with pytest.raises(CallFailure):
        await worker.deliver({"kind": "alert", "alert_id": alert_id})


async def test_a_missing_alert_posts_nothing(fake: FakeSlack, engine: AsyncEngine) -> None:
    await effects(fake, engine).deliver({"kind": "alert", "alert_id": 999})
    assert fake.calls_to("chat.postMessage") == []


def _shown_texts(text: str, blocks: list[dict[str, Any]]) -> list[str]:
    out = [text]
    for block in blocks:
        if "text" in block:
            out.append(block["text"]["text"])
        for element in block.get("elements", []):
            shown = element["text"]
            out.append(shown if isinstance(shown, str) else shown["text"])
    return out


@pytest.mark.parametrize(
    "values",
    [
        {},
        {"status": "resolved", "resolved_at": NOW, "count": 3},
        {"dismissed_at": NOW, "dismissed_by": "U0ALERT1", "dismiss_reason": "误报"},
        {"incident_id": 7, "declared_by": "U0ALERT1", "action": "declare"},
    ],
)
def test_zh_cn_warning_has_no_english_words(values: dict[str, Any]) -> None:
    alert = alert_row(
        id=1, source="监控", summary="数据库宕机", labels="{}", url=None, **values
    )
    ctx = WarningContext("zh-CN", TZ, NOW, playbook_title="系统出现故障", number="2026-0007")
    text, blocks = warning_message(alert, ctx)
    for shown in _shown_texts(text, blocks):
        words = re.sub(r":[a-z_]+:|<@U0ALERT1>|2026-0007|III|\d", "", shown)
        assert not re.search(r"[A-Za-z]", words), shown
    assert "预警" in text
    assert "监控" in resolved_note(alert, "zh-CN")
