"""Playbook model: the emergency plan's procedures as validated, immutable data.

Pure: stdlib + pydantic only. Parsing of durations and structural validation live
here; reading YAML files (and mapping errors to file:line:column) lives in
``epbot.adapters.playbook_files``.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from datetime import timedelta
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

from epbot.domain.durations import parse_duration

LOCALES: tuple[str, ...] = ("zh-CN", "en")


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", populate_by_name=True)


class Text(_Frozen):
    """A user-facing text in every supported locale (zh-CN and en)."""

    zh_CN: str = Field(alias="zh-CN", min_length=1)
    en: str = Field(min_length=1)

    def get(self, locale: str) -> str:
        """The text in ``locale`` (``zh-CN`` or ``en``); zh-CN for anything else."""
        return self.en if locale.lower().startswith("en") else self.zh_CN


class Severity(StrEnum):
    """Article 5 severity levels; I and II are "major" (the 15-minute rule)."""

    I = "I"  # noqa: E741 - the plan's own numbering
    II = "II"
    III = "III"
    IV = "IV"

    @property
    def is_major(self) -> bool:
        return self in (Severity.I, Severity.II)


SEVERITY_NAMES: dict[Severity, Text] = {
    Severity.I: Text(zh_CN="特别重大", en="especially major"),
    Severity.II: Text(zh_CN="重大", en="major"),
    Severity.III: Text(zh_CN="较大", en="larger"),
    Severity.IV: Text(zh_CN="一般", en="general"),
}


class FaultClass(StrEnum):
    """The three fault classes of Article 2."""

    SYSTEM = "system"  # 2.1 faults of the system itself
    INFRASTRUCTURE = "infrastructure"  # 2.2 power loss, hardware failure
    ATTACK = "attack"  # 2.3 attacks and malicious intrusion


class StageId(StrEnum):
    """The four stages of Article 5, in order."""

    REPORT = "report"
    INITIAL_HANDLING = "initial_handling"
    EMERGENCY_RESPONSE = "emergency_response"
    COMMAND = "command_coordination"


STAGE_ORDER: tuple[StageId, ...] = tuple(StageId)


class StepKind(StrEnum):
    TASK = "task"  # a task to tick
    BROADCAST = "broadcast"  # a notice to every unit's / subordinate units' channels
    APPROVAL = "approval"  # a decision taken by the step's role (an approver role)
    CHECKIN = "checkin"  # "I am on site"
    REPORT = "report"  # a report upward


class DueFrom(StrEnum):
    """What a step's deadline counts from."""

    DECLARED = "declared"
    STAGE_START = "stage_start"
    STEP = "step"  # another step's completion (``Due.step``)


class BroadcastTarget(StrEnum):
    ALL_UNITS = "all_units"
    SUBORDINATE_UNITS = "subordinate_units"


def _duration(value: Any) -> Any:
    # Bare numbers are refused: "15" could mean seconds or minutes; the unit must be written.
    if isinstance(value, timedelta) or value is None:
        return value
    return parse_duration(value)


class Due(_Frozen):
    after: timedelta
    from_: DueFrom = Field(default=DueFrom.STAGE_START, alias="from")
    step: str | None = None

    _parse_after = field_validator("after", mode="before")(_duration)


class Reminders(_Frozen):
    before: tuple[timedelta, ...] = ()  # offsets before the deadline
    repeat: timedelta | None = None  # nudge interval once overdue

    @field_validator("before", mode="before")
    @classmethod
    def _parse_before(cls, value: Any) -> Any:
        if isinstance(value, list | tuple):
            return tuple(_duration(v) for v in value)
        if isinstance(value, str):
            return (parse_duration(value),)
        return value

    _parse_repeat = field_validator("repeat", mode="before")(_duration)


class Recipient(_Frozen):
    """Who a report goes to: every person of a role (by DM) or a unit (its channel)."""

    role: str | None = None
    unit: str | None = None


class ProgressReports(_Frozen):
    """Art. 5.4(3): progress reports (续报) upward while the emergency lasts."""

    every: timedelta
    to: tuple[Recipient, ...] = ()

    _parse_every = field_validator("every", mode="before")(_duration)


class Condition(_Frozen):
    """When a step applies. ``None`` fields do not restrict."""

    severities: tuple[Severity, ...] | None = None


class Step(_Frozen):
    id: str
    title: Text
    detail: Text | None = None
    plan_ref: tuple[str, ...] = ()
    role: str
    kind: StepKind = StepKind.TASK
    due: Due | None = None
    reminders: Reminders = Reminders()
    escalate_to: str | None = None
    requires_approval: str | None = None  # approver role that must say yes first
    enters_stage: StageId | None = None  # for APPROVAL steps: approving enters this stage
    broadcast_to: BroadcastTarget | None = None  # for BROADCAST steps
    message: Text | None = None  # for BROADCAST / REPORT steps: the text sent
    report_to: tuple[Recipient, ...] = ()  # for REPORT steps: who receives the report
    # For BROADCAST steps: each unit's responsible person confirms (回执) within this time,
    # or the unit is nudged, and after as long again its responsible person is paged.
    receipt_within: timedelta | None = None
    when: Condition | None = None
    depends_on: tuple[str, ...] = ()

    _parse_receipt_within = field_validator("receipt_within", mode="before")(_duration)
    # The plan's "if ..." points (e.g. 9.4 "if the antivirus cannot clean it"): the
    # commander may skip such a step when its condition does not hold.
    optional: bool = False

    def applies_to(self, severity: Severity) -> bool:
        if self.when is None or self.when.severities is None:
            return True
        return severity in self.when.severities


class Stage(_Frozen):
    id: StageId
    title: Text | None = None
    steps: tuple[Step, ...] = ()


class Playbook(_Frozen):
    id: str
    aliases: tuple[str, ...] = ()
    title: Text
    summary: Text | None = None
    fault_class: FaultClass
    plan_ref: tuple[str, ...] = ()
    default_severity: Severity
    commander_role: str
    stages: tuple[Stage, ...]
    progress_reports: ProgressReports | None = None

    @property
    def names(self) -> tuple[str, ...]:
        """The id, then every alias: what ``/incident <name>`` accepts."""
        return (self.id, *self.aliases)

    def matches(self, name: str) -> bool:
        """Whether ``name`` is this playbook's id or an alias (case-insensitive)."""
        wanted = name.strip().casefold()
        return any(wanted == n.casefold() for n in self.names)

    def iter_steps(self) -> Iterator[tuple[Stage, Step]]:
        for stage in self.stages:
            for step in stage.steps:
                yield stage, step

    def step(self, step_id: str) -> Step:
        for _, step in self.iter_steps():
            if step.id == step_id:
                return step
        raise KeyError(step_id)

    def stage(self, stage_id: StageId) -> Stage | None:
        return next((s for s in self.stages if s.id == stage_id), None)

    def canonical_json(self) -> str:
        return json.dumps(
            self.model_dump(mode="json", by_alias=True), sort_keys=True, ensure_ascii=False
        )

    def content_hash(self) -> str:
        """SHA-256 of the canonical JSON: the identity of a snapshot."""
        return hashlib.sha256(self.canonical_json().encode()).hexdigest()

    @classmethod
    def from_snapshot(cls, snapshot: str) -> Playbook:
        return cls.model_validate(json.loads(snapshot))
