"""mrkdwn helpers: escaping user text, mentions and Block Kit length limits."""

from __future__ import annotations

import re

# Block Kit limits (https://api.slack.com/reference/block-kit)
MAX_MESSAGE_BLOCKS = 50
MAX_VIEW_BLOCKS = 100
MAX_SECTION_TEXT = 3000
MAX_BUTTON_TEXT = 75
MAX_BUTTON_VALUE = 2000
MAX_HEADER_TEXT = 150
MAX_VIEW_TITLE = 24
MAX_ACTIONS = 25
MAX_OPTIONS = 100
MAX_CONTEXT_TEXT = 3000
MAX_FALLBACK_TEXT = 4000

_SLACK_USER = re.compile(r"^[UW][A-Z0-9]{2,}$")


def escape(text: str) -> str:
    """Escape ``&``, ``<`` and ``>``: user text can then neither ping (``<!channel>``) nor link."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def default_mention(ref: str) -> str:
    """``<@U123>`` for a Slack user id; anything else (an email) as escaped text."""
    return f"<@{ref}>" if _SLACK_USER.match(ref) else escape(ref)


def truncate(text: str, limit: int) -> str:
    """``text`` cut to ``limit`` characters, with an ellipsis when cut.

    Never cuts inside an escape entity or a ``<...>`` mention/link, which would show garbage.
    """
    if len(text) <= limit:
        return text
    cut = text[: limit - 1]
    amp, semi = cut.rfind("&"), cut.rfind(";")
    if amp > semi:
        cut = cut[:amp]
    lt, gt = cut.rfind("<"), cut.rfind(">")
    if lt > gt:
        cut = cut[:lt]
    return cut + "…"


def channel_link(channel: str | None) -> str | None:
    """``<#C123>`` for a channel id, a link for a URL, else the escaped text."""
    if not channel:
        return None
    if channel.startswith("<") and channel.endswith(">"):
        return channel  # already mrkdwn, built by us
    if re.fullmatch(r"[CG][A-Z0-9]{2,}", channel):
        return f"<#{channel}>"
    if channel.startswith(("https://", "http://", "slack://")):
        return f"<{escape(channel)}>"
    return escape(channel)
