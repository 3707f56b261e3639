"""The incident's room: its channel (name, topic, members), the pinned card and the stage
checklists kept current, the thread lines, the announcement, and the closing report."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from epbot.adapters.db import repository as repo
from epbot.adapters.slack import render
from epbot.adapters.slack.client import CallFailure
from epbot.adapters.slack.effects import digest
from epbot.adapters.slack.effects.common import (
    EffectsBase,
    Event,
    Room,
    best_effort,
    gather_all,
)
from epbot.domain.audience import AudienceKind
from epbot.domain.incident import IncidentState
from epbot.domain.playbook import STAGE_ORDER, StageId

_NAME_SUFFIXES = 20
_ALL_STAGE_EVENTS = frozenset({"status_changed", "resolved", "cancelled", "approval_decided"})
LINES_PER_POST = 20  # thread lines of one batch that go out as one message


@dataclass(frozen=True)
class Line:
    """One event's line in a thread, waiting to go out with the batch's other lines."""

    key: str  # the event's message ref
    thread: str | None
    text: str


async def ensure_room(fx: EffectsBase, room: Room) -> None:
    """Channel, pinned card and one checklist per started stage: the posts later lines are
    threaded under. The pin, topic and invitations are the edits lane's
    (:func:`keep_channel`), so no post waits for their tight rate tiers; the announcement
    is the announcement lane's (:func:`keep_announcement`), handed over with the channel."""
    if room.row.channel_id is None:
        await _create_channel(fx, room)
    channel = room.row.channel_id
    assert channel is not None
    ctx = await fx.ctx(room)
    if room.row.card_ts is None:
        text, blocks = render.incident_card(room.state, room.report, ctx)
        posted = await fx.client.post_message(channel, text, blocks)
        ts = str(posted["ts"])
        await fx.set_incident(room, card_ts=ts)
        await fx.remember(room, f"card:{room.id}", channel, ts)
    assert room.row.card_ts is not None
    for stage_id in _started_stages(room.state):
        key = f"checklist:{room.id}:{stage_id.value}"
        if key not in room.refs:
            text, blocks = render.stage_checklist(room.state, stage_id, ctx)
            posted = await fx.client.post_message(channel, text, blocks)
            await fx.remember(room, key, channel, str(posted["ts"]))


async def keep_channel(fx: EffectsBase, room: Room) -> None:
    """Side by side, the card pinned and the topic naming the stage (their methods have
    the tightest tiers: no post waits for them)."""
    channel = room.row.channel_id
    card = room.row.card_ts
    if channel is None or card is None:
        return  # the room's stream has not posted the card yet: it hands edits over after
    ctx = await fx.ctx(room)

    async def pin() -> None:
        if f"pin:{room.id}" not in room.refs:
            await best_effort(fx.client.pin(channel, card))
            await fx.remember(room, f"pin:{room.id}", channel, card)

    async def topic() -> None:
        # The topic names the stage, so it is set again (once) whenever the status moves.
        key = f"topic:{room.id}:{room.state.status.value}"
        if key not in room.refs:
            await best_effort(fx.client.set_topic(channel, render.channel_topic(room.state, ctx)))
            await fx.remember(room, key, channel, "")

    await gather_all([pin(), topic()])


# --- the announcement channel -----------------------------------------------------------


async def keep_announcement(fx: EffectsBase, room: Room, ends: list[str]) -> None:
    """The incident in the announcement channel: posted once, linking its channel, then
    kept current in place (stage, resolved, cancelled, once per status, like the topic)
    and, when the incident ended (``ends``), its one-line summary after it. The edit and
    the summaries go side by side: the summary is a post of its own, not behind the edit.

    Until the room's stream has created the channel there is nothing to link: the
    announcement is handed over with the channel, but an end waits for it (a transient
    failure, so the row is kept and tried again)."""
    if not fx.incidents_channel:
        return
    channel = room.row.channel_id
    if channel is None:
        if ends:
            raise CallFailure("conversations.create", "channel_not_created_yet", transient=True)
        return
    ctx = await fx.ctx(room)
    announced = f"announce:{room.id}:{room.state.status.value}"
    link = f"<#{channel}>"
    if f"announce:{room.id}" not in room.refs:
        text, _ = render.incident_card(room.state, room.report, ctx)
        posted = await best_effort(fx.client.post_message(fx.incidents_channel, f"{text} → {link}"))
        ts = str(posted["ts"]) if posted else ""
        # chat.update needs the channel's id, which the post answers with.
        where = str(posted.get("channel") or fx.incidents_channel) if posted else ""
        await fx.remember(room, f"announce:{room.id}", where or fx.incidents_channel, ts)
        await fx.remember(room, announced, fx.incidents_channel, "")

    async def edit() -> None:
        first = room.refs.get(f"announce:{room.id}")
        if first is not None and first.ts and announced not in room.refs:
            text, _ = render.incident_card(room.state, room.report, ctx)
            await best_effort(fx.client.update_message(first.channel, first.ts, f"{text} → {link}"))
            await fx.remember(room, announced, first.channel, "")

    await gather_all([edit(), *(closing_summary(fx, room, end) for end in dict.fromkeys(ends))])


