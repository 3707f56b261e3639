"""Every listener runs guarded: the person is looked up once the request is acknowledged,
and whatever the listener raises goes to the one error route (:mod:`handlers.replies`).

Bolt injects a listener's arguments by name. The guard takes them all (Bolt's ``args``)
and hands the listener what it declares: Bolt's own (``ack``, ``body``, ``view``...) and the
context middleware's (``person``, ``target``). Its ``ack`` answers Slack, then resolves the
``person`` (:class:`handlers.context.Person`), so no Web API call can delay an ack.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from slack_bolt.kwargs_injection.async_args import AsyncArgs
from slack_bolt.util.utils import get_arg_names_of_callable

from handlers.context import Person
from handlers.replies import ErrorRoute

Listener = Callable[..., Awaitable[Any]]
_REGISTRARS = frozenset({"command", "action", "view", "event", "shortcut", "options"})


def _argument(args: AsyncArgs, name: str) -> Any:
    return getattr(args, name) if hasattr(args, name) else args.context.get(name)


def guard(func: Listener, route: ErrorRoute) -> Listener:
    """``func`` as a listener that resolves the person after ack and routes its errors."""
    names = get_arg_names_of_callable(func)

    async def guarded(args: AsyncArgs) -> None:
        person: Person | None = args.context.get("person")

        async def ack(*ack_args: Any, **ack_kwargs: Any) -> None:
            await args.ack(*ack_args, **ack_kwargs)
            if person is not None:
                await person.resolve()

        try:
            if "ack" not in names and person is not None:
                await person.resolve()  # an event: Bolt acknowledged it already
            await func(**{n: ack if n == "ack" else _argument(args, n) for n in names})
        except Exception as error:
            await route(error, args.request, None)

    guarded.__name__ = func.__name__
    guarded.__qualname__ = func.__qualname__
    return guarded


class GuardedApp:
    """A view of a Bolt app whose listener decorators guard what they register."""

    def __init__(self, app: Any, route: ErrorRoute) -> None:
        self._app = app
        self._route = route

    def __getattr__(self, name: str) -> Any:
        attr = getattr(self._app, name)
        if name not in _REGISTRARS:
            return attr

        def registrar(*args: Any, **kwargs: Any) -> Callable[[Listener], Any]:
            decorator = attr(*args, **kwargs)
            return lambda func: decorator(guard(func, self._route))

        return registrar
