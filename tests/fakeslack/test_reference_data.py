"""The method reference vendored into the package, and the script that regenerates it."""

from __future__ import annotations

import fnmatch
import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from epbot.fakeslack.handlers import HANDLERS
from epbot.fakeslack.reference import VENDORED_DIR, Reference, default_reference_dir
from epbot.fakeslack.socket_mode import APP_LEVEL_METHODS
from tests.webapi_calls import called_methods, named_methods

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "scripts" / "vendor-slack-ref"
# Not called yet, but vendored for the work under way (files.uploadV2, lookups, modals).
EXPECTED_SOON = {
    "files.getUploadURLExternal",
    "files.completeUploadExternal",
    "users.info",
    "users.lookupByEmail",
    "views.open",
    "views.update",
    "views.push",
    "views.publish",
    "chat.postMessage",
    "chat.update",
    "chat.getPermalink",
    "conversations.create",
    "conversations.invite",
    "conversations.setTopic",
    "pins.add",
    "pins.remove",
    "auth.test",
    "apps.connections.open",
}


@pytest.fixture(scope="module")
def vendored() -> Reference:
    return Reference.load(VENDORED_DIR)


def test_the_package_data_is_the_default(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("EPBOT_SLACK_API_REF", raising=False)
    assert default_reference_dir() == VENDORED_DIR
    assert (VENDORED_DIR / "methods" / "methods.json").is_file()


def test_licence_and_origin_travel_with_the_data() -> None:
    licence = (VENDORED_DIR / "LICENSE.md").read_text(encoding="utf-8")
    assert "MIT License" in licence
    assert "Permission is hereby granted" in licence
    readme = (VENDORED_DIR / "README.md").read_text(encoding="utf-8")
    assert re.search(r"slack-ruby/slack-api-ref at commit [0-9a-f]{40}", readme)


def test_every_name_is_kept_and_only_the_selection_in_detail(vendored: Reference) -> None:
    assert len(vendored) > 300
    assert "no.such.method" not in vendored
    name_only = vendored.get("admin.apps.approve")
    assert name_only is not None
    assert not name_only.detailed
    assert name_only.needs_token
    patterns = [
        line.split("#", 1)[0].strip()
        for line in (VENDORED_DIR / "selection.txt").read_text(encoding="utf-8").splitlines()
    ]
    selected = {n for n in vendored.names if any(fnmatch.fnmatchcase(n, p) for p in patterns if p)}
    # A mismatch means someone edited the data or the selection without running the script.
    assert vendored.detailed_names == selected


def test_everything_the_code_uses_is_vendored_in_detail(vendored: Reference) -> None:
    folders = [ROOT / "epbot", ROOT / "handlers"]
    used = (
        called_methods(folders, vendored.names)
        | named_methods(folders, vendored.names)
        | set(HANDLERS)
        | APP_LEVEL_METHODS
        | EXPECTED_SOON
    )
    assert {"chat.postMessage", "views.open", "apps.connections.open"} <= used
    assert used - vendored.detailed_names == set(), "add them to selection.txt and re-vendor"
    post = vendored.get("chat.postMessage")
    assert post is not None
    assert post.detailed
    assert post.rate_tier == "t5"


def test_the_fake_tells_unknown_from_name_only_methods(vendored: Reference) -> None:
    assert vendored.get("bookmarks.list") is not None
    assert vendored.get("chat.postMessages") is None


# -- scripts/vendor-slack-ref ----------------------------------------------------------

COMMIT = "0123456789abcdef0123456789abcdef01234567"


def method_file(**fields: object) -> str:
    return json.dumps({"args": {"required": ["token"]}, "rate_limits": "t2", **fields})


@pytest.fixture
def source(tmp_path: Path) -> Path:
    """A small full copy: upstream's layout (methods/<family>/...), README and LICENSE."""
    src = tmp_path / "src"
    for name in ("chat.postMessage", "chat.update", "users.info", "admin.apps.approve"):
        family = src / "methods" / name.split(".")[0]
        family.mkdir(parents=True, exist_ok=True)
        (family / f"{name}.json").write_text(method_file(desc=name), encoding="utf-8")
    (src / "README.md").write_text(
        f"Taken from slack-ruby/slack-api-ref at commit {COMMIT} (2026-01-02).\n",
        encoding="utf-8",
    )
    (src / "LICENSE.md").write_text("MIT License\nthe notice\n", encoding="utf-8")
    return src


def run_script(src: Path, out: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(SCRIPT), str(src), "--out", str(out)],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )


def test_script_vendors_the_selection_verbatim(source: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    out.mkdir()
    (out / "selection.txt").write_text("chat.*   # messages\nusers.info\n", encoding="utf-8")
    (out / "methods").mkdir()
    (out / "methods" / "pins.add.json").write_text("{}", encoding="utf-8")  # no longer selected

    done = run_script(source, out)

    assert done.returncode == 0, done.stderr
    files = sorted(p.name for p in (out / "methods").iterdir())
    assert files == ["chat.postMessage.json", "chat.update.json", "methods.json", "users.info.json"]
    original = source / "methods" / "chat" / "chat.update.json"
    assert (out / "methods" / "chat.update.json").read_bytes() == original.read_bytes()
    index = json.loads((out / "methods" / "methods.json").read_text(encoding="utf-8"))
    assert len(index) == 4
    assert (out / "LICENSE.md").read_text(encoding="utf-8") == "MIT License\nthe notice\n"
    assert COMMIT in (out / "README.md").read_text(encoding="utf-8")
    loaded = Reference.load(out)
    assert loaded.names == {"chat.postMessage", "chat.update", "users.info", "admin.apps.approve"}
    assert loaded.detailed_names == {"chat.postMessage", "chat.update", "users.info"}
    assert run_script(source, out).returncode == 0  # a second run changes nothing
    assert sorted(p.name for p in (out / "methods").iterdir()) == files


@pytest.mark.parametrize(
    ("selection", "breakage", "message"),
    [
        ("chat.postMessages\n", None, "lacks: chat.postMessages"),
        ("chat.*\n", "LICENSE.md", "no LICENSE"),
        ("chat.*\n", "README.md", "cannot tell which commit"),
    ],
)
def test_script_refuses_a_bad_source_or_selection(
    source: Path, tmp_path: Path, selection: str, breakage: str | None, message: str
) -> None:
    out = tmp_path / "out"
    out.mkdir()
    (out / "selection.txt").write_text(selection, encoding="utf-8")
    if breakage:
        (source / breakage).unlink()
    done = run_script(source, out)
    assert done.returncode == 1
    assert message in done.stderr
    assert not (out / "methods").exists()