async def _create_channel(fx: EffectsBase, room: Room) -> None:
    row = room.row
    base = render.channel_name(
        room.number,
        row.playbook_id,
        row.declared_at.astimezone(fx.tz).date(),
        row.seq,
        row.drill,
    )
    for attempt in range(_NAME_SUFFIXES):
        name = base if attempt == 0 else f"{base[: 80 - 4]}-{attempt + 1}"
        try:
            channel = await fx.client.create_channel(name)
        except CallFailure as exc:
            if exc.error == "name_taken":
                continue
            raise
        # The announcement needs only the channel to link: it is handed over with the
        # channel (one transaction), not after the room's first posts.
        announce = {AudienceKind.ANNOUNCE: {"kind": "announce"}} if fx.incidents_channel else None
        await fx.set_incident(
            room, channel_id=channel["id"], channel_name=name, hand_over=announce
        )
        return
    raise CallFailure("conversations.create", "name_taken", transient=False)


# --- room-side effects of one event kind ----------------------------------------------


async def page_room(fx: EffectsBase, room: Room, event: Event) -> None:
    """The paged person joins the incident channel (their DM is the person lane's)."""
    user = await fx.client.user_id(str(event.get("data", {}).get("person")))
    if user is not None:
        invite(room, user)


async def approval_requested(fx: EffectsBase, room: Room, event: Event) -> None:
    """The request's copy in the incident thread (the DMs are the person lanes')."""
    key = str(event.get("data", {}).get("approval"))
    approval = room.state.approvals.get(key)
    thread_key = f"approval:{room.id}:{key}:thread"
    if approval is None or thread_key in room.refs:
        return
    channel = room.row.channel_id
    assert channel is not None
    text, blocks = render.approval_message(room.state, approval, await fx.ctx(room))
    posted = await fx.client.post_message(channel, text, blocks, thread_ts=room.row.card_ts)
    await fx.remember(room, thread_key, channel, str(posted["ts"]))


async def reassigned(fx: EffectsBase, room: Room, event: Event) -> None:
    """The new assignee joins the incident channel, so the thread line reaches them."""
    person = (event.get("data") or {}).get("to")
    user = await fx.client.user_id(str(person)) if person else None
    if user is not None:
        invite(room, user)


def invite(room: Room, user: str) -> None:
    """Invite ``user`` with the rest of this batch's invitees (one call a batch:
    ``conversations.invite`` takes many users, and its tier is tight)."""
    if f"invite:{room.id}:{user}" not in room.refs:
        room.invites.add(user)


async def flush_invites(fx: EffectsBase, room: Room) -> None:
    """Invite the batch's invitees (and the reporter, once) in one call, and remember each."""
    channel = room.row.channel_id
    reporter = await fx.client.user_id(room.state.reporter)
    if reporter is not None and f"invite:{room.id}:reporter" not in room.refs:
        room.invites.add(reporter)
    users = sorted(u for u in room.invites if f"invite:{room.id}:{u}" not in room.refs)
    if channel is None or not users:
        return
    await best_effort(fx.client.invite(channel, users))
    for user in users:
        key = "reporter" if user == reporter else user
        await fx.remember(room, f"invite:{room.id}:{key}", channel, "")
        if key == "reporter":
            await fx.remember(room, f"invite:{room.id}:{user}", channel, "")
    room.invites.clear()


# --- the thread, the card and the checklists ------------------------------------------


async def thread_line(fx: EffectsBase, room: Room, row_id: int, event: Event) -> Line | None:
    """The line an event adds to its thread, unless it has none or is already posted."""
    key = f"event:{room.id}:{row_id}"
    if key in room.refs or digest.folded(event):
        return None  # a deadline's news is in the digest (``digest``), not a line of its own
    text = render.event_text(room.state, event, await fx.ctx(room))
    if not text:
        return None
    return Line(key, _thread_of(room, event), text)


