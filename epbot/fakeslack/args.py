"""Arguments as the fake receives them, Slack's error answers, and the missing-argument rule."""

from __future__ import annotations

import contextlib
import json
from typing import Any

from epbot.fakeslack.reference import MethodRef

Args = dict[str, Any]

# Arguments that carry JSON. slack_sdk sends them as objects in JSON bodies and as
# JSON-encoded strings in form bodies or query strings; both are decoded on arrival so
# handlers and recorded calls see one shape.
JSON_ARGS = frozenset({"blocks", "attachments", "view", "metadata", "user_auth_blocks", "files"})


class SlackError(Exception):
    """An ``{"ok": false, "error": code}`` answer, with optional extra fields."""

    def __init__(self, code: str, *, status: int = 200, **extra: Any) -> None:
        super().__init__(code)
        self.code = code
        self.status = status
        self.extra = extra

    def body(self) -> dict[str, Any]:
        """The JSON body Slack would send."""
        return {"ok": False, "error": self.code, **self.extra}


def invalid_arguments(*messages: str) -> SlackError:
    """Slack's generic validation error, with its ``response_metadata.messages`` explanation."""
    return SlackError("invalid_arguments", response_metadata={"messages": list(messages)})


def decode_json_args(args: Args) -> Args:
    """Decode JSON-string values of :data:`JSON_ARGS`; leave undecodable strings as they are."""
    decoded = dict(args)
    for name in JSON_ARGS & decoded.keys():
        value = decoded[name]
        if isinstance(value, str) and value.strip():
            # An undecodable string stays a string; the handler answers the format error.
            with contextlib.suppress(ValueError):
                decoded[name] = json.loads(value)
    return decoded


def is_missing(args: Args, name: str) -> bool:
    """Slack treats an absent argument and an empty one alike."""
    return args.get(name) in (None, "")


def get_str(args: Args, name: str, default: str = "") -> str:
    """An argument as a string (numbers arrive as numbers in JSON bodies)."""
    value = args.get(name)
    if value is None:
        return default
    return value if isinstance(value, str) else str(value)


def get_bool(args: Args, name: str, *, default: bool = False) -> bool:
    """Booleans arrive as true/false, "true"/"false" or "1"/"0" depending on the transport."""
    value = args.get(name)
    if value is None or value == "":
        return default
    if isinstance(value, bool):
        return value
    return str(value).strip().lower() in {"1", "true", "yes"}


def get_int(args: Args, name: str, default: int) -> int:
    """An integer argument; garbage is ``invalid_arguments`` like Slack's schema check."""
    value = args.get(name)
    if value is None or value == "":
        return default
    try:
        return int(value)
    except (TypeError, ValueError):
        raise invalid_arguments(f"[ERROR] invalid type for field: {name}") from None


def get_list(args: Args, name: str) -> list[str]:
    """A comma-separated list (``users=U1,U2``) or a JSON array."""
    value = args.get(name)
    if value is None:
        return []
    if isinstance(value, list):
        return [str(v) for v in value if str(v)]
    return [part.strip() for part in str(value).split(",") if part.strip()]


# The missing-argument rule. Slack answers a missing required argument with the error that
# the method would give for a bad value of that argument, when the method documents one;
# otherwise with ``missing_argument`` where documented; otherwise with the common error
# ``invalid_arguments`` plus ``response_metadata.messages: ["[ERROR] missing required field:
# <arg>"]`` (what Slack's schema-checked methods, e.g. views.*, answer).
_SPECIFIC_CODES: dict[str, tuple[str, ...]] = {
    "channel": ("channel_not_found",),
    "name": ("invalid_name_required", "invalid_name"),
    "users": ("no_user", "users_list_not_supplied", "user_not_found"),
    "user": ("user_not_found",),
    "user_id": ("user_not_found",),
    "ts": ("message_not_found", "thread_not_found"),
    "message_ts": ("message_not_found",),
    "timestamp": ("no_item_specified", "message_not_found"),
    "text": ("no_text",),
}


def missing_argument_error(method: MethodRef, arg: str) -> SlackError:
    """The error Slack answers when ``arg`` is required by ``method`` but absent."""
    for code in _SPECIFIC_CODES.get(arg, ()):
        if code in method.errors:
            return SlackError(code)
    if "missing_argument" in method.errors:
        return SlackError("missing_argument")
    return invalid_arguments(f"[ERROR] missing required field: {arg}")


def first_missing(method: MethodRef, args: Args) -> str | None:
    """The first required argument (other than ``token``) that ``args`` lacks."""
    for name in method.required_args:
        if is_missing(args, name):
            return name
    return None
