"""The README's Quickstart on a fresh clone with nothing beside it (issue 11).

Clones the committed HEAD into an empty temporary folder and runs ``./scripts/run sandbox``
there, as a new user would, with none of our environment variables set: it must install
into the clone's own .venv and serve the sandbox. Slow-ish (a venv and a pip install, from
pip's cache when warm).
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
START_WITHIN = 150.0  # seconds: venv + pip install + start-up


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def clean_env() -> dict[str, str]:
    """The caller's environment without our variables and without this checkout's venv."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("EPBOT_", "SLACK_"))
        and k not in {"VIRTUAL_ENV", "PYTHONPATH", "PYTHONHOME"}
    }
    path = env.get("PATH", "").split(os.pathsep)
    env["PATH"] = os.pathsep.join(p for p in path if p and not Path(p).is_relative_to(ROOT))
    return env


@pytest.fixture
def clone(tmp_path: Path) -> Path:
    if not (ROOT / ".git").exists() or shutil.which("git") is None:
        pytest.skip("needs a git checkout and git")
    target = tmp_path / "epbot"
    subprocess.run(
        ["git", "clone", "--quiet", "--no-hardlinks", str(ROOT), str(target)],
        check=True,
        timeout=60,
    )
    assert sorted(p.name for p in tmp_path.iterdir()) == ["epbot"]  # nothing beside it
    return target


@pytest.fixture
def started(clone: Path, tmp_path: Path) -> Iterator[tuple[subprocess.Popen[bytes], int, Path]]:
    port = free_port()
    log = tmp_path / "run.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            ["./scripts/run", "sandbox", "--port", str(port)],
            cwd=clone,
            env=clean_env(),
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group: stop pip or epbot, whichever runs
        )
    try:
        yield proc, port, log
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(timeout=5)


def get(url: str, data: bytes | None = None) -> tuple[int, bytes]:
    request = urllib.request.Request(url, data=data)
    with urllib.request.urlopen(request, timeout=5) as response:
        return int(response.status), response.read()


def test_scripts_run_serves_the_sandbox_on_a_bare_clone(
    started: tuple[subprocess.Popen[bytes], int, Path],
) -> None:
    proc, port, log = started
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + START_WITHIN
    status, page = 0, b""
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            pytest.fail(f"scripts/run exited with {proc.returncode}:\n{log.read_text()[-3000:]}")
        try:
            status, page = get(f"{base}/")
            break
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            time.sleep(0.5)
    else:
        pytest.fail(f"no answer within {START_WITHIN:.0f}s:\n{log.read_text()[-3000:]}")

    assert status == 200
    assert b"<title>epbot sandbox</title>" in page
    # The emulated Web API answers from the reference vendored into the package.
    status, body = get(f"{base}/api/no.such.method", data=b"")
    assert status == 200
    assert json.loads(body)["error"] == "unknown_method"
