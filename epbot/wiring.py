"""The composition root: builds settings, database, services and the Slack app once."""

from __future__ import annotations

from typing import TextIO

from epbot.adapters.db.migrate import upgrade
from epbot.config import Settings, require_slack


def serve(settings: Settings, *, out: TextIO) -> int:
    """Check the configuration, migrate the database, then run the bot."""
    require_slack(settings)
    upgrade(settings.database_url)
    out.write("epbot: the Slack interface is not built yet (see the open Slack issue)\n")
    return 3
