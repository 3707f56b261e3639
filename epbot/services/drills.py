"""Starting scheduled drills: once each, at their time, whichever process gets there first.

A drill run is a row keyed by (drill id, scheduled time). Every process may look for due
runs; the one whose insert succeeds declares the drill (``IncidentService.declare`` with
``drill=True`` and an idempotency key of the run) and posts the scenario. A process that
died between the claim and the declaration leaves a run with no incident: after a grace
period another process takes the claim over and declares it under the same key, so the
drill still starts exactly once.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from epbot.domain import incident as dom
from epbot.domain.drills import Drill, DrillPlan, starter
from epbot.domain.matrix import Matrix
from epbot.services.incidents import IncidentService
from epbot.services.ports import DrillStore, DrillTx

log = logging.getLogger(__name__)

CATCH_UP = timedelta(hours=1)  # a run missed while every process was down still starts
TAKE_OVER_AFTER = timedelta(minutes=2)  # a claim with no incident after this is abandoned

# The drill's scheduled times in (after, until], as UTC, in the configured zone.
Schedule = Callable[[Drill, datetime, datetime, ZoneInfo], list[datetime]]


@dataclass(frozen=True)
class Started:
    drill_id: str
    scheduled_for: datetime
    incident_id: int


class DrillService:
    """Finds due drill runs, claims each once across processes, and declares the drill.

    ``words`` are the report's words in ``locale`` (``drill.place``, ``drill.scope``,
    ``drill.trend``, ``drill.measures``, ``drill.scenario``).
    """

    def __init__(
        self,
        *,
        store: DrillStore,
        incidents: IncidentService,
        plan: Callable[[], DrillPlan],
        matrix: Callable[[], Matrix],
        schedule: Schedule,
        words: Mapping[str, str],
        tz: ZoneInfo,
        locale: str,
    ) -> None:
        self.store = store
        self.incidents = incidents
        self.plan, self._matrix = plan, matrix
        self.schedule, self.words = schedule, words
        self.tz, self.locale = tz, locale
        self.holder = incidents.holder

    async def run_due(self, now: datetime, *, since: datetime | None = None) -> list[Started]:
        """Start every run scheduled in (since, now] (default: the last hour) not yet started."""
        after = since if since is not None else now - CATCH_UP
        started = []
        for drill in self.plan().drills:
            for at in self.schedule(drill, after, now, self.tz):
                if await self._claim(drill.id, at, now):
                    started.append(await self._start(drill, at))
        return started

    async def _claim(self, drill_id: str, at: datetime, now: datetime) -> bool:
        """True if this process now owns the run: it inserted the row, or took over a stale one."""

        async def work(tx: DrillTx) -> bool:
            return await tx.claim_drill_run(
                drill_id, at, holder=self.holder, now=now, stale_before=now - TAKE_OVER_AFTER
            )

        return await self.store.write(work)

    async def _start(self, drill: Drill, at: datetime) -> Started:
        matrix = self._matrix()
        person = starter(drill, matrix) or drill.started_by
        words = self.words
        lang = "en" if self.locale.lower().startswith("en") else "zh-CN"
        scenario = drill.scenario.get(lang) if drill.scenario else None
        run_key = f"drill:{drill.id}:{at.isoformat()}"
        outcome = await self.incidents.declare(
            key=run_key,
            playbook=drill.playbook,
            severity=drill.severity,
            report=dom.ReportFields(
                occurred_at=at,
                place=words["drill.place"],
                nature=scenario or drill.title.get(lang),
                scope=words["drill.scope"],
                trend=words["drill.trend"],
                measures=words["drill.measures"],
                unit_id=drill.unit,
                contact_phone=drill.contact_phone,
                title=drill.title.get(lang),
            ),
            reporter=person,
            drill=True,
        )

        async def link(tx: DrillTx) -> None:
            await tx.set_drill_incident(drill.id, at, outcome.incident_id)

        await self.store.write(link)
        if scenario:
            await self.incidents.post_update(
                key=f"{run_key}:scenario",
                incident_id=outcome.incident_id,
                actor=person,
                text=words["drill.scenario"].format(text=scenario),
            )
        log.info("drill %s scheduled for %s started", drill.id, at.isoformat())
        return Started(drill.id, at, outcome.incident_id)
