"""Start-up checks: bad configuration, invalid playbooks and an unreachable database each stop
``epbot serve`` / ``epbot db upgrade`` at once with one clear line and a nonzero exit."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DB_PASSWORD = "startup-db-pass-4242"
BOT_TOKEN = "xoxb-4242-startup-bot-token"
SIGNING_SECRET = "startup-signing-secret-4242"


def _base_env(tmp_path: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("EPBOT_", "SLACK_"))}
    env.update(
        SLACK_BOT_TOKEN=BOT_TOKEN,
        SLACK_SIGNING_SECRET=SIGNING_SECRET,
        SLACK_API_URL="http://127.0.0.1:9/api/",  # never reached: start-up stops first
        EPBOT_DATABASE_URL=f"sqlite+aiosqlite:///{tmp_path / 'epbot.db'}",
        EPBOT_PLAYBOOKS_DIR=str(ROOT / "playbooks"),
        EPBOT_MATRIX=str(ROOT / "playbooks" / "matrix.yaml"),
        EPBOT_PORT=str(_closed_port()),
    )
    return env


def _closed_port() -> int:
    """A port nothing listens on (bound, then released)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _epbot(tmp_path: Path, env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "epbot", *args],
        cwd=tmp_path,  # no .env and no ./playbooks by accident
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def _one_message(result: subprocess.CompletedProcess[str]) -> str:
    """The single ``epbot: ...`` message; nothing else, no traceback."""
    assert result.stdout == ""
    assert "Traceback" not in result.stderr
    first, *details = result.stderr.splitlines()
    assert first.startswith("epbot: ")
    assert all(line.startswith("  ") for line in details)  # the same message, indented
    return result.stderr


def test_bad_configuration_stops_serve(tmp_path: Path) -> None:
    env = {**_base_env(tmp_path), "EPBOT_PORT": "not-a-port", "EPBOT_TIMEZONE": "Mars/Base"}
    result = _epbot(tmp_path, env, "serve")
    assert result.returncode == 2
    message = _one_message(result)
    assert "invalid configuration" in message
    assert "EPBOT_PORT" in message
    assert "EPBOT_TIMEZONE" in message


def test_missing_slack_credentials_stop_serve(tmp_path: Path) -> None:
    env = _base_env(tmp_path)
    del env["SLACK_SIGNING_SECRET"]
    result = _epbot(tmp_path, env, "serve")
    assert result.returncode == 2
    assert "SLACK_SIGNING_SECRET" in _one_message(result)


def test_a_bot_token_as_app_token_stops_serve(tmp_path: Path) -> None:
    # A common mistake: SLACK_APP_TOKEN set to the xoxb token (Slack would refuse every
    # Socket Mode connection, retried forever).
    env = {**_base_env(tmp_path), "SLACK_APP_TOKEN": BOT_TOKEN}
    result = _epbot(tmp_path, env, "serve")
    assert result.returncode == 2
    message = _one_message(result)
    assert "SLACK_APP_TOKEN" in message
    assert "xapp-" in message
    assert BOT_TOKEN not in message


def test_invalid_playbooks_stop_serve(tmp_path: Path) -> None:
    playbooks = tmp_path / "playbooks"
    playbooks.mkdir()
    (playbooks / "broken.yaml").write_text("id: broken\nstages: not-a-list\n", encoding="utf-8")
    env = {**_base_env(tmp_path), "EPBOT_PLAYBOOKS_DIR": str(playbooks)}
    result = _epbot(tmp_path, env, "serve")
    assert result.returncode == 2
    message = _one_message(result)
    assert "the playbooks do not validate" in message
    assert "broken.yaml" in message
    assert not (tmp_path / "epbot.db").exists()  # refused before touching the database


@pytest.mark.parametrize("command", [["serve"], ["db", "upgrade"]])
def test_unreachable_database_stops_start_up(tmp_path: Path, command: list[str]) -> None:
    port = _closed_port()
    url = f"postgresql+asyncpg://epbot:{DB_PASSWORD}@127.0.0.1:{port}/epbot"
    env = {**_base_env(tmp_path), "EPBOT_DATABASE_URL": url}
    started = time.monotonic()
    result = _epbot(tmp_path, env, *command)
    assert result.returncode == 3
    message = _one_message(result)
    assert message.startswith(
        f"epbot: cannot reach the database at postgresql+asyncpg://epbot:***@127.0.0.1:{port}"
        "/epbot: "
    )
    assert "refused" in message.lower()
    assert DB_PASSWORD not in result.stderr
    assert time.monotonic() - started < 15


@pytest.fixture
def silent_server() -> Iterator[int]:
    """A TCP port that accepts connections and never answers (a hung database)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen(8)
        yield int(sock.getsockname()[1])


def test_a_silent_database_times_out_in_seconds(tmp_path: Path, silent_server: int) -> None:
    url = f"postgresql+asyncpg://epbot:{DB_PASSWORD}@127.0.0.1:{silent_server}/epbot"
    env = {**_base_env(tmp_path), "EPBOT_DATABASE_URL": url}
    started = time.monotonic()
    result = _epbot(tmp_path, env, "db", "upgrade")
    elapsed = time.monotonic() - started
    assert result.returncode == 3
    assert "no answer within 5 s" in _one_message(result)
    assert 4 < elapsed < 15


def test_start_up_failure_is_one_json_record_under_json_logs(tmp_path: Path) -> None:
    port = _closed_port()
    env = {
        **_base_env(tmp_path),
        "EPBOT_DATABASE_URL": f"postgresql+asyncpg://epbot:{DB_PASSWORD}@127.0.0.1:{port}/x",
        "EPBOT_LOG_FORMAT": "json",
    }
    result = _epbot(tmp_path, env, "serve")
    assert result.returncode == 3
    assert result.stdout == ""
    (line,) = result.stderr.splitlines()
    record = json.loads(line)
    assert record["level"] == "CRITICAL"
    assert record["message"].startswith("cannot reach the database at ")
    assert DB_PASSWORD not in line


def test_a_reachable_database_is_migrated(tmp_path: Path) -> None:
    """The check lets a good database through: ``db upgrade`` succeeds and says so."""
    result = _epbot(tmp_path, _base_env(tmp_path), "db", "upgrade")
    assert result.returncode == 0, result.stderr
    assert "is at revision head" in result.stdout
    assert (tmp_path / "epbot.db").exists()
