"""Why epbot did not do what a person asked, in their language (``templates/*/errors.j2``).

A domain error is a code and its parameters; this module turns it (or an unknown playbook,
a warning that is gone, a button epbot does not know) into the text of the person's
ephemeral reply, and gives the modal field errors. The same macro renders a refusal on the
incident's timeline (``event.j2``), so the two never say different things.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Mapping
from typing import Any

from jinja2 import Environment, PackageLoader, StrictUndefined

from epbot.adapters.slack import alert_render
from epbot.adapters.slack.client import CallFailure
from epbot.adapters.slack.mrkdwn import escape
from epbot.domain.errors import DomainError
from epbot.services.alerts import AlertProblem
from epbot.services.incidents import UnknownPlaybook

# AlertProblem codes -> keys of the warning's words (alert_warning.j2).
_ALERT_WORDS = {
    "dismissed": "dismissed_already",
    "declared": "declared_already",
    "reason_required": "reason_required",
}


# Web API failures that only mean "not now": our pacing, or Slack's 429.
_BUSY = frozenset({"paced", "ratelimited"})


class Unsupported(Exception):
    """A request epbot cannot act on: a button or form it does not know, or a bad value."""


def _lang(locale: str) -> str:
    return "en" if locale.lower().startswith("en") else "zh-CN"


@functools.cache
def _module(lang: str) -> Any:
    env = Environment(
        loader=PackageLoader("epbot", "adapters/templates"),
        undefined=StrictUndefined,
        autoescape=False,  # mrkdwn, not HTML: the macro escapes each parameter
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["mrkdwn"] = lambda value: escape("" if value is None else str(value))
    return env.get_template(f"{lang}/errors.j2").module


def message(code: str, params: Mapping[str, Any], locale: str) -> str:
    """The text of refusal ``code`` with its (plain or bilingual) parameters."""
    return str(_module(_lang(locale)).message(code, dict(params))).strip()


def texts(locale: str) -> dict[str, str]:
    """Every refusal's text with its ``{name}`` blanks, by code (for tests)."""
    return dict(_module(_lang(locale)).errors)


def field_error(kind: str, locale: str) -> str:
    """A modal field's error: ``required``, ``future``, ``phone`` or ``playbook``."""
    text: str = _module(_lang(locale)).fields[kind]
    return text


def explain(error: BaseException, locale: str) -> str | None:
    """The reply for a refusal, or None when ``error`` is not one (then it is a fault)."""
    if isinstance(error, DomainError):
        return message(error.code.value, error.plain_params(), locale)
    if isinstance(error, UnknownPlaybook):
        return message("unknown_playbook", {"name": error.name}, locale)
    if isinstance(error, Unsupported):
        return message("unsupported", {}, locale)
    if isinstance(error, CallFailure) and error.error in _BUSY:
        # Slack's rate limit (or ours, kept to stay inside it): say when to try again.
        seconds = max(1, math.ceil(error.retry_after or 1))
        return message("slack_busy", {"seconds": seconds}, locale)
    if isinstance(error, AlertProblem):
        words = alert_render.texts(locale)
        text = words[_ALERT_WORDS.get(error.code, "unknown")]
        return text.format(by=escape(str(error.details.get("by", ""))))
    return None
