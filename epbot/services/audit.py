"""Checking an incident's hash-chained timeline (``epbot audit verify``, the tests).

The timeline is read through the store port; the chain and anchor rules are the domain's.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import NamedTuple

from epbot.domain.anchor import Anchor, check_anchor, latest
from epbot.domain.audit import ChainEntry, ChainProblem, verify_chain
from epbot.services.ports import IncidentRow, RecordStore, RecordTx

_NUMBER = re.compile(r"(?i)(drill-)?(\d{4})-(\d+)")

INTACT, TAMPERED, UNKNOWN = 0, 1, 2  # the exit statuses of ``epbot audit verify``


class ChainCheck(NamedTuple):
    checked: int  # timeline entries read
    problem: ChainProblem | None  # the first tampered entry, or None


class AuditService:
    """Reads an incident's timeline and checks its chain (and, if given, its anchor)."""

    def __init__(self, store: RecordStore) -> None:
        self.store = store

    async def check(self, incident_id: int) -> ChainCheck:
        """The chain of one incident by its row id."""
        entries = await self.store.read(lambda tx: tx.timeline(incident_id))
        return ChainCheck(len(entries), verify_chain(entries))

    async def verify(self, incident: str, anchors: Sequence[Anchor] = ()) -> tuple[int, str]:
        """(exit status, message): 0 intact, 1 tampered, 2 no such incident.

        ``incident`` is a number (2026-0007, DRILL-2026-0001) or a row id. With ``anchors``
        (read from exported reports) the table must also still hold the entries the last
        anchor of this incident pinned: dropped newest entries are tampering.
        """
        text = incident.strip()
        match = _NUMBER.fullmatch(text)
        if match is None and not text.isdigit():
            return UNKNOWN, f"not an incident id or number: {incident!r}"

        async def find(tx: RecordTx) -> tuple[IncidentRow | None, list[ChainEntry]]:
            if match is not None:
                row = await tx.incident_by_number(
                    drill=bool(match.group(1)), year=int(match.group(2)), seq=int(match.group(3))
                )
            else:
                row = await tx.incident_by_id(int(text))
            return row, ([] if row is None else await tx.timeline(row.id))

        row, entries = await self.store.read(find)
        if row is None:
            return UNKNOWN, f"no incident {incident!r}"
        label = row.number
        problem = verify_chain(entries)
        if problem is not None:
            return TAMPERED, (
                f"incident {label}: timeline entry {problem.seq} was tampered with: "
                f"{problem.reason}"
            )
        anchor = latest(anchors, label)
        if anchor is None:
            return INTACT, f"incident {label}: {len(entries)} timeline entries, chain intact"
        cut = check_anchor(entries, anchor)
        if cut is not None:
            return TAMPERED, f"incident {label}: the timeline does not match its anchor: {cut}"
        return INTACT, (
            f"incident {label}: {len(entries)} timeline entries, chain intact, "
            f"matches its anchor ({anchor.entries} entries, head {anchor.head[:12]})"
        )
