"""The checks of one playbook step: its deadline and reminders, its kind's fields, its
roles and approvers, its report recipients, and what it depends on.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import timedelta

from epbot.domain.durations import format_duration
from epbot.domain.matrix import ApprovalKind, Matrix
from epbot.domain.playbook import STAGE_ORDER, DueFrom, Recipient, Reminders, Step, StepKind
from epbot.domain.validation.issues import DataPath, Issue, did_you_mean, role_issue

_STEP_ID = re.compile(r"[a-z0-9][a-z0-9_-]*")


_PLAN_REF = re.compile(r"(\d+)(?:\.\d+)*")


PLAN_ARTICLES = range(1, 11)  # the plan has Articles 1-10


_APPROVAL_WORDS = {
    ApprovalKind.ESCALATION: "escalation",
    ApprovalKind.DECISION: "decisions",
    ApprovalKind.GATED_STEP: "gated steps",
}


def plan_ref_issues(path: DataPath, refs: Sequence[str]) -> list[Issue]:
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


def check_due(
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
                    + did_you_mean(due.step, index),
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


def check_kind(path: DataPath, step: Step, stage_pos: int) -> list[Issue]:
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


def check_step_roles(path: DataPath, step: Step, matrix: Matrix | None) -> list[Issue]:
    issues = role_issue((*path, "role"), step.role, matrix, f"step {step.id!r} has")
    if step.escalate_to is not None:
        issues += role_issue(
            (*path, "escalate_to"), step.escalate_to, matrix, f"step {step.id!r} escalates to"
        )
    if step.requires_approval is not None:
        issues += role_issue(
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
            issues += role_issue((*where, "role"), to.role, matrix, "report goes to")
        elif matrix is not None:
            unit = next((u for u in matrix.units if u.id == to.unit), None)
            if unit is None:
                hint = did_you_mean(str(to.unit), (u.id for u in matrix.units))
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


def check_depends(
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
                    f"step {step.id!r} depends on unknown step {dep!r}" + did_you_mean(dep, index),
                )
            )
        elif index[dep][0] > stage_pos:
            issues.append(
                Issue(where, f"step {step.id!r} depends on step {dep!r} of a later stage")
            )
    return issues
