"""Slack listeners (Bolt): parse the payload, call one service, ack/respond. Nothing more.

One middleware puts who sent a request and what it acts on into Bolt's context
(:mod:`handlers.context`); one route turns whatever a listener raises into the person's
reply (:mod:`handlers.replies`); buttons go through one table (:mod:`handlers.actions`).
Listeners neither open database sessions nor kick delivery: both belong to the services.
"""

from __future__ import annotations

from typing import Any

from handlers import actions, alerts, commands, home, report, reports
from handlers.context import context_middleware
from handlers.deps import Deps
from handlers.guard import GuardedApp
from handlers.replies import error_route


def register(app: Any, deps: Deps) -> None:
    """Attach the context middleware, the error route and every listener to a Bolt
    ``AsyncApp``. ``actions`` goes last: it ends with the catch-all for unknown buttons."""
    route = error_route(deps.ui)
    app.use(context_middleware(deps.ui))
    app.error(route)
    guarded = GuardedApp(app, route)
    for module in (commands, report, home, alerts, reports, actions):
        module.register(guarded, deps)


__all__ = ["Deps", "register"]
