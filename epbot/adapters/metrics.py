"""Prometheus metrics: figures read from the database at scrape time, plus in-process counters.

Incident, page, step, timer and outbox figures are computed from the tables on every
scrape, so every replica behind a load balancer reports the same numbers and nothing is
lost on restart. Only what a single process sees (its Slack API calls, whether it leads
the timers) is counted in memory.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime

import sqlalchemy as sa
from prometheus_client import CollectorRegistry, Gauge, Histogram
from prometheus_client import Counter as PromCounter
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)
from prometheus_client.exposition import generate_latest
from prometheus_client.registry import Collector
from sqlalchemy.ext.asyncio import AsyncEngine

from epbot.adapters.db import models as m
from epbot.adapters.db.types import UTCDateTime
from epbot.domain.incident import StepStatus, TimerKind
from epbot.services.incidents import TIMER_ATTEMPTS

# Seconds: a page should be acknowledged within minutes; a timer should fire within seconds.
ACK_BUCKETS = (30.0, 60.0, 120.0, 300.0, 600.0, 900.0, 1800.0, 3600.0)
LATENESS_BUCKETS = (0.5, 1.0, 2.0, 5.0, 10.0, 15.0, 30.0, 60.0, 300.0)
SLACK_CALL_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
_REMINDER_KINDS = (TimerKind.STEP_REMINDER, TimerKind.STEP_DUE, TimerKind.STEP_NUDGE)


class SlackMetrics:
    """In-process counters of the Web API calls this process made."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.calls = PromCounter(
            "epbot_slack_api_calls",
            "Slack Web API calls by method and outcome (ok, or the Slack error)",
            ["method", "outcome"],
            registry=registry,
        )
        self.rate_limited = PromCounter(
            "epbot_slack_api_rate_limited",
            "HTTP 429 answers from Slack, including those retried",
            ["method"],
            registry=registry,
        )
        self.seconds = Histogram(
            "epbot_slack_api_call_seconds",
            "Duration of Slack Web API calls, retries included",
            ["method"],
            buckets=SLACK_CALL_BUCKETS,
            registry=registry,
        )

    def observe(self, method: str, outcome: str, seconds: float) -> None:
        self.calls.labels(method=method, outcome=outcome).inc()
        self.seconds.labels(method=method).observe(seconds)


class Metrics:
    """One process's registry: Slack counters, the leader gauge, and the database figures."""

    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine
        self.registry = CollectorRegistry(auto_describe=True)
        self.slack = SlackMetrics(self.registry)
        self.leader = Gauge(
            "epbot_timer_leader",
            "1 when this process runs the timers (holds the PostgreSQL advisory lock)",
            registry=self.registry,
        )
        self.scrape_errors = PromCounter(
            "epbot_metrics_database_errors",
            "Scrapes whose database figures could not be read",
            registry=self.registry,
        )
        # More figures read at scrape time (the report summary's gauges), each given ``now``.
        self.sources: list[Callable[[datetime], Awaitable[list[Metric]]]] = []

    async def render(self, *, now: datetime, within: float = 5.0) -> bytes:
        """The exposition text: in-process metrics, then the figures read from the database."""
        try:
            figures = await asyncio.wait_for(read_figures(self.engine, now), within)
        except Exception:  # the scrape still answers: the in-process half is still true
            self.scrape_errors.inc()
            figures = None
        registry = CollectorRegistry(auto_describe=False)
        registry.register(_Delegate(self.registry))
        if figures is not None:
            registry.register(_Static(figures.families()))
        for source in self.sources:
            try:
                registry.register(_Static(await asyncio.wait_for(source(now), within)))
            except Exception:
                self.scrape_errors.inc()
        return generate_latest(registry)


class _Delegate(Collector):
    def __init__(self, registry: CollectorRegistry) -> None:
        self._registry = registry

    def collect(self) -> Iterable[Metric]:
        return self._registry.collect()


class _Static(Collector):
    def __init__(self, families: list[Metric]) -> None:
        self._families = families

    def collect(self) -> Iterable[Metric]:
        return iter(self._families)


