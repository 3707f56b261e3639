"""What every listener receives: the engine and the Slack-side helpers."""

from __future__ import annotations

from dataclasses import dataclass

from epbot.adapters.slack.interactions import Interactions
from epbot.services.incidents import IncidentService


@dataclass(frozen=True)
class Deps:
    service: IncidentService
    ui: Interactions
