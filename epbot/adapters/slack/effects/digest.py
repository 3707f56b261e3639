"""Deadlines without a drizzle: the room's digest and each person's reminder DM.

The engine still writes every reminder, overdue notice, nudge and late receipt on the
timeline; here they stop being one thread line each. The room keeps one *deadlines
digest* in the card's thread (``render.digest``), rendered from the incident's current
state and edited in place once per delivery batch; a person's reminders of one incident
reach them as one DM, edited in place the same way. A new message (which notifies the
people it names) is posted only when its *re-post interval* has passed since the last:

- the interval starts at the playbook's repeat interval (``reminders.repeat``, the
  shortest of the steps listed) and doubles with every further post while something stays
  listed, up to an hour; a step that has no repeat counts as an hour;
- never less than a minute for the room (at most one post about deadlines per incident per
  minute), never less than :data:`PERSON_FLOOR` for a person's DM;
- when nothing is listed any more the message says so and the series starts afresh.

Escalation pages still go out at the deadline (the person lanes' page DMs); the digest
says who was paged and whether they acknowledged. A series' posts are message refs
``<prefix>:<n>:<posted at, epoch seconds>`` and its ends ``<prefix>:<n>:end``, so what was
posted when survives restarts and retries like every other ref.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from epbot.adapters.db import models as m
from epbot.adapters.slack import render
from epbot.adapters.slack.effects.common import EffectsBase, Event, Room, best_effort

# What the digest replaces: these events get no thread line of their own.
DEADLINE_KINDS = frozenset({"step_reminder", "step_overdue", "step_nudge", "receipt_overdue"})
ROOM_FLOOR = timedelta(minutes=1)
PERSON_FLOOR = timedelta(minutes=15)
CAP = timedelta(hours=1)


def folded(event: Event) -> bool:
    """True when the event is shown by the digest instead of a thread line: a deadline
    event, or the page an overdue step's escalation sent (the digest names who was paged
    and whether they acknowledged)."""
    kind = event.get("kind")
    data = event.get("data") or {}
    return kind in DEADLINE_KINDS or (kind == "paged" and data.get("reason") == "overdue")


@dataclass(frozen=True)
class Post:
    number: int
    at: datetime
    ref: m.MessageRef


@dataclass(frozen=True)
class Series:
    """The posts of one recurring message, read back from the incident's message refs."""

    prefix: str
    posts: tuple[Post, ...]
    ended: int  # the number of the last post of a finished series (0: none)

    @classmethod
    def of(cls, refs: Iterable[m.MessageRef], prefix: str) -> Series:
        posts: list[Post] = []
        ended = 0
        for ref in refs:
            head, sep, tail = ref.key.rpartition(":")
            number_text = head.removeprefix(f"{prefix}:")
            if not sep or not head.startswith(f"{prefix}:") or not number_text.isdigit():
                continue
            if tail == "end":
                ended = max(ended, int(number_text))
            elif tail.isdigit():
                at = datetime.fromtimestamp(int(tail), UTC)
                posts.append(Post(int(number_text), at, ref))
        posts.sort(key=lambda p: p.number)
        return cls(prefix, tuple(posts), ended)

    @property
    def current(self) -> tuple[Post, ...]:
        """The posts of the series still running."""
        return tuple(p for p in self.posts if p.number > self.ended)

    @property
    def latest(self) -> Post | None:
        current = self.current
        return current[-1] if current else None

    def post_key(self, at: datetime) -> str:
        number = self.posts[-1].number + 1 if self.posts else 1
        return f"{self.prefix}:{number}:{int(at.timestamp())}"

    def end_key(self) -> str:
        latest = self.latest
        assert latest is not None
        return f"{self.prefix}:{latest.number}:end"

    def interval(self, repeat: timedelta | None, floor: timedelta) -> timedelta:
        """How long after the latest post the next may come (see the module docstring)."""
        base = repeat if repeat else CAP
        doubled: timedelta = base * (1 << max(0, len(self.current) - 1))
        return max(floor, min(CAP, doubled))

    def repost_due(self, now: datetime, repeat: timedelta | None, floor: timedelta) -> bool:
        latest = self.latest
        return latest is None or now - latest.at >= self.interval(repeat, floor)


# --- the room's digest --------------------------------------------------------------------


async def post_digest(fx: EffectsBase, room: Room, events: Sequence[Event]) -> None:
    """Post the room's deadlines digest when a batch with deadline events finds the
    re-post interval passed (the room's stream: a post keeps its place among the lines).
    Every other change is an edit in place, the edits lane's (:func:`edit_digest`)."""
    if not any(folded(e) for e in events):
        return
    series = Series.of(room.refs.values(), f"digest:{room.id}")
    fresh = await fx.load(room.id)  # what is true now, after this batch's lines
    ctx = await fx.ctx(fresh)
    found = render.deadlines(fresh.state, ctx.now)
    if not found or not series.repost_due(ctx.now, found.repeat, ROOM_FLOOR):
        return
    channel, thread = room.row.channel_id, room.row.card_ts
    assert channel is not None
    text, blocks = render.digest_message(fresh.state, found, ctx)
    posted = await fx.client.post_message(channel, text, blocks, thread_ts=thread)
    await fx.remember(room, series.post_key(ctx.now), channel, str(posted["ts"]))


