"""The checks of a whole playbook (id, aliases, stage order, each step, dependency
cycles, progress reports) and of the names shared across playbooks.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import timedelta

from epbot.domain.durations import format_duration
from epbot.domain.matrix import Matrix
from epbot.domain.playbook import STAGE_ORDER, Playbook
from epbot.domain.validation.issues import DataPath, Issue, cycles, role_issue
from epbot.domain.validation.steps import (
    _STEP_ID,
    check_depends,
    check_due,
    check_kind,
    check_recipients,
    check_step_roles,
    plan_ref_issues,
)

_SLUG = re.compile(r"[a-z0-9][a-z0-9-]*")


def check_playbook(pb: Playbook, matrix: Matrix | None) -> list[Issue]:
    """Every cross-check of one playbook (and, given the matrix, of its roles/approvers)."""
    issues: list[Issue] = []
    if not _SLUG.fullmatch(pb.id):
        issues.append(
            Issue(
                ("id",),
                f"playbook id {pb.id!r} is not a slug: use a-z, 0-9 and '-' (e.g. db-crash)",
            )
        )
    names = {pb.id.casefold()}
    for k, alias in enumerate(pb.aliases):
        if not alias.strip():
            issues.append(Issue(("aliases", k), "empty alias"))
        elif alias.strip().casefold() in names:
            issues.append(Issue(("aliases", k), f"duplicate alias {alias!r}"))
        names.add(alias.strip().casefold())
    issues += plan_ref_issues(("plan_ref",), pb.plan_ref)
    issues += role_issue(("commander_role",), pb.commander_role, matrix, "commander_role is an")
    issues += _check_stages(pb)

    index: dict[str, tuple[int, int]] = {}  # step id -> (stage position, index in file order)
    for si, stage in enumerate(pb.stages):
        for ji, step in enumerate(stage.steps):
            if step.id in index:
                issues.append(
                    Issue(("stages", si, "steps", ji, "id"), f"duplicate step id {step.id!r}")
                )
            else:
                index[step.id] = (STAGE_ORDER.index(stage.id), len(index))
    for si, stage in enumerate(pb.stages):
        stage_pos = STAGE_ORDER.index(stage.id)
        if not stage.steps:
            issues.append(Issue(("stages", si), f"stage '{stage.id.value}' has no steps"))
        for ji, step in enumerate(stage.steps):
            path: DataPath = ("stages", si, "steps", ji)
            if not _STEP_ID.fullmatch(step.id):
                issues.append(
                    Issue(
                        (*path, "id"),
                        f"step id {step.id!r} is not a slug: use a-z, 0-9, '-' and '_'",
                    )
                )
            issues += plan_ref_issues((*path, "plan_ref"), step.plan_ref)
            issues += check_step_roles(path, step, matrix)
            issues += check_kind(path, step, stage_pos)
            issues += check_due(path, step, index, stage_pos)
            issues += check_depends(path, step, index, stage_pos)
    issues += _dependency_cycles(pb)
    if pb.progress_reports is not None:
        progress = pb.progress_reports
        if progress.every < timedelta(minutes=5):
            issues.append(
                Issue(
                    ("progress_reports", "every"),
                    f"progress reports every {format_duration(progress.every)} is too often "
                    "(5m at least)",
                )
            )
        if not progress.to:
            issues.append(Issue(("progress_reports",), "progress_reports names no recipients (to)"))
        issues += check_recipients(("progress_reports", "to"), progress.to, matrix)
    return issues


def _check_stages(pb: Playbook) -> list[Issue]:
    issues: list[Issue] = []
    seen: set[str] = set()
    last = -1
    for si, stage in enumerate(pb.stages):
        path: DataPath = ("stages", si, "id")
        position = STAGE_ORDER.index(stage.id)
        if stage.id in seen:
            issues.append(Issue(path, f"duplicate stage '{stage.id.value}'"))
        elif position < last:
            order = ", ".join(s.value for s in STAGE_ORDER)
            issues.append(
                Issue(path, f"stage '{stage.id.value}' is out of order: stages go {order}")
            )
        seen.add(stage.id)
        last = max(last, position)
    for stage_id in STAGE_ORDER:
        if stage_id not in seen:
            issues.append(Issue(("stages",), f"missing stage '{stage_id.value}'"))
    return issues


def _dependency_cycles(pb: Playbook) -> list[Issue]:
    paths: dict[str, DataPath] = {}
    graph: dict[str, list[str]] = {}
    for si, stage in enumerate(pb.stages):
        for ji, step in enumerate(stage.steps):
            if step.id not in graph:
                graph[step.id] = list(step.depends_on)
                paths[step.id] = ("stages", si, "steps", ji)
    return [
        Issue((*paths[node], "depends_on", k), "dependency cycle: " + " -> ".join(cycle))
        for node, k, cycle in cycles(graph)
    ]


def check_names(playbooks: Sequence[Playbook]) -> list[tuple[int, Issue]]:
    """Ids and aliases used by more than one playbook: (index of the later playbook, issue)."""
    owner: dict[str, str] = {}
    issues: list[tuple[int, Issue]] = []
    for n, pb in enumerate(playbooks):
        entries: list[tuple[DataPath, str, str]] = [(("id",), "id", pb.id)]
        entries += [(("aliases", k), "alias", a) for k, a in enumerate(pb.aliases)]
        mine: set[str] = set()
        for path, what, name in entries:
            key = name.strip().casefold()
            if key in owner and key not in mine:
                issues.append(
                    (n, Issue(path, f"{what} {name!r} is already used by playbook {owner[key]!r}"))
                )
            elif key not in owner:
                owner[key] = pb.id
                mine.add(key)
    return issues
