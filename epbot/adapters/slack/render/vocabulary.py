"""The plan's names in one locale, as plain text: a role's, a step's, a stage's, a unit's and
a severity's. Shared by the Slack texts (which escape them for mrkdwn) and the report files
(which escape them for their format); an unknown id reads as itself."""

from __future__ import annotations

from epbot.domain.matrix import Matrix
from epbot.domain.playbook import SEVERITY_NAMES, Playbook, Severity, StageId


def role_name(matrix: Matrix, role_id: str, lang: str) -> str:
    try:
        return matrix.role(role_id).name.get(lang)
    except KeyError:
        return role_id


def step_title(playbook: Playbook, step_id: str, lang: str) -> str:
    try:
        return playbook.step(step_id).title.get(lang)
    except KeyError:
        return step_id


def stage_title(playbook: Playbook, stage_id: str, lang: str) -> str | None:
    """The playbook's own title of a stage, or None where it has none (the labels' generic
    stage name applies then)."""
    try:
        stage = playbook.stage(StageId(stage_id))
    except ValueError:
        return None
    if stage is None or stage.title is None:
        return None
    return stage.title.get(lang)


def unit_name(matrix: Matrix, unit_id: str, lang: str) -> str:
    try:
        return matrix.unit(unit_id).name.get(lang)
    except KeyError:
        return unit_id


def severity_name(value: str | Severity, lang: str) -> str | None:
    """``III 较大`` / ``III Major``; None for a value that is no severity."""
    try:
        sev = Severity(value)
    except ValueError:
        return None
    return f"{sev.value} {SEVERITY_NAMES[sev].get(lang)}"
