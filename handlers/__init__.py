"""Slack listeners (Bolt): parse the payload, call one service, ack/respond. Nothing more."""

from __future__ import annotations

from typing import Any

from handlers import actions, alerts, commands, home, report, reports
from handlers.deps import Deps
from handlers.guard import GuardedApp


def register(app: Any, deps: Deps) -> None:
    """Attach every listener to a Bolt ``AsyncApp``."""
    guarded = GuardedApp(app, deps)
    for module in (commands, report, actions, home, alerts, reports):
        module.register(guarded, deps)


__all__ = ["Deps", "register"]
