"""The hash-chained timeline: any edit, removal or reordering is found, with its seq."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta

import pytest

from epbot.domain.audit import GENESIS, ChainEntry, canonical, entry_hash, verify_chain

T0 = datetime(2026, 11, 24, 1, 0, tzinfo=UTC)


def chain(n: int = 5, incident_id: int = 7) -> list[ChainEntry]:
    entries, prev = [], GENESIS
    for seq in range(1, n + 1):
        fields = {
            "incident_id": incident_id,
            "seq": seq,
            "at": T0 + timedelta(minutes=seq),
            "actor": f"U{seq}",
            "kind": "step_done",
            "payload": canonical({"step": f"s{seq}", "note": "完成"}),
        }
        digest = entry_hash(prev_hash=prev, **fields)
        entries.append(ChainEntry(prev_hash=prev, hash=digest, **fields))
        prev = digest
    return entries


def test_an_untouched_chain_holds() -> None:
    assert verify_chain(chain()) is None
    assert verify_chain([]) is None


def test_canonical_json_is_stable() -> None:
    assert canonical({"b": 1, "a": "é"}) == canonical({"a": "é", "b": 1}) == '{"a":"é","b":1}'


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("payload", canonical({"step": "s3", "note": "forged"})),
        ("actor", "U999"),
        ("kind", "step_skipped"),
        ("at", T0 + timedelta(hours=5)),
        ("incident_id", 8),
    ],
)
def test_an_edited_entry_is_named(field: str, value: object) -> None:
    entries = chain()
    entries[2] = dataclasses.replace(entries[2], **{field: value})
    problem = verify_chain(entries)
    assert problem is not None
    assert problem.seq == 3
    assert "edited" in problem.reason


def test_a_rehashed_edit_breaks_the_next_link() -> None:
    entries = chain()
    forged = dataclasses.replace(entries[1], payload=canonical({"forged": True}))
    fields = {
        f: getattr(forged, f) for f in ("incident_id", "seq", "at", "actor", "kind", "payload")
    }
    entries[1] = dataclasses.replace(forged, hash=entry_hash(prev_hash=forged.prev_hash, **fields))
    problem = verify_chain(entries)
    assert problem is not None
    assert problem.seq == 3
    assert "link" in problem.reason


@pytest.mark.parametrize(
    ("mutate", "seq"),
    [
        (lambda e: e[:2] + e[3:], 4),  # removed
        (lambda e: [e[0], e[2], e[1], *e[3:]], 3),  # reordered
        (lambda e: e[1:], 2),  # the first one removed
    ],
)
def test_removed_or_reordered_entries_are_found(mutate, seq: int) -> None:
    problem = verify_chain(mutate(chain()))
    assert problem is not None
    assert problem.seq == seq


def test_a_truncated_tail_is_not_detectable_from_the_chain_alone() -> None:
    # Documented limit: dropping the newest entries leaves a valid prefix.
    assert verify_chain(chain()[:3]) is None
