"""Which Slack Web API methods a body of code calls, found by reading its source (ast)."""

from __future__ import annotations

import ast
from collections.abc import Iterable
from pathlib import Path

# slack_sdk helpers that call several Web API methods.
COMPOSITE = {"files_upload_v2": ("files.getUploadURLExternal", "files.completeUploadExternal")}


def called_methods(folders: Iterable[Path], names: frozenset[str]) -> set[str]:
    """Methods (out of ``names``) called as ``<client>.chat_postMessage(...)`` or
    ``api_call("chat.postMessage")`` in the ``*.py`` files under ``folders``."""
    found: set[str] = set()
    for folder in folders:
        for path in sorted(folder.rglob("*.py")):
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
                if not isinstance(node, ast.Call) or not isinstance(node.func, ast.Attribute):
                    continue
                attr = node.func.attr
                if attr in COMPOSITE:
                    found.update(COMPOSITE[attr])
                elif attr == "api_call" and node.args and isinstance(node.args[0], ast.Constant):
                    found.add(str(node.args[0].value))
                # slack_sdk spells apps.connections.open as apps_connections_open.
                elif "_" in attr and attr.replace("_", ".") in names:
                    found.add(attr.replace("_", "."))
    return found


def named_methods(folders: Iterable[Path], names: frozenset[str]) -> set[str]:
    """String literals under ``folders`` that are method names (handler tables, tier rules)."""
    found: set[str] = set()
    for folder in folders:
        for path in sorted(folder.rglob("*.py")):
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
                if isinstance(node, ast.Constant) and node.value in names:
                    found.add(str(node.value))
    return found