async def edit_digest(fx: EffectsBase, room: Room, current: set[str]) -> None:
    """Keep the running digest true in place (what is listed, how late); say when nothing
    is listed any more, which ends the series. ``current``: refs posted from this state."""
    series = Series.of(room.refs.values(), f"digest:{room.id}")
    latest = series.latest
    if latest is None or latest.ref.key in current:
        return
    ctx = await fx.ctx(room)
    found = render.deadlines(room.state, ctx.now)
    text, blocks = render.digest_message(room.state, found, ctx)
    await fx.client.update_message(latest.ref.channel, latest.ref.ts, text, blocks)
    if not found:
        await fx.remember(room, series.end_key(), latest.ref.channel, "")


# --- a person's reminders -----------------------------------------------------------------


def _person_prefix(room: Room, person: str) -> str:
    return f"remind:{room.id}:{person}"


async def reminder_dm(fx: EffectsBase, room: Room, person: str) -> None:
    """The reminders of ``person`` (a matrix person ref) for this incident: one DM listing
    their steps due soon and overdue, posted when the interval allows, else edited."""
    user = await fx.client.user_id(person)
    if user is None:
        return
    series = Series.of(room.refs.values(), _person_prefix(room, person))
    ctx = await fx.ctx(room, await fx.client.locale(user))
    found = render.deadlines(room.state, ctx.now, person=person)
    latest = series.latest
    if found and series.repost_due(ctx.now, found.repeat, PERSON_FLOOR):
        text, blocks = render.reminder_message(room.state, found, ctx)
        await fx.post_and_remember(room, series.post_key(ctx.now), user, text, blocks)
    elif latest is not None:
        await _edit_reminder(fx, room, person, user, series)


async def refresh_reminders(fx: EffectsBase, room: Room, events: Sequence[Event]) -> None:
    """Edit the reminder DMs still running whose person's steps this batch changed (or
    all of them when the incident's status moved), so no DM tells of a deadline already
    met. The edits lane does it, as it does for the page DMs."""
    people = _people_touched(room, events)
    if people is not None and not people:
        return
    prefix = f"remind:{room.id}:"
    running = {
        ref.key.removeprefix(prefix).split(":")[0]
        for ref in room.refs.values()
        if ref.key.startswith(prefix)
    }
    for person in sorted(running):
        if people is not None and person not in people:
            continue
        series = Series.of(room.refs.values(), _person_prefix(room, person))
        if series.latest is None:
            continue
        user = await fx.client.user_id(person)
        if user is not None:
            await _edit_reminder(fx, room, person, user, series)


async def _edit_reminder(
    fx: EffectsBase, room: Room, person: str, user: str, series: Series
) -> None:
    latest = series.latest
    assert latest is not None
    ctx = await fx.ctx(room, await fx.client.locale(user))
    found = render.deadlines(room.state, ctx.now, person=person)
    text, blocks = render.reminder_message(room.state, found, ctx)
    await best_effort(fx.client.update_message(latest.ref.channel, latest.ref.ts, text, blocks))
    if not found:
        await fx.remember(room, series.end_key(), latest.ref.channel, "")


_ALL_STEPS = frozenset({"status_changed", "resolved", "cancelled", "severity_changed"})
# A nudge changes how late a listed step is, not what is listed: the DM's "updated at"
# says when its figures were true, and a reminder's own lane edits the DM itself. A snooze
# (and "I'm on it" by the assignee) quiets reminders: the person hears it in a DM of its own.
_SAME_LIST = frozenset({"step_nudge", "step_reminder", "receipt_overdue", "step_snoozed"})


def _people_touched(room: Room, events: Sequence[Event]) -> set[str] | None:
    """The assignees of the steps whose listing the events change (and both ends of a
    reassignment); None when every step may have changed (a status change, the end, a new
    severity)."""
    people: set[str] = set()
    for event in events:
        if event.get("kind") in _ALL_STEPS:
            return None
        data = event.get("data") or {}
        if event.get("kind") in _SAME_LIST or (
            event.get("kind") == "step_on_it" and not data.get("from")
        ):
            continue
        step = room.state.steps.get(str(data.get("step")))
        if step is not None and step.assignee:
            people.add(step.assignee)
        if event.get("kind") in ("step_reassigned", "step_on_it"):
            people |= {str(data[k]) for k in ("from", "to") if data.get(k)}
    return people
