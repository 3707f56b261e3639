"""Slack's Web API method reference, loaded from the JSON files in ``../shared/slack-api-ref``."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ENV_VAR = "EPBOT_SLACK_API_REF"
_INDEX_FILE = "methods.json"  # the catalogue of all methods, not a method file


@dataclass(frozen=True)
class MethodRef:
    """What the reference says about one Web API method."""

    name: str
    required: tuple[str, ...]
    properties: frozenset[str]
    bot_scopes: tuple[str, ...]
    rate_tier: str
    errors: frozenset[str]
    json_input_supported: bool
    output: dict[str, Any]

    @property
    def needs_token(self) -> bool:
        """True unless the method is one of the few (oauth.*) that take no token."""
        return "token" in self.required

    @property
    def required_args(self) -> tuple[str, ...]:
        """Required arguments other than ``token`` (which travels in a header)."""
        return tuple(arg for arg in self.required if arg != "token")


def _as_dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def parse_method(name: str, data: dict[str, Any]) -> MethodRef:
    """Build a MethodRef from one method file's JSON."""
    args = _as_dict(data.get("args"))
    scope = _as_dict(data.get("scope"))
    tier = data.get("rate_limits")
    return MethodRef(
        name=name,
        required=tuple(args.get("required") or ()),
        properties=frozenset(_as_dict(args.get("properties"))),
        bot_scopes=tuple(scope.get("bot") or ()),
        # Missing or free-text tiers fall back to tier 3, Slack's most common tier.
        rate_tier=tier if isinstance(tier, str) and tier in _TIERS else "t3",
        errors=frozenset(_as_dict(data.get("errors"))),
        json_input_supported=bool(data.get("json_input_supported")),
        output=_as_dict(data.get("output")),
    )


_TIERS = frozenset({"t1", "t2", "t3", "t4", "t5"})


class Reference:
    """All methods of the reference, by name."""

    def __init__(self, methods: dict[str, MethodRef]) -> None:
        self._methods = dict(methods)

    @classmethod
    def load(cls, directory: Path | str | None = None) -> Reference:
        """Load ``<directory>/methods/*.json`` (default: see :func:`default_reference_dir`)."""
        root = Path(directory) if directory is not None else default_reference_dir()
        methods_dir = root / "methods"
        if not methods_dir.is_dir():
            raise FileNotFoundError(f"no Slack method reference at {methods_dir}")
        methods: dict[str, MethodRef] = {}
        for path in sorted(methods_dir.glob("*.json")):
            if path.name == _INDEX_FILE:
                continue
            name = path.name.removesuffix(".json")
            data = json.loads(path.read_text(encoding="utf-8"))
            if isinstance(data, dict):
                methods[name] = parse_method(name, data)
        return cls(methods)

    def get(self, name: str) -> MethodRef | None:
        """The method, or None when Slack has no such method."""
        return self._methods.get(name)

    def __contains__(self, name: object) -> bool:
        return name in self._methods

    def __len__(self) -> int:
        return len(self._methods)

    @property
    def names(self) -> frozenset[str]:
        """Every method name in the reference."""
        return frozenset(self._methods)


def default_reference_dir() -> Path:
    """``$EPBOT_SLACK_API_REF``, else ``shared/slack-api-ref`` next to the repository or cwd."""
    env = os.environ.get(ENV_VAR)
    if env:
        return Path(env)
    candidates = [
        Path(__file__).resolve().parents[2] / ".." / "shared" / "slack-api-ref",
        Path.cwd() / ".." / "shared" / "slack-api-ref",
        Path.cwd() / "shared" / "slack-api-ref",
    ]
    for candidate in candidates:
        if (candidate / "methods").is_dir():
            return candidate.resolve()
    raise FileNotFoundError(
        f"Slack method reference not found; set {ENV_VAR} (tried: "
        + ", ".join(str(c) for c in candidates)
        + ")"
    )
