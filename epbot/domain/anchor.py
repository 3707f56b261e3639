"""Anchoring the audit chain outside the table, so dropped newest entries are noticed.

The hash chain shows an edited or removed entry, but a table cut short at the end is still a
valid chain. An anchor (entry count + head hash) written somewhere else — an exported report,
the closing report in Slack — pins the chain's length and head at that moment.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from epbot.domain.audit import GENESIS, ChainEntry, canonical, entry_hash

# One line, the same in both locales' reports so any export can be read back:
#   "audit anchor: 2026-0007 entries=42 head=<64 hex>" / "审计锚点：2026-0007 条目数=42 链头=<hex>"
# Whitespace between the parts is optional: text read back from a PDF may lose or add it.
ANCHOR_LINE = re.compile(
    r"(?:audit\s*anchor|审计锚点)\s*[:：]\s*(?P<number>(?:DRILL-)?\d{4}-\d{4,})\s*"
    r"(?:entries|条目数)\s*=\s*(?P<entries>\d+)\s*(?:head|链头)\s*=\s*(?P<head>[0-9a-f]{64})"
)


@dataclass(frozen=True)
class Anchor:
    number: str  # the incident number, e.g. 2026-0007
    entries: int
    head: str  # hash of the last entry (GENESIS for an empty chain)


def anchor_of(number: str, entries: Sequence[ChainEntry]) -> Anchor:
    return Anchor(number, len(entries), entries[-1].hash if entries else GENESIS)


def find_anchors(text: str) -> list[Anchor]:
    """Every anchor line in a text (an exported report, a Slack message, a PDF's text)."""
    text = "".join(text.splitlines())  # a PDF wraps the long hash anywhere
    return [Anchor(m["number"], int(m["entries"]), m["head"]) for m in ANCHOR_LINE.finditer(text)]


def latest(anchors: Iterable[Anchor], number: str) -> Anchor | None:
    """The anchor of ``number`` that pins the longest chain (the last one written)."""
    mine = [a for a in anchors if a.number.upper() == number.upper()]
    return max(mine, key=lambda a: a.entries, default=None)


def check_anchor(entries: Sequence[ChainEntry], anchor: Anchor) -> str | None:
    """Why the table does not hold what the anchor pinned, or None if it does."""
    if len(entries) < anchor.entries:
        missing = anchor.entries - len(entries)
        return (
            f"{missing} newest timeline entr{'y' if missing == 1 else 'ies'} missing: the anchor "
            f"pinned {anchor.entries}, the table holds {len(entries)}"
        )
    held = entries[anchor.entries - 1].hash if anchor.entries else GENESIS
    if held != anchor.head:
        return f"entry {anchor.entries} does not match the anchored head hash"
    return None


def anchor_of_events(
    number: str, incident_id: int, events: Sequence[Mapping[str, Any]]
) -> Anchor:
    """The anchor recomputed from the timeline as delivered (at, actor, kind, data; in order).

    The hash covers the canonical JSON of ``data``, which parsing and re-serialising keeps
    unchanged, so a renderer that only has the events can still state the chain's head.
    """
    prev = GENESIS
    for seq, event in enumerate(events, start=1):
        at = event["at"]
        prev = entry_hash(
            prev_hash=prev,
            incident_id=incident_id,
            seq=seq,
            at=at if isinstance(at, datetime) else datetime.fromisoformat(str(at)),
            actor=str(event["actor"]),
            kind=str(event["kind"]),
            payload=canonical(dict(event["data"])),
        )
    return Anchor(number, len(events), prev)
