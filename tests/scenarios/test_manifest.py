"""The manifest asks for exactly the bot scopes the Web API calls in the code need.

The scopes come from the method reference vendored into the package (the same data the fake
and the sandbox use), so this checks on any clone; a called method the vendored data does not
describe in detail is a failure, not a pass.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from epbot.fakeslack.reference import VENDORED_DIR, MethodRef, Reference
from tests.webapi_calls import called_methods

ROOT = Path(__file__).resolve().parents[2]
SCANNED = [ROOT / "epbot" / "adapters" / "slack", ROOT / "handlers"]
REFERENCE = Reference.load(VENDORED_DIR)
# Scopes no Web API method needs: the slash command itself.
NON_METHOD_SCOPES = {"commands"}
# Methods Slack documents as needing no scope at all (views.* act on a trigger_id or a user).
NO_SCOPE_METHODS = {"auth.test", "views.open", "views.publish", "views.push", "views.update"}


@pytest.fixture(scope="module")
def called() -> dict[str, MethodRef]:
    """Every method the bot calls, with its vendored reference entry."""
    found: dict[str, MethodRef] = {}
    for method in sorted(called_methods(SCANNED, REFERENCE.names)):
        ref = REFERENCE.get(method)
        assert ref is not None, f"{method} is not a Slack Web API method"
        assert ref.detailed, f"{method} is not vendored in detail: run scripts/vendor-slack-ref"
        found[method] = ref
    return found


def manifest_scopes() -> set[str]:
    manifest = yaml.safe_load((ROOT / "manifest.yaml").read_text(encoding="utf-8"))
    return set(manifest["oauth_config"]["scopes"]["bot"])


def test_the_code_calls_the_methods_we_expect(called: dict[str, MethodRef]) -> None:
    assert {"chat.postMessage", "chat.update", "conversations.create", "views.open"} <= set(called)


def test_manifest_scopes_cover_every_called_method(called: dict[str, MethodRef]) -> None:
    scopes = manifest_scopes()
    for method, ref in called.items():
        if method in NO_SCOPE_METHODS:
            assert not ref.bot_scopes, f"{method} now needs one of {ref.bot_scopes}"
            continue
        assert ref.bot_scopes, f"the reference names no bot scope for {method}"
        assert scopes & set(ref.bot_scopes), f"{method} needs one of {ref.bot_scopes}"


def test_manifest_asks_for_nothing_more(called: dict[str, MethodRef]) -> None:
    used: set[str] = set(NON_METHOD_SCOPES)
    for ref in called.values():
        used |= set(ref.bot_scopes)
    assert manifest_scopes() <= used, manifest_scopes() - used
