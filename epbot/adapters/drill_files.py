"""``playbooks/drills.yaml``: reading it with located errors, and its schedule (croniter)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from croniter import croniter

from epbot.adapters.playbook_files import DRILLS_FILE, LoadError, read_marked
from epbot.domain.drills import Drill, DrillPlan, check_drills, parse_drills
from epbot.domain.matrix import Matrix

__all__ = ["DRILLS_FILE", "cron_problem", "load_drills", "next_runs", "runs_between"]


def cron_problem(expression: str) -> str | None:
    """Why a cron expression (5 fields: minute hour day month weekday) does not parse."""
    if len(expression.split()) != 5:
        return "use 5 fields: minute hour day-of-month month day-of-week"
    if not croniter.is_valid(expression):
        return "not a valid cron expression"
    return None


def load_drills(
    path: Path, playbooks: Sequence[str], matrix: Matrix | None
) -> tuple[DrillPlan, list[LoadError]]:
    """The drill plan next to the playbooks (no file: no drills) and its located errors."""
    if not path.is_file():
        return DrillPlan(), []
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        return DrillPlan(), [LoadError(str(path), 0, 0, f"cannot read: {exc}")]
    doc, errors = read_marked(text, str(path))
    if errors:
        return DrillPlan(), errors
    plan, issues = parse_drills(doc.data)
    if plan is not None:
        issues = check_drills(plan, playbooks=playbooks, matrix=matrix, cron_problem=cron_problem)
    errors = [doc.locate(issue) for issue in issues]
    return (plan if plan is not None and not errors else DrillPlan()), errors


def _aware(at: datetime, tz: ZoneInfo) -> datetime:
    return at.replace(tzinfo=tz) if at.tzinfo is None else at


def runs_between(drill: Drill, after: datetime, until: datetime, tz: ZoneInfo) -> list[datetime]:
    """The drill's scheduled times in (after, until], as UTC."""
    if drill.schedule.cron is None:
        times = (_aware(d, tz).astimezone(UTC) for d in drill.schedule.dates)
        return sorted(t for t in times if after < t <= until)
    out: list[datetime] = []
    it = croniter(drill.schedule.cron, after.astimezone(tz))
    while True:
        at = it.get_next(datetime).astimezone(UTC)
        if at > until:
            return out
        out.append(at)


def next_runs(drill: Drill, after: datetime, tz: ZoneInfo, count: int = 3) -> list[datetime]:
    """The next ``count`` scheduled times after ``after``, as UTC (fewer for dates)."""
    if drill.schedule.cron is None:
        times = sorted(_aware(d, tz).astimezone(UTC) for d in drill.schedule.dates)
        return [t for t in times if t > after][:count]
    it = croniter(drill.schedule.cron, after.astimezone(tz))
    return [it.get_next(datetime).astimezone(UTC) for _ in range(count)]
