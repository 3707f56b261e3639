"""The drill programme (plan Art. 2: regular drills keep the plan effective), as data.

``playbooks/drills.yaml`` lists each drill: which playbook, how severe, when (a cron
expression or dates, in the configured time zone), who starts it, and an optional scenario
read out at the start. Pure: parsing cron expressions is the adapter's job, handed in here
as ``cron_problem`` so this module stays stdlib + pydantic.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from epbot.domain.matrix import Matrix
from epbot.domain.playbook import Severity, Text
from epbot.domain.validation import Issue, pydantic_issues

_ID = re.compile(r"^[a-z0-9][a-z0-9-]{0,63}$")
_SLACK_USER = re.compile(r"^[UW][A-Z0-9]{2,}$")


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", populate_by_name=True)


class DrillSchedule(_Frozen):
    """Either a cron expression (5 fields) or a list of dates and times; zone: EPBOT_TIMEZONE."""

    cron: str | None = None
    dates: tuple[datetime, ...] = ()

    @model_validator(mode="after")
    def _one_of(self) -> DrillSchedule:
        if (self.cron is None) == (not self.dates):
            raise ValueError("give either cron or dates (not both, not neither)")
        return self


class Drill(_Frozen):
    id: str = Field(pattern=_ID.pattern)
    playbook: str
    severity: Severity | None = None  # the playbook's default when left out
    schedule: DrillSchedule
    started_by: str  # a role id (its first person starts it) or a Slack user id
    unit: str  # the reporting unit (Art. 5.1 "full name of the unit")
    contact_phone: str = "-"
    title: Text
    scenario: Text | None = None  # read out in the channel at the start


class DrillPlan(_Frozen):
    drills: tuple[Drill, ...] = ()

    def get(self, drill_id: str) -> Drill | None:
        return next((d for d in self.drills if d.id == drill_id), None)


def parse_drills(data: Any) -> tuple[DrillPlan | None, list[Issue]]:
    """Build the drill plan from raw (YAML-loaded) data; an empty file is an empty plan."""
    if data is None:
        return DrillPlan(), []
    try:
        return DrillPlan.model_validate(data), []
    except ValidationError as exc:
        return None, pydantic_issues(exc, DrillPlan)


def check_drills(
    plan: DrillPlan,
    *,
    playbooks: Sequence[str],
    matrix: Matrix | None,
    cron_problem: Callable[[str], str | None],
) -> list[Issue]:
    """Cross-checks: unique ids, known playbook, unit and starter, a cron that parses."""
    issues: list[Issue] = []
    seen: set[str] = set()
    for n, drill in enumerate(plan.drills):
        path = ("drills", n)
        if drill.id in seen:
            issues.append(Issue((*path, "id"), f"drill id {drill.id!r} is used twice"))
        seen.add(drill.id)
        if drill.playbook not in playbooks:
            known = ", ".join(sorted(playbooks))
            issues.append(
                Issue((*path, "playbook"), f"unknown playbook {drill.playbook!r}; known: {known}")
            )
        if drill.schedule.cron is not None:
            problem = cron_problem(drill.schedule.cron)
            if problem is not None:
                issues.append(
                    Issue(
                        (*path, "schedule", "cron"),
                        f"cron expression {drill.schedule.cron!r} does not parse: {problem}",
                    )
                )
        if matrix is None:
            continue
        if drill.unit not in {u.id for u in matrix.units}:
            issues.append(Issue((*path, "unit"), f"unknown unit {drill.unit!r}"))
        if starter(drill, matrix) is None:
            issues.append(
                Issue(
                    (*path, "started_by"),
                    f"started_by {drill.started_by!r} is neither a role of the matrix nor a "
                    "Slack user id (U...)",
                )
            )
    return issues


def starter(drill: Drill, matrix: Matrix) -> str | None:
    """The person who starts the drill: the role's first person, or the given user."""
    try:
        return matrix.role(drill.started_by).people[0]
    except KeyError:
        pass
    if _SLACK_USER.match(drill.started_by) or drill.started_by in {p.ref for p in matrix.people}:
        return drill.started_by
    return None
