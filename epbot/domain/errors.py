"""Domain errors: what the plan does not allow, as a code and its parameters."""

from __future__ import annotations

from collections.abc import Sequence
from enum import StrEnum

from epbot.domain.playbook import Text


class ErrorCode(StrEnum):
    NOT_COMMANDER = "not_commander"
    NOT_RESPONSIBLE = "not_responsible"
    NOT_APPROVER = "not_approver"
    ALREADY_DECIDED = "already_decided"
    AWAITING_APPROVAL = "awaiting_approval"
    STEP_BLOCKED = "step_blocked"
    STEP_FINISHED = "step_finished"
    STEP_INACTIVE = "step_inactive"
    NOT_A_CHECKIN = "not_a_checkin"
    ILLEGAL_TRANSITION = "illegal_transition"
    INCIDENT_ENDED = "incident_ended"
    OPEN_STEPS = "open_steps"
    REASON_REQUIRED = "reason_required"
    UNKNOWN = "unknown"
    ALREADY_ESCALATED = "already_escalated"
    ALREADY_ACKED = "already_acked"
    NOT_PAGED = "not_paged"
    STEP_REFUSED = "step_refused"
    NOT_REFUSED = "not_refused"
    NOT_SEVERITY_JUDGE = "not_severity_judge"
    SAME_SEVERITY = "same_severity"
    REPORT_REQUIRED = "report_required"
    NOT_UNIT_RESPONSIBLE = "not_unit_responsible"
    ALREADY_CONFIRMED = "already_confirmed"
    NOT_A_REPORT = "not_a_report"
    NOT_STEP_ASSIGNEE = "not_step_assignee"
    SNOOZE_MINUTES = "snooze_minutes"
    NO_DEADLINE = "no_deadline"
    SNOOZE_PAST_DEADLINE = "snooze_past_deadline"


def joined(items: Sequence[Text | str]) -> Text | str:
    """Several names as one parameter: 、-separated in Chinese, comma-separated in English."""
    if not items:
        return ""
    zh = "、".join(i.zh_CN if isinstance(i, Text) else i for i in items)
    en = ", ".join(i.en if isinstance(i, Text) else i for i in items)
    return Text(zh_CN=zh, en=en)


class DomainError(Exception):
    """A command the plan does not allow: a ``code`` and the ``params`` that explain it.

    The words shown to a person live in the templates (``adapters/templates/*/errors.j2``);
    a parameter is plain text, a ``Text`` in both languages (a role's or step's name), or a
    status, action or decision raised by its value, which the templates translate.
    """

    def __init__(self, code: ErrorCode, **params: str | Text) -> None:
        self.code = code
        self.params = params
        super().__init__(f"{code.value} {self.plain_params()}")

    def plain_params(self) -> dict[str, str | dict[str, str]]:
        """The parameters as JSON: a ``Text`` becomes ``{"zh-CN": ..., "en": ...}``."""
        return {
            name: {"zh-CN": value.zh_CN, "en": value.en} if isinstance(value, Text) else value
            for name, value in self.params.items()
        }
