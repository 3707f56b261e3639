"""The container files, checked without a Docker engine.

No Docker daemon runs here, so the Dockerfile and docker-compose.yml are parsed and held to
their promises (stages, non-root user, health check, no build tools in the final stage,
paths that exist, variables epbot really reads), and the image's install path is replayed
for real: the wheel the build stage makes is installed into a fresh venv and run from
another folder with the final stage's files and environment.
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import sysconfig
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import yaml
from pydantic import AliasChoices

from epbot.config import Settings

ROOT = Path(__file__).resolve().parents[2]
BUILD_TOOLS = ("gcc", "g++", "build-essential", "make", "clang", "libpq-dev", "python3-dev")
# The only packages the final stage may take from apt: what WeasyPrint loads to lay out the
# PDF reports (Pango; HarfBuzz's subsetter keeps the embedded fonts small) and the CJK font
# they embed. Runtime libraries from Debian, so dpkg and image scanners know them.
RUNTIME_PACKAGES = {
    "libpango-1.0-0",
    "libpangoft2-1.0-0",
    "libharfbuzz-subset0",
    "fonts-wqy-microhei",
}
# What .ci/reports installs only for the docs' pictures, not for rendering.
DOCS_ONLY_PACKAGES = {"poppler-utils"}
# Read by epbot but outside Settings: Alembic's folder (epbot/adapters/db/migrate.py).
EXTRA_EPBOT_ENV = {"EPBOT_MIGRATIONS_DIR"}


def settings_env_names() -> set[str]:
    names = set()
    for name, info in Settings.model_fields.items():
        alias = info.validation_alias
        names.add(str(alias.choices[0]) if isinstance(alias, AliasChoices) else name.upper())
    return names


# --- a small Dockerfile reader ----------------------------------------------------------


@dataclass
class Stage:
    base: str
    name: str | None
    instructions: list[tuple[str, str]] = field(default_factory=list)

    def all(self, keyword: str) -> list[str]:
        return [args for kw, args in self.instructions if kw == keyword]

    def env(self) -> dict[str, str]:
        values: dict[str, str] = {}
        for args in self.all("ENV"):
            for item in shlex.split(args):
                key, _, value = item.partition("=")
                values[key] = value
        return values


def read_dockerfile(path: Path) -> tuple[dict[str, str], list[Stage]]:
    """Global ARG defaults and the stages, continuation lines joined, comments dropped."""
    text = re.sub(r"\\\n", " ", path.read_text(encoding="utf-8"))
    args: dict[str, str] = {}
    stages: list[Stage] = []
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        keyword, _, rest = line.partition(" ")
        keyword, rest = keyword.upper(), " ".join(rest.split())
        if keyword == "FROM":
            parts = rest.split()
            base = re.sub(r"\$\{(\w+)\}", lambda m: args[m.group(1)], parts[0])
            name = parts[2] if len(parts) == 3 and parts[1].upper() == "AS" else None
            stages.append(Stage(base, name))
        elif not stages and keyword == "ARG":
            key, _, default = rest.partition("=")
            args[key] = default
        else:
            stages[-1].instructions.append((keyword, rest))
    return args, stages


def copy_sources(stage: Stage) -> list[tuple[list[str], str]]:
    """(sources, destination) of each COPY from the build context (not ``--from``)."""
    copies = []
    for args in stage.all("COPY"):
        words = args.split()
        if any(word.startswith("--from") for word in words):
            continue
        paths = [word for word in words if not word.startswith("--")]
        copies.append((paths[:-1], paths[-1]))
    return copies


@pytest.fixture(scope="module")
def stages() -> list[Stage]:
    return read_dockerfile(ROOT / "Dockerfile")[1]


def test_the_image_is_built_in_stages(stages: list[Stage]) -> None:
    assert len(stages) >= 2
    build, final = stages[0], stages[-1]
    assert build.name == "build"
    assert final.base == "python:3.11-slim"
    assert any(f"--from={build.name}" in args for args in final.all("COPY"))
    assert any("pip wheel" in args for args in build.all("RUN"))


def apt_installs(stage: Stage) -> list[list[str]]:
    """The packages of each ``apt-get install`` in a stage's RUN instructions."""
    installs = []
    for args in stage.all("RUN"):
        for command in re.split(r"&&|;|\|\|", args):
            words = command.split()
            if words[:2] == ["apt-get", "install"]:
                installs.append([w for w in words[2:] if not w.startswith("-")])
    return installs