def _buckets(values: Sequence[float], bounds: Sequence[float]) -> list[tuple[str, float]]:
    """Cumulative Prometheus buckets (le=...) of ``values``, ending with +Inf."""
    out: list[tuple[str, float]] = []
    for bound in bounds:
        out.append((_le(bound), float(sum(1 for v in values if v <= bound))))
    out.append(("+Inf", float(len(values))))
    return out


def _le(bound: float) -> str:
    return str(float(bound))  # "120.0", as prometheus-client's own histograms write it


@dataclass
class Figures:
    """What the tables say at one moment."""

    incidents: Counter[tuple[str, str, str, str]] = field(default_factory=Counter)
    pages: Counter[tuple[str, str]] = field(default_factory=Counter)  # (reason, outcome)
    ack_seconds: list[float] = field(default_factory=list)
    steps_done: Counter[str] = field(default_factory=Counter)  # on_time / late
    steps_overdue_open: int = 0
    lateness: dict[str, list[float]] = field(default_factory=dict)  # timer kind -> seconds
    timers_pending: int = 0
    timers_overdue: int = 0
    timers_set_aside: int = 0
    outbox: Counter[str] = field(default_factory=Counter)
    outbox_oldest_pending_seconds: float = 0.0

    def families(self) -> list[Metric]:
        out: list[Metric] = []
        incidents = GaugeMetricFamily(
            "epbot_incidents",
            "Incidents by status (stage), severity, playbook and drill",
            labels=["status", "severity", "playbook", "drill"],
        )
        for labels, count in sorted(self.incidents.items()):
            incidents.add_metric(list(labels), count)
        out.append(incidents)

        sent = CounterMetricFamily(
            "epbot_pages_sent", "Pages sent (one per person per attempt)", labels=["reason"]
        )
        acked = CounterMetricFamily(
            "epbot_pages_acknowledged", "Pages acknowledged", labels=["reason"]
        )
        timed_out = CounterMetricFamily(
            "epbot_pages_timed_out", "Pages not acknowledged in time", labels=["reason"]
        )
        reasons = sorted({reason for reason, _ in self.pages})
        for reason in reasons:
            total = sum(n for (r, _), n in self.pages.items() if r == reason)
            sent.add_metric([reason], total)
            acked.add_metric([reason], self.pages[(reason, "acknowledged")])
            timed_out.add_metric([reason], self.pages[(reason, "timed_out")])
        out += [sent, acked, timed_out]

        ack = HistogramMetricFamily(
            "epbot_page_ack_seconds", "Time from page sent to acknowledged", unit=""
        )
        ack.add_metric([], _buckets(self.ack_seconds, ACK_BUCKETS), sum(self.ack_seconds))
        out.append(ack)

        steps = CounterMetricFamily(
            "epbot_steps_done", "Steps done, on time or after their deadline", labels=["timing"]
        )
        for timing in ("on_time", "late"):
            steps.add_metric([timing], self.steps_done[timing])
        out.append(steps)
        out.append(
            GaugeMetricFamily(
                "epbot_steps_overdue",
                "Open steps past their deadline",
                value=self.steps_overdue_open,
            )
        )

        lateness = HistogramMetricFamily(
            "epbot_timer_lateness_seconds",
            "How late timers fired: fired_at minus due_at",
            labels=["kind"],
        )
        for kind in sorted(self.lateness):
            values = self.lateness[kind]
            lateness.add_metric([kind], _buckets(values, LATENESS_BUCKETS), sum(values))
        out.append(lateness)
        out.append(
            GaugeMetricFamily(
                "epbot_timers_pending", "Timers waiting to fire", value=self.timers_pending
            )
        )
        out.append(
            GaugeMetricFamily(
                "epbot_timers_overdue",
                "Timers already due but not yet fired (should stay near 0)",
                value=self.timers_overdue,
            )
        )
        out.append(
            GaugeMetricFamily(
                "epbot_timers_set_aside",
                "Timers set aside after failing to fire repeatedly (see timer.last_error)",
                value=self.timers_set_aside,
            )
        )

        outbox = GaugeMetricFamily(
            "epbot_outbox_messages", "Outbox rows by status (pending = depth)", labels=["status"]
        )
        for status in sorted(set(self.outbox) | {"pending", "sent", "failed"}):
            outbox.add_metric([status], self.outbox[status])
        out.append(outbox)
        out.append(
            GaugeMetricFamily(
                "epbot_outbox_oldest_pending_seconds",
                "Age of the oldest pending outbox row (0 when none)",
                value=self.outbox_oldest_pending_seconds,
            )
        )
        return out


