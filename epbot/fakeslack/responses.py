"""What happens to an answer the bot sends to a ``response_url``."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from epbot.fakeslack.workspace import Ephemeral, Message, Workspace


@dataclass(frozen=True)
class ResponseTarget:
    """Where a response_url points: the conversation, the user, and the source message."""

    channel_id: str = ""
    user_id: str = ""
    message_ts: str = ""


def handle_response_url(ws: Workspace, target: ResponseTarget, payload: dict[str, Any]) -> None:
    """Apply a response_url payload: replace/delete the source message, post, or whisper."""
    text = str(payload.get("text") or "")
    blocks = payload.get("blocks")
    blocks = blocks if isinstance(blocks, list) else None
    source = ws.find_message(target.channel_id, target.message_ts) if target.message_ts else None
    if source is not None and payload.get("delete_original"):
        ws.history(target.channel_id).remove(source)
        ws.emit("message_deleted", channel=target.channel_id, ts=source.ts)
    elif source is not None and payload.get("replace_original"):
        source.text, source.blocks = text, blocks
        source.edited = {"user": ws.bot.id, "ts": ws.next_ts()}
        ws.emit("message_updated", channel=target.channel_id, ts=source.ts, text=text)
    elif target.channel_id and payload.get("response_type") == "in_channel":
        ws.add_message(
            Message(
                channel=target.channel_id,
                ts=ws.next_ts(),
                text=text,
                user=ws.bot.id,
                bot_id=ws.bot_id,
                blocks=blocks,
                thread_ts=payload.get("thread_ts"),
            )
        )
    else:
        # A whisper answering a click in a thread shows in that thread, as in Slack.
        thread = source.thread_ts if source is not None and source.is_reply else None
        ephemeral = Ephemeral(target.channel_id, target.user_id, ws.next_ts(), text, blocks, thread)
        ws.ephemerals.append(ephemeral)
        ws.emit(
            "ephemeral_posted",
            channel=target.channel_id,
            user=target.user_id,
            ts=ephemeral.ts,
            text=text,
        )