def test_the_final_stage_runs_as_a_user_without_build_tools(stages: list[Stage]) -> None:
    final = stages[-1]
    (user,) = final.all("USER")
    assert user.split(":")[0] not in ("root", "0")
    for args in final.all("RUN"):
        words = re.split(r"[\s;&|]+", args)
        assert "pip" not in words
        assert not set(BUILD_TOOLS) & set(words), args
        if "apt-get" in words:
            # apt only installs the PDF's runtime libraries and font: nothing recommended,
            # nothing upgraded or removed, and no package lists left in the image.
            commands = [c.split() for c in re.split(r"&&|;|\|\|", args) if "apt-get" in c]
            assert all(c[:2] in (["apt-get", "update"], ["apt-get", "install"]) for c in commands)
            assert "--no-install-recommends" in words, args
            assert "rm -rf /var/lib/apt/lists/*" in args, args
    packages = {p for install in apt_installs(final) for p in install}
    assert packages <= RUNTIME_PACKAGES, packages - RUNTIME_PACKAGES
    assert not any(p.endswith("-dev") for p in packages)


def test_the_final_stage_can_render_the_pdf_reports(stages: list[Stage]) -> None:
    """The image installs, as root before it drops to its user, what CI installs to render
    the PDF reports (.ci/reports), so `epbot report incident --format pdf` and
    `/incident report` work in the container."""
    final = stages[-1]
    ci = (ROOT / ".ci" / "reports").read_text(encoding="utf-8")
    (ci_line,) = [line for line in ci.splitlines() if "apt-get install" in line]
    needed = {w for w in ci_line.split("apt-get install", 1)[1].split() if w[0].isalpha()}
    needed = {w for w in needed if not w.startswith(">")} - DOCS_ONLY_PACKAGES
    assert {"libpango-1.0-0", "fonts-wqy-microhei"} <= needed  # what the parse found
    installed = {p for install in apt_installs(final) for p in install}
    assert needed <= installed, needed - installed
    order = [kw for kw, args in final.instructions if kw == "USER" or "apt-get" in args]
    assert order[-1] == "USER"  # apt runs as root, before the image drops to its user
    # The PDF's fonts are named in the report's stylesheet: the installed one comes first.
    css = (ROOT / "epbot" / "adapters" / "templates" / "report" / "incident.html.j2").read_text(
        encoding="utf-8"
    )
    assert re.search(r'body \{ font-family: "WenQuanYi Micro Hei"', css)


def test_the_final_stage_serves_on_all_interfaces_and_checks_health(stages: list[Stage]) -> None:
    final = stages[-1]
    env = final.env()
    assert env["EPBOT_HOST"] == "0.0.0.0"
    (healthcheck,) = final.all("HEALTHCHECK")
    assert "/healthz" in healthcheck
    assert "urllib.request" in healthcheck
    assert "curl" not in healthcheck
    (cmd,) = final.all("CMD")
    assert cmd == '["epbot", "serve"]'
    epbot_env = {name for name in env if name.startswith(("EPBOT_", "SLACK_"))}
    assert epbot_env <= settings_env_names() | EXTRA_EPBOT_ENV


def test_copied_paths_exist_and_the_context_keeps_them(stages: list[Stage]) -> None:
    ignore = (ROOT / ".dockerignore").read_text(encoding="utf-8").splitlines()
    kept = {line[1:].rstrip("/") for line in ignore if line.startswith("!")}
    assert "*" in ignore  # everything else stays out of the build context
    sources = [src for stage in stages for srcs, _ in copy_sources(stage) for src in srcs]
    assert {"migrations", "playbooks", "epbot", "pyproject.toml"} <= set(sources)
    for source in sources:
        assert (ROOT / source).exists(), source
        assert source in kept, f"{source} is copied but .dockerignore drops it"
    final = stages[-1]
    assert {src for srcs, _ in copy_sources(final) for src in srcs} == {"migrations", "playbooks"}


