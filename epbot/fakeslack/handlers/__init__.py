"""Handlers for the Web API methods the fake implements, by method name."""

from epbot.fakeslack.handlers import chat, conversations, files, misc, users, views
from epbot.fakeslack.handlers.common import Ctx, Handler

HANDLERS: dict[str, Handler] = {
    **chat.HANDLERS,
    **conversations.HANDLERS,
    **files.HANDLERS,
    **misc.HANDLERS,
    **users.HANDLERS,
    **views.HANDLERS,
}

__all__ = ["HANDLERS", "Ctx", "Handler"]
