"""``epbot audit verify``: check an incident's hash-chained timeline."""

from __future__ import annotations

import re
from collections.abc import Sequence

from sqlmodel import col, select

from epbot.adapters.db import models as m
from epbot.adapters.db import repository as repo
from epbot.adapters.db.engine import make_engine, make_sessionmaker
from epbot.domain.anchor import Anchor, check_anchor, latest
from epbot.domain.audit import verify_chain

_NUMBER = re.compile(r"(?i)(drill-)?(\d{4})-(\d+)")


async def verify_incident(
    database_url: str, incident: str, anchors: Sequence[Anchor] = ()
) -> tuple[int, str]:
    """(exit status, message): 0 intact, 1 tampered, 2 no such incident.

    With ``anchors`` (read from exported reports), the table must also still hold the
    entries the last anchor of this incident pinned: dropped newest entries are tampering.
    """
    engine = make_engine(database_url)
    try:
        async with make_sessionmaker(engine)() as session:
            query = select(m.Incident)
            match = _NUMBER.fullmatch(incident.strip())
            if match:
                query = query.where(
                    col(m.Incident.drill) == bool(match.group(1)),
                    col(m.Incident.year) == int(match.group(2)),
                    col(m.Incident.seq) == int(match.group(3)),
                )
            elif incident.strip().isdigit():
                query = query.where(col(m.Incident.id) == int(incident))
            else:
                return 2, f"not an incident id or number: {incident!r}"
            row = (await session.exec(query)).one_or_none()
            if row is None or row.id is None:
                return 2, f"no incident {incident!r}"
            entries = await repo.timeline(session, row.id)
    finally:
        await engine.dispose()
    problem = verify_chain(entries)
    label = f"{'DRILL-' if row.drill else ''}{row.year}-{row.seq:04d}"
    if problem is None:
        anchor = latest(anchors, label)
        if anchor is not None:
            cut = check_anchor(entries, anchor)
            if cut is not None:
                return 1, f"incident {label}: the timeline does not match its anchor: {cut}"
            return 0, (
                f"incident {label}: {len(entries)} timeline entries, chain intact, "
                f"matches its anchor ({anchor.entries} entries, head {anchor.head[:12]})"
            )
        return 0, f"incident {label}: {len(entries)} timeline entries, chain intact"
    return 1, f"incident {label}: timeline entry {problem.seq} was tampered with: {problem.reason}"
