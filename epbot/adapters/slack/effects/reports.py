"""What the plan's reports (issue 15) mean in Slack, per audience.

- ``report_sent`` / ``final_report``: the report (信息报告 / 续报 / 终报) as a DM to each
  person of the step's recipient roles and as a post in each recipient unit's channel,
  linking the incident channel. Rendered from the event's own copy of the report, so each
  recipient reads exactly the version that was sent.
- ``progress_report_due``: a DM to the commander with the button that opens the 续报 form.
- ``cancelled`` (误报) / ``resolved``: the page DMs are edited to say so and lose their
  acknowledge button (a page ends with its incident); a false alarm's notices lose their
  receipt button.
- ``receipt_overdue``: a reminder under the notice in the late unit's channel;
  ``receipt_confirmed``: the notice is edited to say who confirmed, without its button.

Wired in :mod:`epbot.adapters.slack.effects.dispatch` (``PERSON_HANDLERS``, ``ROOM_HANDLERS``
and ``_to_channel``); the audiences come from :func:`epbot.domain.audience.audiences`. Every
post is remembered in ``message_ref`` under a key naming the event's time and the
recipient, so a retried row never posts twice.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from epbot.adapters.slack import receipt_render, report_render
from epbot.adapters.slack.effects.common import (
    EffectsBase,
    Event,
    Room,
    channel_link,
)
from epbot.adapters.slack.effects.people import page_changed

REPORT_KINDS = frozenset({"report_sent", "final_report"})


def _key(room: Room, event: Event, who: str) -> str:
    """One message per event and recipient: two reports sent at the same instant (a frozen
    test clock, or a report and the final report) still differ in kind or content."""
    body = json.dumps(
        [event.get("kind"), event.get("at"), event.get("data")], sort_keys=True, default=str
    )
    digest = hashlib.sha256(body.encode()).hexdigest()[:16]
    return f"report:{room.id}:{digest}:{who}"[:120]


async def report_dm(fx: EffectsBase, room: Room, event: Event, person: str | None) -> None:
    """The report to one recipient (or, for a pre-lane row, to every one) by DM."""
    data = event.get("data") or {}
    people = [person] if person is not None else [str(p) for p in data.get("people") or ()]
    for each in people:
        key = _key(room, event, each)
        user = await fx.client.user_id(each)
        if user is None or key in room.refs:
            continue
        ctx = await fx.ctx(room, await fx.client.locale(user))
        text, blocks = report_render.report_message(
            room.state, event, ctx, channel_link=channel_link(room)
        )
        await fx.post_and_remember(room, key, user, text, blocks)


async def report_post(fx: EffectsBase, room: Room, event: Event, only: str | None) -> None:
    """The report in each recipient unit's channel (or only in ``only``)."""
    data = event.get("data") or {}
    for channel in data.get("channels") or ():
        key = _key(room, event, str(channel))
        if key in room.refs or (only is not None and str(channel) != only):
            continue
        ctx = await fx.ctx(room)
        text, blocks = report_render.report_message(
            room.state, event, ctx, channel_link=channel_link(room)
        )
        await fx.post_and_remember(room, key, str(channel), text, blocks)


async def progress_prompt_dm(fx: EffectsBase, room: Room, event: Event, person: str | None) -> None:
    """The 续报 prompt to the commander, with its button."""
    commander = str((event.get("data") or {}).get("commander") or "")
    if not commander or (person is not None and person != commander):
        return
    key = f"progress:{room.id}:{event.get('at')}"[:120]
    user = await fx.client.user_id(commander)
    if user is None or key in room.refs or not room.state.is_open:
        return
    ctx = await fx.ctx(room, await fx.client.locale(user))
    text, blocks = report_render.progress_prompt(room.state, event, ctx)
    await fx.post_and_remember(room, key, user, text, blocks)


async def receipt_nudge(fx: EffectsBase, room: Room, event: Event, only: str | None) -> None:
    """A late receipt: a reminder under the notice in the unit's channel."""
    data = event.get("data") or {}
    channel = str(data.get("channel") or "")
    if not channel or (only is not None and channel != only):
        return
    key = f"receipt:{room.id}:{data.get('step')}@{data.get('unit')}:{event.get('at')}"[:120]
    notice = room.refs.get(f"broadcast:{room.id}:{data.get('step')}:{channel}")
    if key in room.refs:
        return
    text = receipt_render.nudge_text(room.state, event, await fx.ctx(room))
    thread = notice.ts if notice is not None and notice.ts else None
    await fx.post_and_remember(room, key, channel, text, thread_ts=thread)


async def receipt_changed(fx: EffectsBase, room: Room, event: Event) -> None:
    """A receipt was confirmed: the notice in that unit's channel says by whom, no button."""
    data = event.get("data") or {}
    channel = str(data.get("channel") or "")
    ref = room.refs.get(f"broadcast:{room.id}:{data.get('step')}:{channel}")
    if ref is None:
        return
    notice = {"kind": "broadcast", "data": _broadcast_data(room, str(data.get("step")))}
    ctx = await fx.ctx(room)
    text, blocks = receipt_render.broadcast_message(room.state, notice, ctx, channel)
    await fx.edit_once(room, ref, text, blocks)


def _broadcast_data(room: Room, step_id: str) -> dict[str, Any]:
    """What the notice said (its step's message), to re-render it when it is edited."""
    spec = room.state.playbook.step(step_id)
    message = spec.message or spec.title
    return {"step": step_id, "message_zh": message.zh_CN, "message_en": message.en}


async def pages_end(fx: EffectsBase, room: Room, _event: Event) -> None:
    """The incident ended: every page DM says so and loses its acknowledge button, and a
    notice of a false alarm no longer asks for a receipt."""
    for page in room.state.pages:
        await page_changed(fx, room, page.key)
    if room.state.status.value != "cancelled":
        return
    for receipt in room.state.receipts:
        if receipt.confirmed_at is None:
            event = {"data": {"step": receipt.step_id, "channel": receipt.channel}}
            await receipt_changed(fx, room, event)
