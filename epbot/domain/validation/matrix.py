"""The checks of the responsibility matrix: unique ids, known units and roles, person
references, the leadership group's right to approve escalation, escalation cycles.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import timedelta

from epbot.domain.matrix import ApprovalKind, Matrix, Role
from epbot.domain.validation.issues import DataPath, Issue, cycles, did_you_mean, role_issue

_SLACK_USER = re.compile(r"[UW][A-Z0-9]{2,}")


_EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")


def _duplicates(path: str, ids: Sequence[str], what: str) -> list[Issue]:
    seen: set[str] = set()
    issues = []
    for k, item in enumerate(ids):
        if item in seen:
            issues.append(Issue((path, k, "id"), f"duplicate {what} id {item!r}"))
        seen.add(item)
    return issues


def _check_person_refs(k: int, role: Role) -> list[Issue]:
    issues: list[Issue] = []
    seen: set[str] = set()
    for j, ref in enumerate(role.people):
        where: DataPath = ("roles", k, "people", j)
        if not (_SLACK_USER.fullmatch(ref) or _EMAIL.fullmatch(ref)):
            issues.append(
                Issue(where, f"bad person {ref!r}: use a Slack user id (U012ABC) or an email")
            )
        elif ref in seen:
            issues.append(Issue(where, f"person {ref!r} is listed twice in role {role.id!r}"))
        seen.add(ref)
    return issues


def check_matrix(matrix: Matrix) -> list[Issue]:
    """Every cross-check of the responsibility matrix."""
    issues = _duplicates("units", [u.id for u in matrix.units], "unit")
    issues += _duplicates("roles", [r.id for r in matrix.roles], "role")
    unit_ids = [u.id for u in matrix.units]
    role_ids = [r.id for r in matrix.roles]
    for k, unit in enumerate(matrix.units):
        if unit.responsible is not None:
            issues += role_issue(
                ("units", k, "responsible"), unit.responsible, matrix, f"unit {unit.id!r} names"
            )
    for k, role in enumerate(matrix.roles):
        if role.unit not in unit_ids:
            issues.append(
                Issue(
                    ("roles", k, "unit"),
                    f"role {role.id!r} has unknown unit {role.unit!r}"
                    + did_you_mean(role.unit, unit_ids),
                )
            )
        if role.escalate_to is not None:
            if role.escalate_to == role.id:
                issues.append(
                    Issue(("roles", k, "escalate_to"), f"role {role.id!r} escalates to itself")
                )
            else:
                issues += role_issue(
                    ("roles", k, "escalate_to"),
                    role.escalate_to,
                    matrix,
                    f"role {role.id!r} escalates to",
                )
        if role.ack_timeout <= timedelta(0):
            issues.append(
                Issue(
                    ("roles", k, "ack_timeout"),
                    f"role {role.id!r}: ack_timeout must be longer than 0s",
                )
            )
        issues += _check_person_refs(k, role)
    for field in ("leadership_group", "leadership_leader", "emergency_office"):
        issues += role_issue((field,), getattr(matrix, field), matrix, f"{field} is an")
    if matrix.leadership_group in role_ids:
        group = matrix.role(matrix.leadership_group)
        if ApprovalKind.ESCALATION not in group.may_approve:
            issues.append(
                Issue(
                    ("leadership_group",),
                    f"leadership group {group.id!r} may not approve escalation "
                    "(Art. 5.3: add 'escalation' to its may_approve)",
                )
            )
    seen: set[str] = set()
    for k, person in enumerate(matrix.people):
        if person.ref in seen:
            issues.append(Issue(("people", k, "ref"), f"duplicate person {person.ref!r}"))
        seen.add(person.ref)
    position = {r.id: k for k, r in enumerate(matrix.roles)}
    graph = {r.id: [r.escalate_to] if r.escalate_to else [] for r in matrix.roles}
    for node, _, cycle in cycles(graph):
        issues.append(
            Issue(
                ("roles", position[node], "escalate_to"), "escalation cycle: " + " -> ".join(cycle)
            )
        )
    return issues
