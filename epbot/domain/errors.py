"""Domain errors with messages fit to show a person, in zh-CN and en."""

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


MESSAGES: dict[ErrorCode, Text] = {
    ErrorCode.NOT_COMMANDER: Text(
        zh_CN="只有事件指挥人员可以{action}。", en="Only the incident commander can {action}."
    ),
    ErrorCode.NOT_RESPONSIBLE: Text(
        zh_CN="此步骤只能由其责任角色（{role}）或事件指挥人员处理。",
        en="Only the step's role ({role}) or the incident commander can do this step.",
    ),
    ErrorCode.NOT_APPROVER: Text(
        zh_CN="此事项须由{role}审批。",
        en="Only a member of {role} can decide this approval.",
    ),
    ErrorCode.ALREADY_DECIDED: Text(
        zh_CN="此审批已由 {by} 于 {at} 作出决定（{decision}）。",
        en="This approval was already decided by {by} at {at} ({decision}).",
    ),
    ErrorCode.AWAITING_APPROVAL: Text(
        zh_CN="步骤“{step}”需经{role}批准后才能执行。",
        en="Step '{step}' cannot be done before {role} approves it.",
    ),
    ErrorCode.STEP_BLOCKED: Text(
        zh_CN="步骤“{step}”须等待前置步骤完成：{waiting}。",
        en="Step '{step}' waits for: {waiting}.",
    ),
    ErrorCode.STEP_FINISHED: Text(
        zh_CN="步骤“{step}”已经结束（{status}）。", en="Step '{step}' is already {status}."
    ),
    ErrorCode.STEP_INACTIVE: Text(
        zh_CN="步骤“{step}”所在阶段尚未开始或不适用于本事件。",
        en="Step '{step}' is not active: its stage has not started or it does not apply.",
    ),
    ErrorCode.NOT_A_CHECKIN: Text(
        zh_CN="步骤“{step}”不是到场签到步骤。", en="Step '{step}' is not an on-site check-in."
    ),
    ErrorCode.ILLEGAL_TRANSITION: Text(
        zh_CN="事件处于“{status}”状态，不能{action}。",
        en="The incident is {status}; it cannot {action}.",
    ),
    ErrorCode.INCIDENT_ENDED: Text(
        zh_CN="事件已结束（{status}）。", en="The incident has ended ({status})."
    ),
    ErrorCode.OPEN_STEPS: Text(
        zh_CN="仍有未完成的步骤：{steps}。请完成或（由指挥人员）跳过后再结束事件。",
        en="Steps still open: {steps}. Finish them, or have the commander skip them, first.",
    ),
    ErrorCode.REASON_REQUIRED: Text(zh_CN="请填写理由。", en="A reason is required."),
    ErrorCode.UNKNOWN: Text(zh_CN="找不到{what}。", en="Unknown {what}."),
    ErrorCode.ALREADY_ESCALATED: Text(
        zh_CN="已提交升级请求或已进入应急响应阶段。",
        en="Escalation was already requested or the incident is already in emergency response.",
    ),
    ErrorCode.ALREADY_ACKED: Text(
        zh_CN="该呼叫已由 {by} 确认。", en="This page was already acknowledged by {by}."
    ),
    ErrorCode.NOT_PAGED: Text(zh_CN="此呼叫不是发给你的。", en="This page was not sent to you."),
    ErrorCode.STEP_REFUSED: Text(
        zh_CN="步骤“{step}”未获批准，后续步骤保持关闭。指挥人员可以说明理由后再次申请批准，或说明理由后跳过。",
        en="Step '{step}' was refused; the steps after it stay closed. The commander may ask "
        "again with a reason, or skip it with a reason.",
    ),
    ErrorCode.NOT_SEVERITY_JUDGE: Text(
        zh_CN="只有事件指挥人员、应急办公室或应急领导小组可以调整事件级别。",
        en="Only the incident commander, the emergency office or the leadership group can "
        "change the severity.",
    ),
    ErrorCode.SAME_SEVERITY: Text(
        zh_CN="事件级别已经是 {severity}。", en="The severity is already {severity}."
    ),
    ErrorCode.NOT_UNIT_RESPONSIBLE: Text(
        zh_CN="回执须由{unit}的负责人（{role}）确认。",
        en="The receipt must be confirmed by the responsible person of {unit} ({role}).",
    ),
    ErrorCode.ALREADY_CONFIRMED: Text(
        zh_CN="该回执已由 {by} 于 {at} 确认。",
        en="This receipt was already confirmed by {by} at {at}.",
    ),
    ErrorCode.REPORT_REQUIRED: Text(
        zh_CN="步骤“{step}”须发送信息报告才算完成：请点击“发送报告”填写并发送。",
        en="Step '{step}' is done by sending its report: use 'Send report'.",
    ),
    ErrorCode.NOT_A_REPORT: Text(
        zh_CN="步骤“{step}”不是报告步骤。", en="Step '{step}' is not a report step."
    ),
    ErrorCode.NOT_STEP_ASSIGNEE: Text(
        zh_CN="步骤“{step}”由 {assignee} 负责，只有其本人（或事件指挥人员）可以这样做。",
        en="Step '{step}' is {assignee}'s: only they (or the incident commander) can do this.",
    ),
    ErrorCode.SNOOZE_MINUTES: Text(
        zh_CN="提醒只能暂停 10 分钟、30 分钟或 1 小时。",
        en="Reminders can be snoozed for 10 minutes, 30 minutes or 1 hour.",
    ),
    ErrorCode.NO_DEADLINE: Text(
        zh_CN="步骤“{step}”没有时限，也就没有可暂停的提醒。",
        en="Step '{step}' has no deadline, so it has no reminders to snooze.",
    ),
    ErrorCode.SNOOZE_PAST_DEADLINE: Text(
        zh_CN="步骤“{step}”已到时限：暂停提醒不能超过时限，预案要求的超时升级照常进行。",
        en="Step '{step}' is already due: a snooze never goes past the deadline, and the "
        "escalation the plan asks for goes ahead.",
    ),
    ErrorCode.NOT_REFUSED: Text(
        zh_CN="步骤“{step}”没有被驳回，无需再次申请批准。",
        en="Step '{step}' was not refused; there is nothing to ask again.",
    ),
}


