"""Every listener runs guarded: an error after ``ack()`` is logged and told to the user.

Without this, a listener that acks and then raises (a Web API call failing, say) leaves
the user with nothing, and Bolt 1.30 resets the ack it already has, so Slack gets a 404
after three seconds. The guard keeps the ack, logs the error with its traceback (secrets
are redacted by the log filter) and, where the payload has a ``response_url``, answers
the user ephemerally in their language.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from epbot.adapters.slack import render
from handlers.deps import Deps

log = logging.getLogger("handlers")

Listener = Callable[..., Awaitable[Any]]
_REGISTRARS = frozenset({"command", "action", "view", "event", "shortcut", "options"})


def guard(func: Listener, deps: Deps) -> Listener:
    """Wrap a listener; Bolt still injects the wrapped function's own arguments."""

    @functools.wraps(func)
    async def guarded(**kwargs: Any) -> Any:
        try:
            return await func(**kwargs)
        except Exception:
            log.exception("listener %s failed", func.__qualname__)
            await _tell_user(deps, kwargs)
            return None

    return guarded


async def _tell_user(deps: Deps, kwargs: dict[str, Any]) -> None:
    # Only the arguments the listener itself declares are injected: use what is there.
    respond = kwargs.get("respond")
    if respond is None:
        return
    payload = kwargs.get("command") or kwargs.get("body") or kwargs.get("payload") or {}
    user = payload.get("user_id") or (payload.get("user") or {}).get("id")
    try:
        locale = await deps.ui.locale(str(user)) if user else "en"
        await respond(text=render.label(locale, "error.internal"), response_type="ephemeral")
    except Exception:  # no response_url, or Slack unreachable: the log above has the error
        log.warning("could not tell the user about a failed listener", exc_info=True)


class GuardedApp:
    """A view of a Bolt app whose listener decorators guard what they register."""

    def __init__(self, app: Any, deps: Deps) -> None:
        self._app = app
        self._deps = deps

    def __getattr__(self, name: str) -> Any:
        attr = getattr(self._app, name)
        if name not in _REGISTRARS:
            return attr

        def registrar(*args: Any, **kwargs: Any) -> Callable[[Listener], Any]:
            decorator = attr(*args, **kwargs)
            return lambda func: decorator(guard(func, self._deps))

        return registrar
