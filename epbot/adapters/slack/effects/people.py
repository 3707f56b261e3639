"""A person's DMs: the page they must acknowledge and the approval request they must
decide, each kept current (acknowledged, decided, ended) wherever a copy was posted."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable

from epbot.adapters.slack import render
from epbot.adapters.slack.effects import digest
from epbot.adapters.slack.effects.common import (
    EffectsBase,
    Event,
    Room,
    channel_link,
)
from epbot.domain import incident as dom

log = logging.getLogger(__name__)


async def page_dm(fx: EffectsBase, room: Room, event: Event, person: str | None) -> None:
    """The page to the paged person (or only to ``person``), with its acknowledge button.

    The pages sent to one person at one moment (``data.group``) make one DM, remembered
    under every page's key; a page of a group already posted is already in it."""
    data = event.get("data", {})
    if person is not None and str(data.get("person")) != person:
        return
    page_key = str(data.get("page"))
    key = f"page:{room.id}:{page_key}"
    page = next((p for p in room.state.pages if p.key == page_key), None)
    user = await fx.client.user_id(str(data.get("person")))
    if page is None or user is None:
        log.warning("incident %s: cannot reach %s for page %s", room.id, data, page_key)
        return
    if key in room.refs:
        return
    group = [f"page:{room.id}:{p.key}" for p in dom.page_group(room.state, page)]
    posted = next((room.refs[k] for k in group if k in room.refs), None)
    if posted is not None:  # the group's DM exists (a retried row): it lists this page too
        await fx.remember(room, key, posted.channel, posted.ts)
        await page_changed(fx, room, page_key)
        return
    ctx = await fx.ctx(room, await fx.client.locale(user))
    text, blocks = render.page_message(room.state, page, ctx, channel_link=channel_link(room))
    if await fx.post_and_remember(room, key, user, text, blocks):
        ref = room.refs[key]
        for other in group:
            if other not in room.refs:
                await fx.remember(room, other, ref.channel, ref.ts)
        await _catch_up(fx, room, lambda fresh: page_changed(fx, fresh, page_key))


async def on_page_changed(fx: EffectsBase, room: Room, event: Event) -> None:
    """Edit the DM of every page the event answered or timed out (``data.pages``)."""
    data = event.get("data", {})
    keys = [str(k) for k in data.get("pages") or ()] or [str(data.get("page"))]
    edited: set[tuple[str, str]] = set()
    for page_key in dict.fromkeys(keys):
        ref = room.refs.get(f"page:{room.id}:{page_key}")
        if ref is not None and (ref.channel, ref.ts) not in edited:
            edited.add((ref.channel, ref.ts))
            await page_changed(fx, room, page_key)


async def page_changed(fx: EffectsBase, room: Room, page_key: str) -> None:
    """Edit the page's DM (its group's) to what is true now (acknowledged, timed out, ended)."""
    ref = room.refs.get(f"page:{room.id}:{page_key}")
    page = next((p for p in room.state.pages if p.key == page_key), None)
    if ref is None or page is None:
        return  # not posted yet: the person lane posts the current state
    user = page.person if "@" not in page.person else await fx.client.user_id(page.person)
    ctx = await fx.ctx(room, await fx.client.locale(user) if user else None)
    text, blocks = render.page_message(room.state, page, ctx, channel_link=channel_link(room))
    await fx.edit_once(room, ref, text, blocks)


async def _catch_up(fx: EffectsBase, room: Room, update: Callable[[Room], Awaitable[None]]) -> None:
    """A DM was rendered from the state loaded before it was posted; if the incident
    moved on meanwhile (the room's stream could not edit a message not yet posted),
    edit it to what is true now, so no stale button stays live."""
    fresh = await fx.load(room.id)
    if fresh.row.version != room.row.version:
        await update(fresh)


async def approval_dm(fx: EffectsBase, room: Room, event: Event, person: str | None) -> None:
    """The approval request to each approver (or only to ``person``)."""
    data = event.get("data", {})
    key = str(data.get("approval"))
    approval = room.state.approvals.get(key)
    if approval is None:
        return
    people = [person] if person is not None else [str(p) for p in data.get("approvers") or ()]
    for each in people:
        user = await fx.client.user_id(each)
        ref_key = f"approval:{room.id}:{key}:{user}"
        if user is None or ref_key in room.refs:
            continue
        ctx = await fx.ctx(room, await fx.client.locale(user))
        text, blocks = render.approval_message(room.state, approval, ctx)
        if await fx.post_and_remember(room, ref_key, user, text, blocks):
            await _catch_up(fx, room, lambda fresh: approval_changed(fx, fresh, key))


async def on_approval_changed(fx: EffectsBase, room: Room, event: Event) -> None:
    await approval_changed(fx, room, str(event.get("data", {}).get("approval")))


async def approval_changed(fx: EffectsBase, room: Room, key: str) -> None:
    """Edit every copy of the request (each approver's DM, the thread's) to what is true
    now: decided or expired, without buttons."""
    approval = room.state.approvals.get(key)
    if approval is None:
        return
    prefix = f"approval:{room.id}:{key}:"
    for ref_key, ref in sorted(room.refs.items()):
        if ref_key.startswith(prefix):
            user = ref_key.removeprefix(prefix)
            locale = None if user == "thread" else await fx.client.locale(user)
            ctx = await fx.ctx(room, locale)
            text, blocks = render.approval_message(room.state, approval, ctx)
            await fx.edit_once(room, ref, text, blocks)


async def reminder_dm(fx: EffectsBase, room: Room, event: Event, person: str | None) -> None:
    """A step's reminder to its assignee (or only to ``person``): the one DM that lists
    all of their deadlines in this incident (``digest``)."""
    assignee = (event.get("data") or {}).get("assignee")
    if assignee and (person is None or person == assignee):
        await digest.reminder_dm(fx, room, str(assignee))


async def confirmation_dm(fx: EffectsBase, room: Room, event: Event, person: str | None) -> None:
    """What a person asked for themselves (a snooze, "I'm on it"), told back to them in a
    DM: the same words as the thread line, which say that the deadline still stands."""
    actor = str(event.get("actor") or "")
    if not actor or (person is not None and person != actor):
        return
    user = await fx.client.user_id(actor)
    data = event.get("data") or {}
    key = f"confirm:{room.id}:{event.get('kind')}:{data.get('step')}:{event.get('at')}"[:120]
    if user is None or key in room.refs:
        return
    ctx = await fx.ctx(room, await fx.client.locale(user))
    text = render.confirmation_text(room.state, event, ctx)
    if text:
        await fx.post_and_remember(room, key, user, text)
