"""A unit's channel: the notice a broadcast step sends there (with the receipt, 回执,
button when the step asks one). The reports and the receipt reminders a unit's channel
also gets are in ``reports``."""

from __future__ import annotations

from epbot.adapters.slack import receipt_render
from epbot.adapters.slack.effects.common import EffectsBase, Event, Room


async def broadcast(fx: EffectsBase, room: Room, event: Event, only: str | None) -> None:
    """The notice in each of the step's channels (or only in ``only``)."""
    data = event.get("data", {})
    step = str(data.get("step"))
    ctx = await fx.ctx(room)
    for channel in data.get("channels") or ():
        key = f"broadcast:{room.id}:{step}:{channel}"
        if key in room.refs or (only is not None and str(channel) != only):
            continue
        # The unit's responsible person and the receipt (回执) button, when asked for.
        text, blocks = receipt_render.broadcast_message(room.state, event, ctx, str(channel))
        await fx.post_and_remember(room, key, str(channel), text, blocks)
