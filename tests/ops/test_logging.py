"""Logs: JSON lines with request context, and no token or signing secret anywhere.

The unit tests drive the formatter and the redaction filter directly; the end-to-end test
runs a real ``epbot serve`` at DEBUG level against the fake Slack, sends it signed
requests (one with a bad signature that carries the secrets in its body, one that makes a
listener fail) and reads every byte it printed.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import signal
import socket
import sys
import time
import warnings
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from epbot.adapters.slack.app import build_app
from epbot.adapters.slack.client import SlackClient
from epbot.config import Settings
from epbot.fakeslack import FakeSlack
from epbot.fakeslack.signing import FORM, post_signed, signed_headers, slash_command
from epbot.logs import (
    REDACTED,
    JsonFormatter,
    LogLines,
    RedactSecrets,
    TextFormatter,
    bolt_log_context,
    configure_logging,
    log_context,
    secrets_of,
    slack_request_id,
)

ROOT = Path(__file__).resolve().parents[2]
BOT_TOKEN = "xoxb-4242-0000-LoggingTestBotToken"
SIGNING_SECRET = "c0ffee5ecret0f7he5igning0key4242"
APP_TOKEN = "xapp-1-A0000-4242-LoggingTestAppToken"
DB_PASSWORD = "pg-pass-4242"
USER_TOKEN = "xoxp-1111-2222-pasted-user-token"


def _record(msg: str, *args: object, exc: BaseException | None = None) -> logging.LogRecord:
    exc_info = (type(exc), exc, exc.__traceback__) if exc is not None else None
    return logging.LogRecord("epbot.test", logging.ERROR, __file__, 1, msg, args, exc_info)


def _raised(message: str) -> BaseException:
    try:
        raise RuntimeError(message)
    except RuntimeError as exc:
        return exc


# --- the redaction filter ------------------------------------------------------------


def test_redaction_covers_message_args_exception_and_context() -> None:
    redact = RedactSecrets([BOT_TOKEN, SIGNING_SECRET])
    record = _record(
        "calling with %s and %r", BOT_TOKEN, {"secret": SIGNING_SECRET}, exc=_raised(BOT_TOKEN)
    )
    record.slack_request_id = f"id-{SIGNING_SECRET}"
    assert redact.filter(record)
    line = JsonFormatter().format(record)
    assert BOT_TOKEN not in line
    assert SIGNING_SECRET not in line
    data = json.loads(line)
    assert data["message"] == f"calling with {REDACTED} and {{'secret': '{REDACTED}'}}"
    assert f"RuntimeError: {REDACTED}" in data["exception"]
    assert data["slack_request_id"] == f"id-{REDACTED}"
    assert record.args is None


def test_token_shaped_strings_are_redacted_even_when_unknown() -> None:
    redact = RedactSecrets([])
    text = f"user pasted {USER_TOKEN}, {APP_TOKEN} and xoxb-9-other; keep xoxo and xapp"
    assert redact.redact(text) == (
        f"user pasted {REDACTED}, {REDACTED} and {REDACTED}; keep xoxo and xapp"
    )


def test_a_longer_secret_containing_a_shorter_one_goes_whole() -> None:
    redact = RedactSecrets(["abc", "abcdef-long"])
    assert redact.redact("x abcdef-long y abc") == f"x {REDACTED} y {REDACTED}"


def test_secrets_of_settings_include_every_credential_and_the_database_password() -> None:
    settings = Settings(
        slack_bot_token=BOT_TOKEN,
        slack_signing_secret=SIGNING_SECRET,
        slack_app_token=APP_TOKEN,
        database_url=f"postgresql+asyncpg://epbot:{DB_PASSWORD}@db:5432/epbot",
    )
    assert sorted(secrets_of(settings)) == sorted(
        [BOT_TOKEN, SIGNING_SECRET, APP_TOKEN, DB_PASSWORD]
    )
    assert secrets_of(Settings()) == []


def test_a_record_with_bad_arguments_is_still_logged_redacted() -> None:
    record = _record("two %s %s", BOT_TOKEN)  # one argument short
    assert RedactSecrets([BOT_TOKEN]).filter(record)
    assert BOT_TOKEN not in record.getMessage()
    assert "unformattable" in record.getMessage()


# --- formatters and context ----------------------------------------------------------


@pytest.fixture
def configured(capsys: pytest.CaptureFixture[str]) -> Iterator[None]:
    """configure_logging(JSON) for one test, then the root logger as it was."""
    root = logging.getLogger()
    level = root.level
    settings = Settings(
        slack_bot_token=BOT_TOKEN, slack_signing_secret=SIGNING_SECRET, log_format="json"
    )
    handler = configure_logging(settings, install_hooks=False)
    try:
        yield
    finally:
        root.removeHandler(handler)
        root.setLevel(level)
        logging.captureWarnings(False)


def _lines(text: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def test_json_lines_carry_context_fields(
    configured: None, capsys: pytest.CaptureFixture[str]
) -> None:
    log = logging.getLogger("epbot.test")
    with log_context(incident_id="2026-0007"):
        with log_context(slack_request_id="Ev0001"):
            log.warning("paging %s", "U1")
        log.info("after the request")
    log.info("outside")
    try:
        raise ValueError(f"bad token {BOT_TOKEN}")
    except ValueError:
        log.exception("failed")
    lines = _lines(capsys.readouterr().err)
    assert [line["message"] for line in lines] == [
        "paging U1",
        "after the request",
        "outside",
        "failed",
    ]
    first = lines[0]
    assert first["level"] == "WARNING"
    assert first["logger"] == "epbot.test"
    assert first["incident_id"] == "2026-0007"
    assert first["slack_request_id"] == "Ev0001"
    assert first["ts"].endswith("+00:00")
    assert "slack_request_id" not in lines[1]
    assert lines[1]["incident_id"] == "2026-0007"
    assert "incident_id" not in lines[2]
    assert "ValueError: bad token [REDACTED]" in lines[3]["exception"]


def test_python_warnings_become_json_records(
    configured: None, capsys: pytest.CaptureFixture[str]
) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("always")
        warnings.warn(f"deprecated, token {BOT_TOKEN}", UserWarning, stacklevel=1)
    (line,) = _lines(capsys.readouterr().err)
    assert line["logger"] == "py.warnings"
    assert BOT_TOKEN not in json.dumps(line)


def test_log_lines_turn_writes_into_records(
    configured: None, capsys: pytest.CaptureFixture[str]
) -> None:
    stream = LogLines("epbot")
    stream.write("epbot: listening on http://0.0.0.0:3000/slack/events\npartial")
    stream.write(" line\n\n")
    stream.write("unterminated")
    stream.flush()
    messages = [line["message"] for line in _lines(capsys.readouterr().err)]
    assert messages == [
        "epbot: listening on http://0.0.0.0:3000/slack/events",
        "partial line",
        "unterminated",
    ]


def test_text_format_shows_context_and_trace() -> None:
    record = _record("failed", exc=_raised("boom"))
    record.incident_id = "2026-0001"
    text = TextFormatter().format(record)
    first, *rest = text.splitlines()
    assert first.endswith("ERROR epbot.test: failed [incident_id=2026-0001]")
    assert rest[-1] == "RuntimeError: boom"


def test_slack_request_id_prefers_slack_own_ids() -> None:
    assert slack_request_id({"event_id": "Ev1", "trigger_id": "t"}) == "Ev1"
    assert slack_request_id({"trigger_id": "123.456.abc"}) == "123.456.abc"
    assert slack_request_id({"view": {"id": "V1", "hash": "h"}}) == "V1:h"
    assert slack_request_id({}) is None


async def test_bolt_middleware_binds_the_request_id_for_the_listener(
    configured: None, capsys: pytest.CaptureFixture[str]
) -> None:
    """A real Bolt app: the listener runs after ack, in its own task, and still has the id."""
    async with FakeSlack(bot_token=BOT_TOKEN) as fake:
        client = SlackClient(BOT_TOKEN, base_url=fake.url)
        app = build_app(client=client, signing_secret=SIGNING_SECRET)
        app.use(bolt_log_context)
        done = asyncio.Event()

        async def incident(ack: Any, command: dict[str, Any]) -> None:
            await ack()
            logging.getLogger("epbot.handler").info("handling %s", command["text"])
            done.set()

        app.command("/incident")(incident)
        from slack_bolt.request.async_request import AsyncBoltRequest

        body = slash_command(text="help", user_id="U1", channel_id="C1", trigger_id="777.888.x")
        headers = signed_headers(SIGNING_SECRET, body, retry_num=2)
        response = await app.async_dispatch(AsyncBoltRequest(body=body, headers=headers))
        assert response.status == 200
        await asyncio.wait_for(done.wait(), 5)
    lines = _lines(capsys.readouterr().err)
    handled = [line for line in lines if line["logger"] == "epbot.handler"]
    assert handled == [
        {
            **handled[0],
            "message": "handling help",
            "slack_request_id": "777.888.x",
            "slack_retry_num": "2",
        }
    ]


# --- a real server ------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Output:
    """Everything a subprocess prints, collected line by line as it arrives."""

    def __init__(self, process: asyncio.subprocess.Process) -> None:
        assert process.stdout is not None
        assert process.stderr is not None
        self.process = process
        self.stdout: list[str] = []
        self.stderr: list[str] = []
        self._pumps = [
            asyncio.create_task(self.pump(process.stdout, self.stdout)),
            asyncio.create_task(self.pump(process.stderr, self.stderr)),
        ]

    async def stop(self) -> int:
        """SIGTERM the process (if running), read it to the end; its exit code."""
        if self.process.returncode is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                await asyncio.wait_for(self.process.wait(), 20)
            except TimeoutError:
                self.process.kill()
                await self.process.wait()
        await asyncio.gather(*self._pumps)
        assert self.process.returncode is not None
        return self.process.returncode

    async def pump(self, stream: asyncio.StreamReader, into: list[str]) -> None:
        while line := await stream.readline():
            into.append(line.decode("utf-8", errors="replace"))

    def records(self) -> list[dict[str, Any]]:
        return [json.loads(line) for line in self.stdout + self.stderr if line.strip()]

    async def wait_for(self, predicate: Any, within: float = 15.0) -> dict[str, Any]:
        deadline = time.monotonic() + within
        while time.monotonic() < deadline:
            for record in self.records():
                if predicate(record):
                    return record
            await asyncio.sleep(0.05)
        raise AssertionError("no such log record; got:\n" + "".join(self.stderr[-30:]))


@pytest.fixture
async def served(tmp_path: Path) -> AsyncIterator[tuple[FakeSlack, str, Output]]:
    """``epbot serve`` (JSON logs, DEBUG) on a free port, talking to a fake Slack."""
    async with FakeSlack(bot_token=BOT_TOKEN) as fake:
        port = _free_port()
        env = {
            **os.environ,
            "SLACK_BOT_TOKEN": BOT_TOKEN,
            "SLACK_SIGNING_SECRET": SIGNING_SECRET,
            "SLACK_API_URL": fake.url,
            "EPBOT_DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'epbot.db'}",
            "EPBOT_PLAYBOOKS_DIR": str(ROOT / "playbooks"),
            "EPBOT_MATRIX": str(ROOT / "playbooks" / "matrix.yaml"),
            "EPBOT_PORT": str(port),
            "EPBOT_LOG_FORMAT": "json",
            "EPBOT_LOG_LEVEL": "DEBUG",
        }
        env.pop("SLACK_APP_TOKEN", None)
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "epbot",
            "serve",
            cwd=tmp_path,
            env=env,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        output = Output(process)
        base = f"http://127.0.0.1:{port}"
        try:
            await _wait_healthy(base, process)
            yield fake, base, output
        finally:
            await output.stop()


async def _wait_healthy(base: str, process: asyncio.subprocess.Process) -> None:
    deadline = time.monotonic() + 30
    async with aiohttp.ClientSession() as session:
        while time.monotonic() < deadline:
            if process.returncode is not None:
                raise AssertionError(f"epbot serve exited with {process.returncode}")
            with contextlib.suppress(aiohttp.ClientError):
                async with session.get(f"{base}/healthz") as response:
                    if response.status == 200:
                        return
            await asyncio.sleep(0.1)
    raise AssertionError("epbot serve did not become healthy within 30 s")


async def test_serve_logs_json_lines_without_any_secret(
    served: tuple[FakeSlack, str, Output],
) -> None:
    fake, base, output = served
    url = f"{base}/slack/events"
    user = fake.workspace.add_user("reporter")
    channel = fake.workspace.add_channel("general", members=[user.id])
    leaky = f"my token is {BOT_TOKEN}, secret {SIGNING_SECRET}, user {USER_TOKEN}"
    async with aiohttp.ClientSession() as session:
        # 1. a good request whose text carries the secrets (Bolt logs bodies at DEBUG)
        body = slash_command(text=f"help {leaky}", user_id=user.id, channel_id=channel.id)
        async with await post_signed(session, url, body, FORM, SIGNING_SECRET) as response:
            assert response.status == 200
        # 2. a bad signature: Bolt logs the rejected body, secrets and all, at INFO
        body = slash_command(text=leaky, user_id=user.id, channel_id=channel.id)
        headers = signed_headers("not-the-secret", body)
        async with session.post(url, data=body.encode(), headers=headers) as response:
            assert response.status == 401
        # 3. a listener that fails: Slack keeps refusing views.open (a transient error is
        # retried for a couple of seconds first), and the failure is logged
        fake.inject_failure("views.open", status="internal_error", times=50)
        body = slash_command(text="", user_id=user.id, channel_id=channel.id)
        # Not asserting the status: when the listener fails within Bolt's 10 ms ack poll,
        # Bolt 1.30 overwrites the ack and answers 404 after 3 s. The log is the point here.
        response = await post_signed(session, url, body, FORM, SIGNING_SECRET)
        response.release()

        rejected = await output.wait_for(
            lambda r: "Invalid request signature" in r.get("message", "")
        )
        assert REDACTED in rejected["message"]
        failed = await output.wait_for(lambda r: r["level"] == "ERROR")
        assert "views.open" in failed["message"] + failed.get("exception", "")

    await output.stop()  # shutdown logs count too
    raw = "".join(output.stdout + output.stderr)
    for secret in (BOT_TOKEN, SIGNING_SECRET, USER_TOKEN):
        assert secret not in raw
    records = output.records()  # raises if any line is not JSON
    assert all({"ts", "level", "logger", "message"} <= record.keys() for record in records)
    assert any("listening on" in record["message"] for record in records)
    assert any(record["logger"].startswith("slack_sdk") for record in records)  # DEBUG ran


def test_secrets_are_redacted_in_their_encoded_forms_too() -> None:
    secret = 'a+b/c"d'
    redact = RedactSecrets([secret])
    assert redact.redact("text=a%2Bb%2Fc%22d&x=1") == f"text={REDACTED}&x=1"
    assert redact.redact(json.dumps({"t": secret})) == f'{{"t": "{REDACTED}"}}'
