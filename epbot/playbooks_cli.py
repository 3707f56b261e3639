"""`epbot playbooks check|show`: validate the playbook set, print one procedure as a table."""

from __future__ import annotations

import unicodedata
from pathlib import Path
from typing import TextIO

from epbot.adapters.playbook_files import MATRIX_FILE, PlaybookSet, load_playbook_set
from epbot.domain.durations import format_duration
from epbot.domain.matrix import Matrix
from epbot.domain.playbook import SEVERITY_NAMES, DueFrom, Playbook, Step, StepKind

_LABELS: dict[str, dict[str, str]] = {
    "en": {
        "stage": "Stage",
        "step": "Step",
        "role": "Role -> people",
        "deadline": "Deadline",
        "gates": "Gates",
        "declared": "{d} after declaration",
        "stage_start": "{d} after stage start",
        "step_done": "{d} after '{s}' is done",
        "reminders": "remind {b} before",
        "repeat": "every {d} when overdue",
        "escalate": "overdue -> {r}",
        "approval": "approval by {r}",
        "decision": "decided by {r}",
        "enters": "approving enters {s}",
        "when": "only {s}",
        "after": "after {s}",
        "optional": "optional",
        "report_to": "report to {r}",
        "broadcast": "broadcast to {t}",
        "checkin": "check-in on site",
        "header": "{id}: {title}  (default severity {sev}; fault class {fc}; plan Art. {refs})",
        "commander": "Commander: {r}",
        "aliases": "Also: {a}",
        "ok": "ok: {n} playbooks, {r} roles, {u} units ({m})",
        "unknown": "unknown playbook {name!r}; known: {known}",
        "all_units": "every unit",
        "subordinate_units": "subordinate units",
    },
    "zh-CN": {
        "stage": "阶段",
        "step": "步骤",
        "role": "角色 -> 人员",
        "deadline": "时限",
        "gates": "条件",
        "declared": "宣布后 {d}",
        "stage_start": "阶段开始后 {d}",
        "step_done": "'{s}' 完成后 {d}",
        "reminders": "提前 {b} 提醒",
        "repeat": "逾期每 {d} 催办",
        "escalate": "逾期上报 {r}",
        "approval": "须经 {r} 批准",
        "decision": "由 {r} 决定",
        "enters": "批准后进入{s}",
        "when": "仅限 {s}",
        "after": "在 {s} 之后",
        "optional": "可选",
        "report_to": "报告至 {r}",
        "broadcast": "通知{t}",
        "checkin": "到场签到",
        "header": "{id}：{title}（默认级别 {sev}；故障类别 {fc}；预案条款 {refs}）",
        "commander": "指挥：{r}",
        "aliases": "别名：{a}",
        "ok": "ok: {n} playbooks, {r} roles, {u} units ({m})",
        "unknown": "未知预案 {name!r}；可用：{known}",
        "all_units": "各级单位",
        "subordinate_units": "各下属单位",
    },
}
_STAGE_NAMES = {
    "en": {
        "report": "Report",
        "initial_handling": "Initial handling",
        "emergency_response": "Emergency response",
        "command_coordination": "Command and coordination",
    },
    "zh-CN": {
        "report": "信息报告",
        "initial_handling": "先期处置",
        "emergency_response": "应急响应",
        "command_coordination": "指挥与协调",
    },
}


def _locale(locale: str) -> str:
    return "en" if locale.lower().startswith("en") else "zh-CN"


def _load(directory: Path, matrix: Path | None, out: TextIO) -> PlaybookSet | None:
    loaded, errors = load_playbook_set(directory, matrix)
    for error in errors:
        print(error, file=out)
    return loaded


def check(directory: Path, matrix: Path | None, out: TextIO) -> int:
    """Validate every playbook of ``directory`` with the matrix; 0 if valid, else 1.

    Each error is printed as ``path:line:column: message``.
    """
    loaded = _load(directory, matrix, out)
    if loaded is None:
        return 1
    matrix_path = matrix if matrix is not None else directory / MATRIX_FILE
    summary = _LABELS["en"]["ok"].format(
        n=len(loaded.playbooks),
        r=len(loaded.matrix.roles),
        u=len(loaded.matrix.units),
        m=matrix_path,
    )
    print(summary, file=out)
    return 0


def _width(text: str) -> int:
    return sum(2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in text)


def _pad(text: str, width: int) -> str:
    return text + " " * (width - _width(text))


def _role(matrix: Matrix, role_id: str, loc: str) -> str:
    role = matrix.role(role_id)
    # Art. 5.1 asks for contact phones: each person's is shown beside their name.
    names = ", ".join(
        f"{p.name or p.ref} {p.phone}" if p.phone else (p.name or p.ref)
        for p in matrix.people_of(role_id)
    )
    return f"{role.name.get(loc)} -> {names}"