# --- the health check command -----------------------------------------------------------


def healthcheck_argv(stages: list[Stage]) -> list[str]:
    (healthcheck,) = stages[-1].all("HEALTHCHECK")
    command = healthcheck.split(" CMD ", 1)[1]
    argv = shlex.split(command)
    assert argv[0] == "python"
    return [sys.executable, *argv[1:]]


class _Health(BaseHTTPRequestHandler):
    status = 200

    def do_GET(self) -> None:
        self.send_response(self.status if self.path == "/healthz" else 404)
        self.end_headers()

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def health_server() -> Iterator[tuple[int, type[_Health]]]:
    handler = type("Health", (_Health,), {"status": 200})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server.server_address[1], handler
    server.shutdown()
    server.server_close()
    thread.join()


def test_the_health_check_command_passes_on_200_and_fails_otherwise(
    stages: list[Stage], health_server: tuple[int, type[_Health]]
) -> None:
    port, handler = health_server
    argv = healthcheck_argv(stages)

    def run(on_port: int) -> int:
        env = {**os.environ, "EPBOT_PORT": str(on_port)}
        return subprocess.run(argv, env=env, capture_output=True, timeout=30).returncode

    assert run(port) == 0
    handler.status = 503
    assert run(port) != 0
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        closed = sock.getsockname()[1]
    assert run(closed) != 0


# --- docker-compose.yml -----------------------------------------------------------------


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    data = yaml.safe_load((ROOT / "docker-compose.yml").read_text(encoding="utf-8"))
    assert isinstance(data, dict)
    return data


def test_compose_runs_epbot_after_a_healthy_postgres(compose: dict[str, Any]) -> None:
    services = compose["services"]
    postgres, epbot = services["postgres"], services["epbot"]
    assert postgres["image"] == "postgres:15"
    assert "pg_isready" in " ".join(postgres["healthcheck"]["test"])
    assert epbot["depends_on"]["postgres"]["condition"] == "service_healthy"
    assert epbot["build"] == "."
    volume = postgres["volumes"][0].split(":")[0]
    assert volume in compose["volumes"]
    assert postgres["volumes"][0].endswith(":/var/lib/postgresql/data")


def test_compose_sets_only_variables_epbot_reads(compose: dict[str, Any]) -> None:
    env = compose["services"]["epbot"]["environment"]
    assert set(env) <= settings_env_names()
    assert {"SLACK_BOT_TOKEN", "SLACK_SIGNING_SECRET", "EPBOT_DATABASE_URL"} <= set(env)
    pg_env = compose["services"]["postgres"]["environment"]
    url = env["EPBOT_DATABASE_URL"]
    assert url.startswith(f"postgresql+asyncpg://{pg_env['POSTGRES_USER']}:")
    assert url.endswith(f"@postgres:5432/{pg_env['POSTGRES_DB']}")
    secrets = [env["SLACK_BOT_TOKEN"], env["SLACK_SIGNING_SECRET"], pg_env["POSTGRES_PASSWORD"]]
    assert all(value.startswith("${") for value in secrets)  # from .env, never literal


# --- the image's install path, replayed without Docker ----------------------------------


def _run(argv: list[str], **kwargs: Any) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(argv, capture_output=True, text=True, timeout=300, **kwargs)
    assert result.returncode == 0, f"{argv}\n{result.stdout}\n{result.stderr}"
    return result


