"""A real Prometheus Alertmanager (Debian's prometheus-alertmanager) sends to the bot.

Alertmanager runs on a free loopback port with a temporary configuration and storage, no
clustering, and a webhook receiver pointing at the bot with a bearer token. An alert is
pushed with Alertmanager's API v2, repeated by Alertmanager itself (short group and repeat
intervals), then resolved: the alerts channel ends with one warning, shown resolved.

Skipped when the binary is missing, unless CI (``CI=true``): then it fails.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import shutil
import socket
import subprocess
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from epbot.fakeslack import FakeSlack
from tests.scenarios.alerting import NAMED_TOKEN, AlertHarness, start

BINARY = shutil.which("prometheus-alertmanager") or shutil.which("alertmanager")
IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")

CONFIG = """
route:
  receiver: epbot
  group_by: [alertname, instance]
  group_wait: 0s
  group_interval: 1s
  repeat_interval: 2s
receivers:
  - name: epbot
    webhook_configs:
      - url: {url}
        send_resolved: true
        http_config:
          authorization:
            type: Bearer
            credentials: {token}
"""


@pytest.fixture
def binary() -> str:
    if BINARY is None:
        if IN_CI:
            pytest.fail("prometheus-alertmanager is required in CI (.ci/alertmanager installs it)")
        pytest.skip("prometheus-alertmanager is not installed (.ci/alertmanager installs it)")
    return BINARY


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextlib.contextmanager
def running_alertmanager(binary: str, tmp: Path, webhook: str) -> Iterator[str]:
    port = free_port()
    config = tmp / "alertmanager.yml"
    config.write_text(CONFIG.format(url=webhook, token=NAMED_TOKEN), encoding="utf-8")
    (tmp / "data").mkdir()
    log = (tmp / "alertmanager.log").open("wb")
    process = subprocess.Popen(
        [
            binary,
            f"--config.file={config}",
            f"--storage.path={tmp / 'data'}",
            f"--web.listen-address=127.0.0.1:{port}",
            "--cluster.listen-address=",
            "--log.level=debug",
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        log.close()


@pytest.fixture
async def alerting(database_url: str, fake: FakeSlack) -> AsyncIterator[AlertHarness]:
    async for harness in start(database_url, fake):
        yield harness


async def wait_ready(session: aiohttp.ClientSession, base: str, log: Path) -> None:
    for _ in range(200):
        with contextlib.suppress(aiohttp.ClientError):
            async with session.get(f"{base}/-/ready") as response:
                if response.status == 200:
                    return
        await asyncio.sleep(0.05)
    text = await asyncio.to_thread(log.read_text, errors="replace")
    raise AssertionError("alertmanager did not start:\n" + text)


async def push(session: aiohttp.ClientSession, base: str, alert: dict[str, Any]) -> None:
    async with session.post(f"{base}/api/v2/alerts", json=[alert]) as response:
        assert response.status == 200, await response.text()


async def test_real_alertmanager_fires_repeats_and_resolves_one_warning(
    binary: str, alerting: AlertHarness, tmp_path: Path
) -> None:
    webhook = f"{alerting.base}/alerts/alertmanager"
    now = datetime.now(UTC)
    alert: dict[str, Any] = {
        "labels": {"alertname": "HostDown", "instance": "app-1:9100", "job": "node"},
        "annotations": {"summary": "app-1 <!channel> does not answer"},
        "startsAt": (now - timedelta(minutes=1)).isoformat(),
        "generatorURL": "http://prometheus:9090/graph?g0.expr=up%3D%3D0",
    }
    with running_alertmanager(binary, tmp_path, webhook) as base:
        await wait_ready(alerting.session, base, tmp_path / "alertmanager.log")
        await push(alerting.session, base, alert)

        async def repeated() -> Any:
            rows = await alerting.alerts()
            return rows if rows and rows[0].count >= 2 else None

        rows = await alerting.eventually(repeated, within=30)
        assert len(rows) == 1  # repeats never open a second alert
        await alerting.deliver_alerts()
        assert len(alerting.warnings()) == 1

        resolved = {**alert, "endsAt": datetime.now(UTC).isoformat()}
        await push(alerting.session, base, resolved)

        async def ended() -> Any:
            rows = await alerting.alerts()
            return rows if rows and rows[0].status == "resolved" else None

        (row,) = await alerting.eventually(ended, within=30)
    assert row.source == "prometheus"
    assert row.kind == "alertmanager"
    assert row.live_key is None
    await alerting.deliver_alerts()
    (warning,) = alerting.warnings()
    shown = json.dumps(warning.blocks, ensure_ascii=False)
    assert "Resolved" in shown
    assert "<!channel>" not in shown
    assert "&lt;!channel&gt;" in shown
    assert len(alerting.fake.calls_to("chat.postMessage")) == 1
