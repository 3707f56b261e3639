"""Validation of playbooks and the responsibility matrix: located, human-readable issues.

Pure: stdlib + pydantic only. Each :class:`Issue` carries the *path* of the offending
value inside the raw data (``("stages", 1, "steps", 3, "role")``); the file adapter maps
that path to ``file:line:column``. Parsing turns pydantic errors into the same shape, so
a caller never sees a pydantic dump.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, get_args

from pydantic import BaseModel, ValidationError

from epbot.domain.durations import format_duration
from epbot.domain.matrix import ApprovalKind, Matrix, Role
from epbot.domain.playbook import (
    LOCALES,
    STAGE_ORDER,
    DueFrom,
    Playbook,
    Recipient,
    Reminders,
    Step,
    StepKind,
)

DataPath = tuple[str | int, ...]

_SLUG = re.compile(r"[a-z0-9][a-z0-9-]*")
_STEP_ID = re.compile(r"[a-z0-9][a-z0-9_-]*")
_PLAN_REF = re.compile(r"(\d+)(?:\.\d+)*")
_SLACK_USER = re.compile(r"[UW][A-Z0-9]{2,}")
_EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")
PLAN_ARTICLES = range(1, 11)  # the plan has Articles 1-10

_ENUM_LABELS = {
    "id": "stage",
    "enters_stage": "stage",
    "kind": "step kind",
    "from": "due.from",
    "fault_class": "fault class",
    "default_severity": "severity",
    "severities": "severity",
    "broadcast_to": "broadcast target",
    "may_approve": "approval kind",
}
_APPROVAL_WORDS = {
    ApprovalKind.ESCALATION: "escalation",
    ApprovalKind.DECISION: "decisions",
    ApprovalKind.GATED_STEP: "gated steps",
}


@dataclass(frozen=True)
class Issue:
    """One problem: where it is (a path into the raw data) and what is wrong."""

    path: DataPath
    message: str
    at_key: bool = False  # point at the mapping key itself (e.g. an unknown field)


# ---------------------------------------------------------------------------- parsing


def _field_aliases(*models: type[BaseModel]) -> tuple[str, ...]:
    names: set[str] = set()
    for model in models:
        for name, field in model.model_fields.items():
            names.add(field.alias or name)
    return tuple(sorted(names))


def _inner_model(annotation: Any) -> type[BaseModel] | None:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for arg in get_args(annotation):
        found = _inner_model(arg)
        if found is not None:
            return found
    return None


def _model_at(model: type[BaseModel] | None, loc: DataPath) -> type[BaseModel] | None:
    """The model class that validates the mapping at ``loc`` (list indexes skipped)."""
    current = model
    for key in loc:
        if current is None:
            return None
        if isinstance(key, int):
            continue
        field = next(
            (f for name, f in current.model_fields.items() if key in (name, f.alias)), None
        )
        current = _inner_model(field.annotation) if field is not None else None
    return current


def _label(loc: DataPath) -> str:
    """The name of the field at ``loc`` (its last key), for messages."""
    keys = [str(k) for k in loc if isinstance(k, str)]
    return keys[-1] if keys else "the document"


def _kind_of(value: Any) -> str:
    if value is None:
        return "nothing"
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list | tuple):
        return "a list"
    return repr(value)


def _did_you_mean(word: str, choices: Iterable[str]) -> str:
    close = difflib.get_close_matches(word, list(choices), n=1)
    return f" (did you mean '{close[0]}'?)" if close else ""


def _pydantic_issue(err: Any, model: type[BaseModel] | None) -> Issue:
    loc: DataPath = tuple(err["loc"])
    kind: str = err["type"]
    value = err.get("input")
    ctx = err.get("ctx") or {}
    name = _label(loc)
    if kind == "missing":
        parent = loc[:-1]
        if loc[-1] in LOCALES:
            return Issue(parent, f"missing {loc[-1]} translation of {_label(parent)}")
        return Issue(parent, f"missing field '{loc[-1]}'")
    if kind == "extra_forbidden":
        owner = _model_at(model, loc[:-1])
        known = _field_aliases(owner) if owner is not None else ()
        return Issue(
            loc, f"unknown field '{loc[-1]}'" + _did_you_mean(str(loc[-1]), known), at_key=True
        )
    if kind == "enum":
        label = _ENUM_LABELS.get(name, name)
        return Issue(loc, f"unknown {label} {value!r}: expected {ctx.get('expected', '?')}")
    if kind == "value_error":
        return Issue(loc, str(ctx.get("error", err["msg"])))
    if kind == "string_too_short":
        if name in LOCALES:
            return Issue(loc, f"empty {name} text of {_label(loc[:-1])}")
        return Issue(loc, f"{name} must not be empty")
    if kind == "too_short" and name == "people":
        return Issue(
            loc, "empty people list: name at least one person (primary first, then backups)"
        )
    if kind in ("model_type", "model_attributes_type", "dict_type"):
        return Issue(loc, f"{name} must be a mapping, got {_kind_of(value)}")
    if kind in ("tuple_type", "list_type"):
        return Issue(loc, f"{name} must be a list, got {_kind_of(value)}")
    if kind == "string_type":
        return Issue(loc, f"{name} must be a string, got {_kind_of(value)}")
    if kind == "bool_type" or kind == "bool_parsing":
        return Issue(loc, f"{name} must be true or false, got {_kind_of(value)}")
    return Issue(loc, f"{name}: {err['msg']}")


def pydantic_issues(exc: ValidationError, model: type[BaseModel] | None = None) -> list[Issue]:
    """Pydantic's errors as located, readable issues (one per error, in order).

    ``model`` (the root model validated) lets an unknown field suggest a close known one.
    """
    return [_pydantic_issue(err, model) for err in exc.errors(include_url=False)]


def parse_playbook(data: Any) -> tuple[Playbook | None, list[Issue]]:
    """Build a playbook from raw (YAML-loaded) data; ``None`` and the issues if it fails."""
    if data is None:
        return None, [Issue((), "the playbook file is empty")]
    try:
        return Playbook.model_validate(data), []
    except ValidationError as exc:
        return None, pydantic_issues(exc, Playbook)


def parse_matrix(data: Any) -> tuple[Matrix | None, list[Issue]]:
    """Build the responsibility matrix from raw data; ``None`` and the issues if it fails."""
    if data is None:
        return None, [Issue((), "the matrix file is empty")]
    try:
        return Matrix.model_validate(data), []
    except ValidationError as exc:
        return None, pydantic_issues(exc, Matrix)


# ---------------------------------------------------------------------------- shared checks


def _plan_ref_issues(path: DataPath, refs: Sequence[str]) -> list[Issue]:
    issues = []
    for k, ref in enumerate(refs):
        match = _PLAN_REF.fullmatch(ref)
        if match is None:
            issues.append(
                Issue((*path, k), f"bad plan_ref {ref!r}: use article numbers like 7 or 7.1")
            )
        elif int(match.group(1)) not in PLAN_ARTICLES:
            issues.append(
                Issue((*path, k), f"plan_ref {ref!r} is not an article of the plan (1-10)")
            )
    return issues


def _cycles(graph: dict[str, list[str]]) -> list[tuple[str, int, list[str]]]:
    """Each cycle once: (node whose edge closes it, index of that edge, the cycle's nodes)."""
    found: list[tuple[str, int, list[str]]] = []
    seen_cycles: set[frozenset[str]] = set()
    done: set[str] = set()
    order = list(graph)

    def visit(node: str, stack: list[str]) -> None:
        stack.append(node)
        for nxt in graph.get(node, []):
            if nxt == node or nxt not in graph:
                continue  # self-loops and unknown targets are reported elsewhere
            if nxt in stack:
                members = stack[stack.index(nxt) :]
                key = frozenset(members)
                if key not in seen_cycles:
                    seen_cycles.add(key)
                    # Start at the member that comes first in the file, and point there.
                    first = min(members, key=order.index)
                    at = members.index(first)
                    cycle = members[at:] + members[:at] + [first]
                    found.append((first, graph[first].index(cycle[1]), cycle))
            elif nxt not in done:
                visit(nxt, stack)
        stack.pop()
        done.add(node)

    for start in graph:
        if start not in done:
            visit(start, [])
    return found


# ---------------------------------------------------------------------------- playbooks


def _role_issue(path: DataPath, role: str, matrix: Matrix | None, what: str) -> list[Issue]:
    if matrix is None or any(r.id == role for r in matrix.roles):
        return []
    hint = _did_you_mean(role, (r.id for r in matrix.roles))
    return [Issue(path, f"{what} unknown role {role!r}{hint}")]


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


def _check_due(
    path: DataPath, step: Step, index: dict[str, tuple[int, int]], stage_pos: int
) -> list[Issue]:
    issues: list[Issue] = []
    due = step.due
    if due is None:
        if step.reminders != Reminders():
            issues.append(Issue((*path, "reminders"), f"step {step.id!r} has reminders but no due"))
        if step.escalate_to is not None:
            issues.append(
                Issue((*path, "escalate_to"), f"step {step.id!r} escalates but has no due")
            )
        return issues
    if due.after < timedelta(0):
        issues.append(Issue((*path, "due", "after"), f"step {step.id!r}: due must not be negative"))
    if due.from_ is DueFrom.STEP:
        if due.step is None:
            issues.append(
                Issue(
                    (*path, "due"),
                    f"step {step.id!r}: due counts from another step but names none (add due.step)",
                )
            )
        elif due.step == step.id:
            issues.append(
                Issue(
                    (*path, "due", "step"), f"step {step.id!r}: due counts from its own completion"
                )
            )
        elif due.step not in index:
            issues.append(
                Issue(
                    (*path, "due", "step"),
                    f"step {step.id!r}: due counts from unknown step {due.step!r}"
                    + _did_you_mean(due.step, index),
                )
            )
        elif index[due.step][0] > stage_pos:
            issues.append(
                Issue(
                    (*path, "due", "step"),
                    f"step {step.id!r}: due counts from step {due.step!r} of a later stage",
                )
            )
    elif due.step is not None:
        issues.append(
            Issue(
                (*path, "due", "step"),
                f"step {step.id!r}: due.step is set but due.from is '{due.from_.value}' "
                "(use from: step)",
            )
        )
    for k, before in enumerate(step.reminders.before):
        if before <= timedelta(0) or before >= due.after:
            issues.append(
                Issue(
                    (*path, "reminders", "before", k),
                    f"step {step.id!r}: a reminder {format_duration(before)} before the deadline "
                    f"must fall within the {format_duration(due.after)} allowed",
                )
            )
    repeat = step.reminders.repeat
    if repeat is not None and repeat <= timedelta(0):
        issues.append(
            Issue(
                (*path, "reminders", "repeat"),
                f"step {step.id!r}: reminders.repeat must be longer than 0s",
            )
        )
    return issues


def _check_kind(path: DataPath, step: Step, stage_pos: int) -> list[Issue]:
    issues: list[Issue] = []
    kind = step.kind.value
    if step.enters_stage is not None:
        if step.kind is not StepKind.APPROVAL:
            issues.append(
                Issue(
                    (*path, "enters_stage"),
                    f"step {step.id!r} has enters_stage but is a {kind} step: "
                    "only approval steps enter a stage",
                )
            )
        elif STAGE_ORDER.index(step.enters_stage) <= stage_pos:
            issues.append(
                Issue(
                    (*path, "enters_stage"),
                    f"approval step {step.id!r} enters stage '{step.enters_stage.value}', "
                    f"which is not after its own stage '{STAGE_ORDER[stage_pos].value}'",
                )
            )
    if step.kind is StepKind.BROADCAST:
        if step.broadcast_to is None:
            issues.append(
                Issue(
                    path,
                    f"broadcast step {step.id!r} has no broadcast_to "
                    "(all_units or subordinate_units)",
                )
            )
        if step.message is None:
            issues.append(Issue(path, f"broadcast step {step.id!r} has no message"))
    elif step.broadcast_to is not None:
        issues.append(
            Issue(
                (*path, "broadcast_to"),
                f"step {step.id!r} has broadcast_to but is a {kind} step",
            )
        )
    if step.receipt_within is not None and step.kind is not StepKind.BROADCAST:
        issues.append(
            Issue(
                (*path, "receipt_within"),
                f"step {step.id!r} has receipt_within but is a {kind} step",
            )
        )
    elif step.receipt_within is not None and step.receipt_within < timedelta(minutes=1):
        issues.append(
            Issue((*path, "receipt_within"), f"step {step.id!r}: receipt_within under 1m")
        )
    if step.kind is StepKind.REPORT and not step.report_to:
        issues.append(
            Issue(
                path,
                f"report step {step.id!r} names no recipients: add report_to "
                "(- role: <role id> and/or - unit: <unit id>)",
            )
        )
    elif step.report_to and step.kind is not StepKind.REPORT:
        issues.append(
            Issue((*path, "report_to"), f"step {step.id!r} has report_to but is a {kind} step")
        )
    if step.when is not None and step.when.severities is not None and not step.when.severities:
        issues.append(
            Issue(
                (*path, "when", "severities"),
                f"step {step.id!r} never applies: when.severities is empty",
            )
        )
    return issues


def _check_approvals(path: DataPath, step: Step, matrix: Matrix) -> list[Issue]:
    issues: list[Issue] = []
    roles = {r.id: r for r in matrix.roles}
    if step.kind is StepKind.APPROVAL and step.role in roles:
        needed = ApprovalKind.ESCALATION if step.enters_stage else ApprovalKind.DECISION
        if needed not in roles[step.role].may_approve:
            issues.append(
                Issue(
                    (*path, "role"),
                    f"approval step {step.id!r} is decided by role {step.role!r}, which may not "
                    f"approve {_APPROVAL_WORDS[needed]} (add '{needed.value}' to its may_approve)",
                )
            )
    gate = step.requires_approval
    gate_role = roles.get(gate) if gate is not None else None
    if gate_role is not None and ApprovalKind.GATED_STEP not in gate_role.may_approve:
        issues.append(
            Issue(
                (*path, "requires_approval"),
                f"step {step.id!r} requires approval by role {gate!r}, which may not approve "
                "gated steps (add 'gated_step' to its may_approve)",
            )
        )
    return issues


def _check_step_roles(path: DataPath, step: Step, matrix: Matrix | None) -> list[Issue]:
    issues = _role_issue((*path, "role"), step.role, matrix, f"step {step.id!r} has")
    if step.escalate_to is not None:
        issues += _role_issue(
            (*path, "escalate_to"), step.escalate_to, matrix, f"step {step.id!r} escalates to"
        )
    if step.requires_approval is not None:
        issues += _role_issue(
            (*path, "requires_approval"),
            step.requires_approval,
            matrix,
            f"step {step.id!r} requires approval by",
        )
    if matrix is not None:
        issues += _check_approvals(path, step, matrix)
    issues += check_recipients((*path, "report_to"), step.report_to, matrix)
    return issues


def check_recipients(
    path: DataPath, recipients: Sequence[Recipient], matrix: Matrix | None
) -> list[Issue]:
    """Each recipient is exactly one known role, or one known unit that has a channel."""
    issues: list[Issue] = []
    for k, to in enumerate(recipients):
        where: DataPath = (*path, k)
        if (to.role is None) == (to.unit is None):
            issues.append(Issue(where, "a recipient is either '- role: <id>' or '- unit: <id>'"))
        elif to.role is not None:
            issues += _role_issue((*where, "role"), to.role, matrix, "report goes to")
        elif matrix is not None:
            unit = next((u for u in matrix.units if u.id == to.unit), None)
            if unit is None:
                hint = _did_you_mean(str(to.unit), (u.id for u in matrix.units))
                issues.append(
                    Issue((*where, "unit"), f"report goes to unknown unit {to.unit!r}{hint}")
                )
            elif not unit.channel:
                issues.append(
                    Issue(
                        (*where, "unit"), f"report goes to unit {to.unit!r}, which has no channel"
                    )
                )
    return issues


def _check_depends(
    path: DataPath, step: Step, index: dict[str, tuple[int, int]], stage_pos: int
) -> list[Issue]:
    issues: list[Issue] = []
    for k, dep in enumerate(step.depends_on):
        where: DataPath = (*path, "depends_on", k)
        if dep == step.id:
            issues.append(Issue(where, f"step {step.id!r} depends on itself"))
        elif dep not in index:
            issues.append(
                Issue(
                    where,
                    f"step {step.id!r} depends on unknown step {dep!r}" + _did_you_mean(dep, index),
                )
            )
        elif index[dep][0] > stage_pos:
            issues.append(
                Issue(where, f"step {step.id!r} depends on step {dep!r} of a later stage")
            )
    return issues


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
    issues += _plan_ref_issues(("plan_ref",), pb.plan_ref)
    issues += _role_issue(("commander_role",), pb.commander_role, matrix, "commander_role is an")
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
            issues += _plan_ref_issues((*path, "plan_ref"), step.plan_ref)
            issues += _check_step_roles(path, step, matrix)
            issues += _check_kind(path, step, stage_pos)
            issues += _check_due(path, step, index, stage_pos)
            issues += _check_depends(path, step, index, stage_pos)
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
        for node, k, cycle in _cycles(graph)
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


# ---------------------------------------------------------------------------- the matrix


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
            issues += _role_issue(
                ("units", k, "responsible"), unit.responsible, matrix, f"unit {unit.id!r} names"
            )
    for k, role in enumerate(matrix.roles):
        if role.unit not in unit_ids:
            issues.append(
                Issue(
                    ("roles", k, "unit"),
                    f"role {role.id!r} has unknown unit {role.unit!r}"
                    + _did_you_mean(role.unit, unit_ids),
                )
            )
        if role.escalate_to is not None:
            if role.escalate_to == role.id:
                issues.append(
                    Issue(("roles", k, "escalate_to"), f"role {role.id!r} escalates to itself")
                )
            else:
                issues += _role_issue(
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
        issues += _role_issue((field,), getattr(matrix, field), matrix, f"{field} is an")
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
    for node, _, cycle in _cycles(graph):
        issues.append(
            Issue(
                ("roles", position[node], "escalate_to"), "escalation cycle: " + " -> ".join(cycle)
            )
        )
    return issues
