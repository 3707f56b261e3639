"""The hash-chained timeline: each entry's hash covers its content and the previous hash."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

GENESIS = "0" * 64


@dataclass(frozen=True)
class ChainEntry:
    incident_id: int
    seq: int
    at: datetime
    actor: str
    kind: str
    payload: str  # canonical JSON
    prev_hash: str
    hash: str


def canonical(data: dict[str, Any]) -> str:
    return json.dumps(data, sort_keys=True, ensure_ascii=False, separators=(",", ":"), default=str)


def entry_hash(
    *,
    prev_hash: str,
    incident_id: int,
    seq: int,
    at: datetime,
    actor: str,
    kind: str,
    payload: str,
) -> str:
    body = canonical(
        {
            "incident_id": incident_id,
            "seq": seq,
            "at": at.isoformat(),
            "actor": actor,
            "kind": kind,
            "payload": payload,
        }
    )
    return hashlib.sha256((prev_hash + body).encode()).hexdigest()


@dataclass(frozen=True)
class ChainProblem:
    seq: int
    reason: str


def verify_chain(entries: Iterable[ChainEntry]) -> ChainProblem | None:
    """The first entry that was edited, removed or reordered, or None if the chain holds."""
    prev, expected_seq = GENESIS, 1
    for entry in entries:
        if entry.seq != expected_seq:
            return ChainProblem(entry.seq, f"expected entry {expected_seq}, found {entry.seq}")
        if entry.prev_hash != prev:
            return ChainProblem(entry.seq, "its link to the previous entry is broken")
        recomputed = entry_hash(
            prev_hash=entry.prev_hash,
            incident_id=entry.incident_id,
            seq=entry.seq,
            at=entry.at,
            actor=entry.actor,
            kind=entry.kind,
            payload=entry.payload,
        )
        if recomputed != entry.hash:
            return ChainProblem(entry.seq, "its content does not match its hash (edited)")
        prev, expected_seq = entry.hash, expected_seq + 1
    return None
