"""The summary's figures (``epbot report summary``) as Prometheus gauges, read at scrape time.

Per playbook, severity and real/drill, over every incident not cancelled: how many, time to
first acknowledgement and to resolution (median and p90, as a ``quantile`` label), the share
of deadlines met, and the 15-minute rule's compliance for major events.
"""

from __future__ import annotations

from datetime import datetime

from prometheus_client.core import GaugeMetricFamily
from prometheus_client.metrics_core import Metric
from sqlalchemy.ext.asyncio import AsyncEngine

from epbot.adapters.db.store import SqlStore
from epbot.domain.reports import IncidentFigures, SummaryRow, summarize
from epbot.services.ports import PlaybookSource
from epbot.services.reports import incident_figures

LABELS = ["playbook", "severity", "drill"]


class ReportMetrics:
    """A metrics source: ``await source(now)`` gives the summary's gauge families."""

    def __init__(self, engine: AsyncEngine, playbooks: PlaybookSource) -> None:
        self.store, self.playbooks = SqlStore(engine), playbooks
        self._cache: dict[tuple[int, int], IncidentFigures] = {}

    async def __call__(self, now: datetime) -> list[Metric]:
        figures = await incident_figures(
            self.store, matrix=self.playbooks.current.matrix, now=now, cache=self._cache
        )
        return families(summarize(figures))


def families(rows: list[SummaryRow]) -> list[Metric]:
    count = GaugeMetricFamily(
        "epbot_report_incidents", "Incidents not cancelled (report summary)", labels=LABELS
    )
    ack = GaugeMetricFamily(
        "epbot_report_first_ack_seconds",
        "Declaration to first acknowledged page, median and p90",
        labels=[*LABELS, "quantile"],
    )
    resolve = GaugeMetricFamily(
        "epbot_report_resolve_seconds",
        "Declaration to resolution, median and p90",
        labels=[*LABELS, "quantile"],
    )
    met = GaugeMetricFamily(
        "epbot_report_deadlines_met_ratio", "Share of step deadlines met", labels=LABELS
    )
    major = GaugeMetricFamily(
        "epbot_report_major_reported_in_15_min_ratio",
        "Major events (I, II) reported to the leadership group within 15 minutes (Art. 5.1)",
        labels=LABELS,
    )
    for r in rows:
        key = [r.playbook, r.severity, "true" if r.drill else "false"]
        count.add_metric(key, r.count)
        for quantile, value in (("0.5", r.first_ack_median), ("0.9", r.first_ack_p90)):
            if value is not None:
                ack.add_metric([*key, quantile], value)
        for quantile, value in (("0.5", r.resolve_median), ("0.9", r.resolve_p90)):
            if value is not None:
                resolve.add_metric([*key, quantile], value)
        if r.deadlines_share is not None:
            met.add_metric(key, r.deadlines_share)
        if r.major_share is not None:
            major.add_metric(key, r.major_share)
    return [count, ack, resolve, met, major]