def _utc(value: object, dialect: sa.Dialect) -> datetime | None:
    return UTCDateTime().process_result_value(value, dialect)


async def read_figures(engine: AsyncEngine, now: datetime) -> Figures:
    """Read every database figure in one read-only pass (a few grouped queries)."""
    figures = Figures()
    dialect = engine.dialect
    utc: Callable[[object], datetime | None] = lambda v: _utc(v, dialect)  # noqa: E731
    i, p, s, t, o = (
        m.Incident.__table__,  # type: ignore[attr-defined]
        m.Page.__table__,  # type: ignore[attr-defined]
        m.StepInstance.__table__,  # type: ignore[attr-defined]
        m.Timer.__table__,  # type: ignore[attr-defined]
        m.OutboxMessage.__table__,  # type: ignore[attr-defined]
    )
    async with engine.connect() as conn:
        keys = (i.c.status, i.c.severity, i.c.playbook_id, i.c.drill)
        rows = await conn.execute(sa.select(*keys, sa.func.count()).group_by(*keys))
        for status, severity, playbook, drill, count in rows:
            key = (str(status), str(severity), str(playbook), "true" if drill else "false")
            figures.incidents[key] += int(count)

        for reason, sent_at, acked_at, timed_out_at in await conn.execute(
            sa.select(p.c.reason, p.c.sent_at, p.c.acked_at, p.c.timed_out_at)
        ):
            outcome = "acknowledged" if acked_at else "timed_out" if timed_out_at else "open"
            figures.pages[(str(reason), outcome)] += 1
            sent, acked = utc(sent_at), utc(acked_at)
            if sent is not None and acked is not None:
                figures.ack_seconds.append(max(0.0, (acked - sent).total_seconds()))

        for status, due_at, done_at, overdue_at in await conn.execute(
            sa.select(s.c.status, s.c.due_at, s.c.done_at, s.c.overdue_at)
        ):
            due, done = utc(due_at), utc(done_at)
            if status == StepStatus.DONE.value and done is not None:
                late = due is not None and done > due
                figures.steps_done["late" if late else "on_time"] += 1
            elif status in (StepStatus.OPEN.value, StepStatus.AWAITING_APPROVAL.value) and (
                overdue_at is not None or (due is not None and due <= now)
            ):
                figures.steps_overdue_open += 1

        for kind, due_at, fired_at, cancelled, attempts in await conn.execute(
            sa.select(t.c.kind, t.c.due_at, t.c.fired_at, t.c.cancelled, t.c.attempts)
        ):
            due, fired = utc(due_at), utc(fired_at)
            if cancelled or due is None:
                continue
            if fired is not None and attempts >= TIMER_ATTEMPTS:
                figures.timers_set_aside += 1  # kept failing: never fired, not lateness
                continue
            if fired is None:
                figures.timers_pending += 1
                figures.timers_overdue += int(due <= now)
                continue
            figures.lateness.setdefault(str(kind), []).append(
                max(0.0, (fired - due).total_seconds())
            )
        for kind in _REMINDER_KINDS:
            figures.lateness.setdefault(kind.value, [])

        oldest: datetime | None = None
        for status, count, first in await conn.execute(
            sa.select(o.c.status, sa.func.count(), sa.func.min(o.c.created_at)).group_by(
                o.c.status
            )
        ):
            figures.outbox[str(status)] += int(count)
            if status == "pending":
                oldest = utc(first)
        if oldest is not None:
            figures.outbox_oldest_pending_seconds = max(0.0, (now - oldest).total_seconds())
    return figures