def test_the_built_wheel_migrates_checks_and_serves_from_elsewhere(
    stages: list[Stage], tmp_path: Path
) -> None:
    """Build stage: ``pip wheel`` + install into a venv. Final stage: its COPYs, its ENV,
    run from another folder: migrations, playbooks and templates must all be found."""
    started = time.monotonic()
    # The image sets no PYTHONPATH; a test run's (PYTHONPATH=$PWD) would put the source tree,
    # and its egg-info, before the wheel: pip would even skip installing it.
    outside = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    wheels = tmp_path / "wheels"
    _run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(wheels), str(ROOT)],
        env=outside,
    )
    (wheel,) = wheels.glob("epbot-*.whl")
    venv = tmp_path / "venv"
    _run([sys.executable, "-m", "venv", "--without-pip", str(venv)], env=outside)
    py = venv / "bin" / "python"
    install = ["install", "-q", "--no-deps", str(wheel)]
    _run([sys.executable, "-m", "pip", "--python", str(py), *install], env=outside)
    # Dependencies come from this environment; its editable epbot hook is not processed
    # (.pth files in a path added this way are ignored), so `import epbot` is the wheel.
    site = Path(
        _run(
            [str(py), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
            env=outside,
        ).stdout.strip()
    )
    (site / "deps.pth").write_text(sysconfig.get_paths()["purelib"] + "\n", encoding="utf-8")
    where = _run(
        [str(py), "-c", "import epbot; print(epbot.__file__)"], cwd=tmp_path, env=outside
    ).stdout
    assert where.startswith(str(site)), where

    final = stages[-1]
    (workdir,) = final.all("WORKDIR")
    app = tmp_path / "app"
    app.mkdir()
    for sources, destination in copy_sources(final):
        (source,) = sources  # COPY dir ./dir: the folder's contents land in ./dir
        shutil.copytree(ROOT / source, app / destination.removeprefix("./"))
    (app / "data").mkdir()
    env = {k: v for k, v in outside.items() if not k.startswith(("EPBOT_", "SLACK_"))}
    for key, value in final.env().items():
        env[key] = value.replace(workdir, str(app))
    env["PATH"] = f"{venv / 'bin'}:{os.environ['PATH']}"
    port = _free_port()
    env.update(
        EPBOT_HOST="127.0.0.1",
        EPBOT_PORT=str(port),
        SLACK_BOT_TOKEN="xoxb-wheel-test",
        SLACK_SIGNING_SECRET="wheel-test-secret",
        SLACK_API_URL="http://127.0.0.1:9/api/",
    )
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    epbot = str(venv / "bin" / "epbot")

    upgraded = _run([epbot, "db", "upgrade"], cwd=elsewhere, env=env)
    assert "is at revision head" in upgraded.stdout
    assert (app / "data" / "epbot.db").exists()
    _run([epbot, "playbooks", "check"], cwd=elsewhere, env=env)
    _run([epbot, "playbooks", "show", "db-crash"], cwd=elsewhere, env=env)
    # `epbot sandbox` in the image: the fake's Slack method reference is package data.
    probe = (
        "from epbot.fakeslack.reference import Reference, default_reference_dir; "
        "ref = Reference.load(); print(default_reference_dir()); "
        "print(len(ref), ref.get('chat.postMessage').rate_tier)"
    )
    where_ref, loaded = _run([str(py), "-c", probe], cwd=elsewhere, env=env).stdout.splitlines()
    assert where_ref.startswith(str(site)), where_ref
    count, tier = loaded.split()
    assert int(count) > 300
    assert tier == "t5"

    server = subprocess.Popen(
        [epbot, "serve"], cwd=elsewhere, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    try:
        argv = healthcheck_argv(stages)
        deadline = time.monotonic() + 30
        while subprocess.run(argv, env=env, capture_output=True, timeout=30).returncode != 0:
            assert server.poll() is None, server.communicate()
            assert time.monotonic() < deadline, "the health check never passed"
            time.sleep(0.2)
    finally:
        server.send_signal(signal.SIGTERM)
        _, stderr = server.communicate(timeout=30)
    assert b"Traceback" not in stderr, stderr.decode()
    elapsed = time.monotonic() - started
    assert elapsed < 120  # measured ~ a few seconds; a wild slowdown is worth a look


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])
