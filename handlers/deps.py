"""What every listener receives: the engine and the Slack-side helpers."""

from __future__ import annotations

from dataclasses import dataclass

from epbot.adapters.slack.alert_ui import AlertInteractions
from epbot.adapters.slack.interactions import Interactions
from epbot.adapters.slack.report_upload import ReportUploads
from epbot.services.alerts import AlertService
from epbot.services.incidents import IncidentService


@dataclass(frozen=True)
class Deps:
    service: IncidentService
    ui: Interactions
    alerts: AlertService  # early warning (handlers/alerts.py)
    alert_ui: AlertInteractions
    reports: ReportUploads | None = None  # /incident report (handlers/reports.py)