def _deadline(step: Step, loc: str) -> str:
    labels = _LABELS[loc]
    if step.due is None:
        return "-"
    after = format_duration(step.due.after)
    if step.due.from_ is DueFrom.STEP:
        parts = [labels["step_done"].format(d=after, s=step.due.step)]
    else:
        parts = [labels[step.due.from_.value].format(d=after)]
    if step.reminders.before:
        before = "/".join(format_duration(b) for b in step.reminders.before)
        parts.append(labels["reminders"].format(b=before))
    if step.reminders.repeat is not None:
        parts.append(labels["repeat"].format(d=format_duration(step.reminders.repeat)))
    return "; ".join(parts)


def _gates(step: Step, matrix: Matrix, loc: str) -> str:
    labels = _LABELS[loc]
    parts: list[str] = []
    if step.kind is StepKind.APPROVAL:
        parts.append(labels["decision"].format(r=matrix.role(step.role).name.get(loc)))
    if step.enters_stage is not None:
        parts.append(labels["enters"].format(s=_STAGE_NAMES[loc][step.enters_stage.value]))
    if step.requires_approval is not None:
        name = matrix.role(step.requires_approval).name.get(loc)
        parts.append(labels["approval"].format(r=name))
    if step.when is not None and step.when.severities is not None:
        parts.append(labels["when"].format(s="/".join(s.value for s in step.when.severities)))
    if step.depends_on:
        parts.append(labels["after"].format(s=", ".join(step.depends_on)))
    if step.kind is StepKind.BROADCAST and step.broadcast_to is not None:
        parts.append(labels["broadcast"].format(t=labels[step.broadcast_to.value]))
    if step.kind is StepKind.CHECKIN:
        parts.append(labels["checkin"])
    if step.escalate_to is not None:
        parts.append(labels["escalate"].format(r=matrix.role(step.escalate_to).name.get(loc)))
    if step.optional:
        parts.append(labels["optional"])
    if step.report_to:
        names = [
            matrix.role(r.role).name.get(loc) if r.role else matrix.unit(str(r.unit)).name.get(loc)
            for r in step.report_to
        ]
        parts.append(labels["report_to"].format(r=", ".join(names)))
    return "; ".join(parts) or "-"


def render_table(playbook: Playbook, matrix: Matrix, locale: str) -> str:
    """The procedure as a plain-text table in ``locale`` (zh-CN or en)."""
    loc = _locale(locale)
    labels = _LABELS[loc]
    rows: list[tuple[str, ...]] = [
        (labels["stage"], labels["step"], labels["role"], labels["deadline"], labels["gates"])
    ]
    for stage in playbook.stages:
        first = True
        for step in stage.steps:
            stage_name = _STAGE_NAMES[loc][stage.id.value] if first else ""
            first = False
            rows.append(
                (
                    stage_name,
                    f"{step.id} [{step.kind.value}] {step.title.get(loc)}",
                    _role(matrix, step.role, loc),
                    _deadline(step, loc),
                    _gates(step, matrix, loc),
                )
            )
    severity = playbook.default_severity
    widths = [max(_width(row[c]) for row in rows) for c in range(len(rows[0]))]
    rule = "-+-".join("-" * w for w in widths)
    lines = [
        labels["header"].format(
            id=playbook.id,
            title=playbook.title.get(loc),
            sev=f"{severity.value} {SEVERITY_NAMES[severity].get(loc)}",
            fc=playbook.fault_class.value,
            refs=", ".join(playbook.plan_ref),
        ),
        labels["aliases"].format(a=", ".join(playbook.aliases)),
        labels["commander"].format(r=_role(matrix, playbook.commander_role, loc)),
        "",
    ]
    for n, row in enumerate(rows):
        lines.append(
            " | ".join(_pad(cell, w) for cell, w in zip(row, widths, strict=True)).rstrip()
        )
        if n == 0:
            lines.append(rule)
    return "\n".join(lines)


def show(playbook_id: str, directory: Path, matrix: Path | None, locale: str, out: TextIO) -> int:
    """Print the playbook ``playbook_id`` (id or alias) as a table; 1 if unknown or invalid."""
    loaded = _load(directory, matrix, out)
    if loaded is None:
        return 1
    playbook = loaded.get(playbook_id)
    if playbook is None:
        known = ", ".join(pb.id for pb in loaded.playbooks)
        print(_LABELS[_locale(locale)]["unknown"].format(name=playbook_id, known=known), file=out)
        return 1
    print(render_table(playbook, loaded.matrix, locale), file=out)
    return 0