async def post_lines(fx: EffectsBase, room: Room, lines: list[Line]) -> None:
    """Post the batch's thread lines, one message per thread (in the order the threads
    first appear, each thread's lines in order), up to ``LINES_PER_POST`` a message.

    Slack allows about one message a second in a channel: a line per event made a
    busy incident's channel both slow and a wall to read. Every line's key is
    remembered with the message it went out in, so a retry posts none of them again.

    Different threads are different conversations: their posts go side by side (the
    channel's pacing still spaces them), so a post that Slack keeps failing holds up
    only the lines of its own thread. Within a thread, lines keep their order.
    """
    channel = room.row.channel_id
    assert channel is not None
    threads: dict[str | None, list[Line]] = {}
    for line in lines:
        threads.setdefault(line.thread, []).append(line)
    lines.clear()

    async def post_thread(thread: str | None, group: list[Line]) -> None:
        for start in range(0, len(group), LINES_PER_POST):
            chunk = group[start : start + LINES_PER_POST]
            text = "\n".join(line.text for line in chunk)
            posted = await fx.client.post_message(channel, text, thread_ts=thread)
            await fx.remember_all(room, [line.key for line in chunk], channel, str(posted["ts"]))

    await gather_all([post_thread(thread, group) for thread, group in threads.items()])


def _thread_of(room: Room, event: dict[str, Any]) -> str | None:
    step = event.get("data", {}).get("step")
    if isinstance(step, str) and step in room.state.steps:
        stage = room.state.steps[step].stage_id
        ref = room.refs.get(f"checklist:{room.id}:{stage.value}")
        if ref is not None:
            return ref.ts
    return room.row.card_ts


def affected_stages(room: Room, event: Event) -> set[StageId]:
    """The stages whose checklist the event changes."""
    if str(event.get("kind")) in _ALL_STAGE_EVENTS or event.get("kind") == "declared":
        return set(_started_stages(room.state))
    step = event.get("data", {}).get("step")
    if isinstance(step, str) and step in room.state.steps:
        return {room.state.steps[step].stage_id}
    return set()


async def refresh(fx: EffectsBase, room: Room, stages: set[StageId], current: set[str]) -> None:
    """Bring the pinned card and the affected checklists up to date, side by side (they are
    different messages); ``current`` are those the room's stream posted from this very
    version, which need no edit."""
    channel = room.row.channel_id
    if channel is None or room.row.card_ts is None:
        return
    ctx = await fx.ctx(room)
    edits = []
    if f"card:{room.id}" not in current:
        text, blocks = render.incident_card(room.state, room.report, ctx)
        edits.append(fx.client.update_message(channel, room.row.card_ts, text, blocks))
    for stage_id in [s for s in STAGE_ORDER if s in stages]:
        key = f"checklist:{room.id}:{stage_id.value}"
        ref = room.refs.get(key)
        if ref is not None and key not in current:
            text, blocks = render.stage_checklist(room.state, stage_id, ctx)
            edits.append(fx.client.update_message(ref.channel, ref.ts, text, blocks))
    await gather_all(edits)


def _started_stages(state: IncidentState) -> list[StageId]:
    return [s for s in STAGE_ORDER if s in state.stages and state.playbook.stage(s) is not None]


# --- the end ------------------------------------------------------------------------------


def ending(event: dict[str, Any]) -> str | None:
    """``resolved`` / ``cancelled`` / ``closed`` when the event ends the incident, else None."""
    kind = event.get("kind")
    if kind in ("resolved", "cancelled"):
        return str(kind)
    if kind == "status_changed" and (event.get("data") or {}).get("to") == "closed":
        return "closed"
    return None


async def closing_report(fx: EffectsBase, room: Room, end: str) -> None:
    """The closing report in the incident channel (its summary in the announcement channel
    is the announcement lane's: :func:`closing_summary`). Remembered, so a retry posts it
    once."""
    channel = room.row.channel_id
    assert channel is not None
    ctx = await fx.ctx(room)
    key = f"closing:{room.id}:{end}"
    if key not in room.refs:
        async with fx.sessions() as session:
            entries = await repo.timeline(session, room.id)
        timeline = [
            {"kind": e.kind, "actor": e.actor, "at": e.at, "data": json.loads(e.payload)}
            for e in entries
        ]
        text, blocks = render.closing_report_message(room.state, room.report, timeline, ctx)
        posted = await fx.client.post_message(channel, text, blocks)
        await fx.remember(room, key, channel, str(posted["ts"]))


async def closing_summary(fx: EffectsBase, room: Room, end: str) -> None:
    """A one-line summary of the ended incident in the announcement channel, once."""
    announce = f"closing:{room.id}:{end}:announce"
    if not fx.incidents_channel or announce in room.refs:
        return
    text = render.closing_summary(room.state, room.report, await fx.ctx(room))
    posted = await best_effort(fx.client.post_message(fx.incidents_channel, text))
    where = str(posted["channel"]) if posted else fx.incidents_channel
    await fx.remember(room, announce, where, str(posted["ts"]) if posted else "")
