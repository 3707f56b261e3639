"""Compact durations: ``30s``, ``15m``, ``2h``, ``1d``, ``1h30m`` and ISO 8601 ``PT15M``."""

from __future__ import annotations

import re
from datetime import timedelta

_UNITS = {"d": 86400, "h": 3600, "m": 60, "s": 1}
_COMPACT = re.compile(r"(?:(\d+)d)?(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?")
_ISO = re.compile(r"P(?:(\d+)D)?(?:T(?=\d)(?:(\d+)H)?(?:(\d+)M)?(?:(\d+)S)?)?")


class DurationError(ValueError):
    """A duration string that is not ``30s``/``15m``/``2h``/``1d`` or ISO 8601."""


def parse_duration(text: str) -> timedelta:
    """Parse a compact or ISO 8601 duration; raise DurationError with the reason."""
    if not isinstance(text, str):
        raise DurationError(
            f"bad duration {text!r}: write it with a unit, e.g. 30s, 15m, 2h, 1d or PT15M"
        )
    raw = text.strip()
    match = _ISO.fullmatch(raw.upper()) if raw[:1] in "Pp" else _COMPACT.fullmatch(raw.lower())
    if not raw or match is None or not any(match.groups()) or raw.upper() in ("P", "PT"):
        raise DurationError(
            f"bad duration {text!r}: use a number with s, m, h or d (e.g. 30s, 15m, 2h, 1d) "
            "or ISO 8601 (e.g. PT15M)"
        )
    days, hours, minutes, seconds = (int(g) if g else 0 for g in match.groups())
    try:
        return timedelta(days=days, hours=hours, minutes=minutes, seconds=seconds)
    except OverflowError:
        raise DurationError(f"bad duration {text!r}: too long") from None


def format_duration(value: timedelta) -> str:
    """The compact form of ``value`` (``1h30m``); ``0s`` for zero."""
    total = int(value.total_seconds())
    sign = "-" if total < 0 else ""
    total = abs(total)
    parts = []
    for unit, size in _UNITS.items():
        if total >= size:
            parts.append(f"{total // size}{unit}")
            total %= size
    return sign + ("".join(parts) or "0s")
