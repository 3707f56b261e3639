"""`epbot drills list`: the drill programme (playbooks/drills.yaml) and each drill's next runs."""

from __future__ import annotations

from typing import TextIO

from epbot.adapters.clock import SystemClock
from epbot.adapters.drill_files import next_runs
from epbot.adapters.report_files import Words, render_incident_text
from epbot.config import Settings
from epbot.domain.drills import starter


def list_drills(settings: Settings, count: int, out: TextIO) -> int:
    from epbot.wiring import load_library  # the same start-up check as `epbot serve`

    current = load_library(settings).current
    words = Words(settings.locale, settings.tz, current.matrix, None)
    now = SystemClock().now()
    rows = []
    for drill in current.drills.drills:
        playbook = current.get(drill.playbook)
        severity = drill.severity or (playbook.default_severity if playbook else None)
        person = starter(drill, current.matrix)
        schedule = drill.schedule.cron or ", ".join(
            d.isoformat(sep=" ", timespec="minutes") for d in drill.schedule.dates
        )
        rows.append(
            {
                "drill": drill,
                "title": drill.title.get(settings.locale),
                "severity": severity.value if severity else None,
                "schedule": schedule,
                "starter": f"{words.role(drill.started_by)} → {words.person(person)}"
                if person != drill.started_by
                else words.person(person),
                "runs": next_runs(drill, now, settings.tz, count),
            }
        )
    text = render_incident_text("report/drills_list.txt.j2", {**words.vars(), "drills": rows})
    out.write(text.strip() + "\n")
    return 0
