"""When the deadlines digest (or a person's reminder DM) is posted anew rather than edited:
the series of posts read back from message refs, and its re-post interval."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from epbot.adapters.db import models as m
from epbot.adapters.slack.effects.digest import (
    CAP,
    PERSON_FLOOR,
    ROOM_FLOOR,
    Series,
    folded,
)

T0 = datetime(2026, 11, 24, 1, 0, tzinfo=UTC)
TWO = timedelta(minutes=2)


def ref(key: str) -> m.MessageRef:
    return m.MessageRef(key=key, incident_id=7, channel="C1", ts="1.0")


def posted(prefix: str, *minutes: int, ended: int = 0) -> Series:
    refs = [
        ref(f"{prefix}:{n}:{int((T0 + timedelta(minutes=mm)).timestamp())}")
        for n, mm in enumerate(minutes, start=1)
    ]
    if ended:
        refs.append(ref(f"{prefix}:{ended}:end"))
    # Other refs of the incident, and another series whose prefix starts the same, are no
    # posts of this one.
    refs += [ref("digest:70:1:1796000000"), ref("event:7:3"), ref("card:7")]
    return Series.of(refs, prefix)


def test_reads_its_posts_back_in_order() -> None:
    series = posted("digest:7", 0, 5, 9)
    assert [p.number for p in series.posts] == [1, 2, 3]
    assert [p.at for p in series.posts] == [
        T0,
        T0 + timedelta(minutes=5),
        T0 + timedelta(minutes=9),
    ]
    assert series.latest is not None
    assert series.latest.number == 3
    assert series.post_key(T0 + timedelta(minutes=17)).startswith("digest:7:4:")
    assert Series.of([], "digest:7").latest is None
    assert Series.of([], "digest:7").post_key(T0) == f"digest:7:1:{int(T0.timestamp())}"


def test_the_interval_starts_at_the_repeat_and_doubles() -> None:
    assert posted("digest:7", 0).interval(TWO, ROOM_FLOOR) == TWO
    assert posted("digest:7", 0, 2).interval(TWO, ROOM_FLOOR) == 2 * TWO
    assert posted("digest:7", 0, 2, 6).interval(TWO, ROOM_FLOOR) == 4 * TWO
    assert posted("digest:7", *range(0, 200, 20)).interval(TWO, ROOM_FLOOR) == CAP
    assert posted("digest:7", 0).interval(None, ROOM_FLOOR) == CAP  # no repeat: an hour
    # Never more than one post a minute; a person's DM not more than every 15 minutes.
    assert posted("digest:7", 0).interval(timedelta(seconds=10), ROOM_FLOOR) == ROOM_FLOOR
    assert posted("remind:7:U1", 0).interval(TWO, PERSON_FLOOR) == PERSON_FLOOR


def test_a_repost_is_due_once_the_interval_passed() -> None:
    series = posted("digest:7", 0, 2)  # interval 4 min after the second post
    assert not series.repost_due(T0 + timedelta(minutes=5), TWO, ROOM_FLOOR)
    assert series.repost_due(T0 + timedelta(minutes=6), TWO, ROOM_FLOOR)
    assert Series.of([], "digest:7").repost_due(T0, TWO, ROOM_FLOOR)  # the first post


def test_an_ended_series_starts_afresh() -> None:
    series = posted("digest:7", 0, 2, 6, ended=3)
    assert series.latest is None
    assert series.repost_due(T0 + timedelta(minutes=7), TWO, ROOM_FLOOR)
    assert series.post_key(T0).startswith("digest:7:4:")  # numbers go on
    later = Series.of(
        [
            *(p.ref for p in series.posts),
            ref("digest:7:3:end"),
            ref(f"digest:7:4:{int(T0.timestamp()) + 600}"),
        ],
        "digest:7",
    )
    assert later.latest is not None
    assert later.interval(TWO, ROOM_FLOOR) == TWO  # the doubling restarts


def test_what_the_digest_shows_instead_of_a_line() -> None:
    for kind in ("step_reminder", "step_overdue", "step_nudge", "receipt_overdue"):
        assert folded({"kind": kind, "data": {"step": "s"}})
    assert folded({"kind": "paged", "data": {"reason": "overdue", "step": "s"}})
    assert not folded({"kind": "paged", "data": {"reason": "declared"}})
    assert not folded({"kind": "step_done", "data": {"step": "s"}})
