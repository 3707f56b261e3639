"""The method reference loader and the missing-argument rule."""

from __future__ import annotations

from pathlib import Path

import pytest

from epbot.fakeslack import Reference, default_reference_dir
from epbot.fakeslack.args import decode_json_args, get_bool, get_list, missing_argument_error


@pytest.fixture(scope="module")
def reference() -> Reference:
    return Reference.load()


def test_loads_every_method_file_but_the_index(reference: Reference) -> None:
    assert len(reference) > 300
    assert "methods" not in reference
    post = reference.get("chat.postMessage")
    assert post is not None
    assert post.required_args == ("channel",)
    assert post.needs_token
    assert "chat:write" in post.bot_scopes
    assert {"no_text", "not_in_channel", "invalid_blocks"} <= post.errors


def test_tiers_come_from_the_reference(reference: Reference) -> None:
    tiers = {name: reference.get(name) for name in ("conversations.create", "views.open")}
    assert tiers["conversations.create"] is not None
    assert tiers["conversations.create"].rate_tier == "t2"
    assert tiers["views.open"] is not None
    assert tiers["views.open"].rate_tier == "t4"


def test_env_var_overrides_the_default_directory(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    (tmp_path / "methods").mkdir()
    (tmp_path / "methods" / "x.only.json").write_text(
        '{"args": {"required": ["token", "a"]}, "rate_limits": "t1", "errors": {}}'
    )
    monkeypatch.setenv("EPBOT_SLACK_API_REF", str(tmp_path))
    assert default_reference_dir() == tmp_path
    loaded = Reference.load()
    assert loaded.names == frozenset({"x.only"})


def test_missing_directory_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="no Slack method reference"):
        Reference.load(tmp_path)


@pytest.mark.parametrize(
    ("method", "arg", "code"),
    [
        ("chat.postMessage", "channel", "channel_not_found"),
        ("conversations.create", "name", "invalid_name_required"),
        ("conversations.invite", "users", "no_user"),
        ("users.info", "user", "user_not_found"),
        ("pins.add", "timestamp", "no_item_specified"),
        ("chat.update", "ts", "message_not_found"),
        ("conversations.replies", "ts", "thread_not_found"),
        ("users.lookupByEmail", "email", "invalid_arguments"),
        ("views.open", "view", "invalid_arguments"),
    ],
)
def test_missing_argument_rule(reference: Reference, method: str, arg: str, code: str) -> None:
    ref = reference.get(method)
    assert ref is not None
    error = missing_argument_error(ref, arg)
    assert error.code == code
    if code == "invalid_arguments":
        assert error.body()["response_metadata"] == {
            "messages": [f"[ERROR] missing required field: {arg}"]
        }


def test_argument_helpers() -> None:
    args = decode_json_args({"blocks": '[{"type": "divider"}]', "view": "{not json", "x": "1"})
    assert args["blocks"] == [{"type": "divider"}]
    assert args["view"] == "{not json"
    assert get_bool({"a": "1", "b": "false", "c": True}, "a")
    assert not get_bool({"b": "false"}, "b")
    assert get_list({"users": "U1, U2,"}, "users") == ["U1", "U2"]