# The words that fill the blanks, in both languages: a message never shows a zh-CN reader an
# English enum value or phrase. Keyed by the parameter's name, then by the value raised.
STATUS_NAMES: dict[str, Text] = {
    # incident statuses
    "reported": Text(zh_CN="已报告", en="reported"),
    "initial_handling": Text(zh_CN="先期处置", en="in initial handling"),
    "emergency_response": Text(zh_CN="应急响应", en="in emergency response"),
    "command_coordination": Text(zh_CN="指挥与协调", en="under command and coordination"),
    "resolved": Text(zh_CN="已处置完毕", en="resolved"),
    "closed": Text(zh_CN="已关闭", en="closed"),
    "cancelled": Text(zh_CN="已取消（误报）", en="cancelled (false alarm)"),
    # step statuses
    "done": Text(zh_CN="已完成", en="done"),
    "skipped": Text(zh_CN="已跳过", en="skipped"),
    "not_applicable": Text(zh_CN="不适用", en="not applicable"),
    "rejected": Text(zh_CN="未获批准", en="refused"),
}
ACTIONS: dict[str, Text] = {
    "skip a step": Text(zh_CN="跳过步骤", en="skip a step"),
    "request escalation": Text(zh_CN="申请升级（进入应急响应）", en="request escalation"),
    "ask again": Text(zh_CN="再次申请批准", en="ask again"),
    "send a progress report": Text(zh_CN="发送续报", en="send a progress report"),
    "resolve the incident": Text(zh_CN="宣布处置完毕", en="resolve the incident"),
    "close the incident": Text(zh_CN="关闭事件", en="close the incident"),
    "cancel the incident": Text(zh_CN="按误报取消事件", en="cancel the incident"),
    # status transitions (ILLEGAL_TRANSITION)
    "take_charge": Text(zh_CN="开始先期处置", en="take charge"),
    "escalation_approved": Text(zh_CN="进入应急响应", en="enter emergency response"),
    "response_steps_done": Text(zh_CN="进入指挥与协调", en="move to command and coordination"),
    "resolve": Text(zh_CN="宣布处置完毕", en="be resolved"),
    "close": Text(zh_CN="关闭", en="be closed"),
    "cancel": Text(zh_CN="按误报取消", en="be cancelled"),
}
DECISIONS: dict[str, Text] = {
    "approved": Text(zh_CN="批准", en="approved"),
    "rejected": Text(zh_CN="驳回", en="refused"),
    "withdrawn": Text(zh_CN="撤回", en="withdrawn"),
}
_WORDS: dict[str, dict[str, Text]] = {
    "status": STATUS_NAMES,
    "action": ACTIONS,
    "decision": DECISIONS,
}


def joined(items: Sequence[Text | str]) -> Text | str:
    """Several names as one parameter: 、-separated in Chinese, comma-separated in English."""
    if not items:
        return ""
    zh = "、".join(i.zh_CN if isinstance(i, Text) else i for i in items)
    en = ", ".join(i.en if isinstance(i, Text) else i for i in items)
    return Text(zh_CN=zh, en=en)


def _word(name: str, value: str | Text, locale: str) -> str:
    if isinstance(value, Text):
        return value.get(locale)
    known = _WORDS.get(name, {}).get(value)
    return known.get(locale) if known is not None else value


class DomainError(Exception):
    """A command the plan does not allow; ``message(locale)`` explains it to a person."""

    def __init__(self, code: ErrorCode, **params: str | Text) -> None:
        self.code = code
        self.params = params
        super().__init__(self.message("en"))

    def message(self, locale: str) -> str:
        # A parameter may itself be a Text (a role's or step's name), or a status or action
        # raised by value: either way it speaks the message's locale.
        params = {k: _word(k, v, locale) for k, v in self.params.items()}
        return MESSAGES[self.code].get(locale).format(**params)
