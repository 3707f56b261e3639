"""The manifest asks for exactly the bot scopes the Web API calls in the code need."""

from __future__ import annotations

import ast
import json
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]
METHODS = ROOT.parent / "shared" / "slack-api-ref" / "methods"
SCANNED = [ROOT / "epbot" / "adapters" / "slack", ROOT / "handlers"]
# Scopes no Web API method needs: the slash command itself.
NON_METHOD_SCOPES = {"commands"}


def called_methods() -> set[str]:
    """Web API methods called as ``<client>.chat_postMessage(...)`` or ``api_call("...")``."""
    found: set[str] = set()
    for folder in SCANNED:
        for path in folder.glob("*.py"):
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
                if not isinstance(node, ast.Call) or not isinstance(node.func, ast.Attribute):
                    continue
                name = node.func.attr
                if name == "api_call" and node.args and isinstance(node.args[0], ast.Constant):
                    found.add(str(node.args[0].value))
                elif "_" in name and (METHODS / (name.replace("_", ".", 1) + ".json")).exists():
                    found.add(name.replace("_", ".", 1))
    return found


def manifest_scopes() -> set[str]:
    manifest = yaml.safe_load((ROOT / "manifest.yaml").read_text(encoding="utf-8"))
    return set(manifest["oauth_config"]["scopes"]["bot"])


def test_the_code_calls_the_methods_we_expect() -> None:
    assert {"chat.postMessage", "chat.update", "conversations.create", "views.open"} <= (
        called_methods()
    )


def test_manifest_scopes_cover_every_called_method() -> None:
    scopes = manifest_scopes()
    for method in sorted(called_methods()):
        ref = json.loads((METHODS / f"{method}.json").read_text(encoding="utf-8"))
        needed = (ref.get("scope") or {}).get("bot") or []
        assert not needed or scopes & set(needed), f"{method} needs one of {needed}"


def test_manifest_asks_for_nothing_more() -> None:
    used: set[str] = set(NON_METHOD_SCOPES)
    for method in called_methods():
        ref = json.loads((METHODS / f"{method}.json").read_text(encoding="utf-8"))
        used |= set((ref.get("scope") or {}).get("bot") or [])
    assert manifest_scopes() <= used, manifest_scopes() - used
