"""Refusals in the person's language, from errors.j2: domain errors by code and parameters,
other refusals, modal field errors, and the same text on the incident's timeline."""

from __future__ import annotations

from pathlib import Path

import pytest

from epbot.adapters.playbook_files import PlaybookLibrary, PlaybookSet
from epbot.adapters.slack import refusals
from epbot.adapters.slack import render as r
from epbot.domain.errors import DomainError, ErrorCode, joined
from epbot.domain.playbook import Text
from epbot.services.alerts import AlertProblem
from epbot.services.incidents import UnknownPlaybook
from tests.adapters.slack.render.samples import NOW, context, declare

PARAMS = {
    ErrorCode.NOT_COMMANDER: {"action": "x"},
    ErrorCode.NOT_RESPONSIBLE: {"role": "x"},
    ErrorCode.NOT_APPROVER: {"role": "x"},
    ErrorCode.ALREADY_DECIDED: {"by": "x", "at": "x", "decision": "x"},
    ErrorCode.AWAITING_APPROVAL: {"step": "x", "role": "x"},
    ErrorCode.STEP_BLOCKED: {"step": "x", "waiting": "x"},
    ErrorCode.STEP_FINISHED: {"step": "x", "status": "x"},
    ErrorCode.STEP_INACTIVE: {"step": "x"},
    ErrorCode.NOT_A_CHECKIN: {"step": "x"},
    ErrorCode.ILLEGAL_TRANSITION: {"status": "x", "action": "x"},
    ErrorCode.INCIDENT_ENDED: {"status": "x"},
    ErrorCode.OPEN_STEPS: {"steps": "x"},
    ErrorCode.REASON_REQUIRED: {},
    ErrorCode.UNKNOWN: {"what": "x"},
    ErrorCode.ALREADY_ESCALATED: {},
    ErrorCode.ALREADY_ACKED: {"by": "x"},
    ErrorCode.NOT_PAGED: {},
    ErrorCode.STEP_REFUSED: {"step": "x"},
    ErrorCode.NOT_REFUSED: {"step": "x"},
    ErrorCode.NOT_SEVERITY_JUDGE: {},
    ErrorCode.SAME_SEVERITY: {"severity": "II"},
    ErrorCode.REPORT_REQUIRED: {"step": "x"},
    ErrorCode.NOT_UNIT_RESPONSIBLE: {"unit": "x", "role": "x"},
    ErrorCode.ALREADY_CONFIRMED: {"by": "x", "at": "x"},
    ErrorCode.NOT_A_REPORT: {"step": "x"},
    ErrorCode.NOT_STEP_ASSIGNEE: {"step": "x", "assignee": "x"},
    ErrorCode.SNOOZE_MINUTES: {},
    ErrorCode.NO_DEADLINE: {"step": "x"},
    ErrorCode.SNOOZE_PAST_DEADLINE: {"step": "x"},
}


@pytest.fixture(scope="module")
def library() -> PlaybookSet:
    return PlaybookLibrary(Path("playbooks")).load()


@pytest.mark.parametrize("code", list(ErrorCode))
@pytest.mark.parametrize("locale", ["zh-CN", "en"])
def test_every_error_speaks_both_languages(code: ErrorCode, locale: str) -> None:
    assert code.value in refusals.texts(locale)
    text = refusals.explain(DomainError(code, **PARAMS[code]), locale)
    assert text
    assert "{" not in text


def test_both_locales_have_the_same_refusals() -> None:
    assert set(refusals.texts("zh-CN")) == set(refusals.texts("en"))
    assert set(refusals.texts("en")) >= {c.value for c in ErrorCode}


def test_parameters_speak_the_locale() -> None:
    error = DomainError(
        ErrorCode.ILLEGAL_TRANSITION, status="emergency_response", action="take_charge"
    )
    assert refusals.explain(error, "zh-CN") == "事件处于“应急响应”状态，不能开始先期处置。"
    assert refusals.explain(error, "en") == (
        "The incident is in emergency response; it cannot take charge."
    )
    names = joined([Text(zh_CN="上报", en="Report"), "raw-id"])
    blocked = DomainError(
        ErrorCode.STEP_BLOCKED, step=Text(zh_CN="处置", en="Handle"), waiting=names
    )
    assert refusals.explain(blocked, "zh-CN") == "步骤“处置”须等待前置步骤完成：上报、raw-id。"
    assert refusals.explain(blocked, "en-US") == "Step 'Handle' waits for: Report, raw-id."


def test_parameters_cannot_ping_or_link() -> None:
    error = DomainError(ErrorCode.ALREADY_ACKED, by="<!channel> & co")
    assert refusals.explain(error, "en") == (
        "This page was already acknowledged by &lt;!channel&gt; &amp; co."
    )


def test_other_refusals_and_faults() -> None:
    assert (
        refusals.explain(UnknownPlaybook("db-crush"), "en") == "Unknown incident type: `db-crush`."
    )
    assert refusals.explain(UnknownPlaybook("db-crush"), "zh-CN") == "未知的事件类型：`db-crush`。"
    assert "epbot does not know this button" in (
        refusals.explain(refusals.Unsupported("x"), "en") or ""
    )
    assert "无法识别此按钮" in (refusals.explain(refusals.Unsupported("x"), "zh-CN") or "")
    gone = AlertProblem("dismissed", by="U0<X>")
    assert refusals.explain(AlertProblem("declared"), "en") == (
        "An incident was already declared from this warning."
    )
    assert refusals.explain(AlertProblem("reason_required"), "zh-CN") == "请填写原因。"
    assert "U0&lt;X&gt;" in (refusals.explain(gone, "en") or "")
    assert refusals.explain(AlertProblem("no such code"), "zh-CN") == "该预警已不存在。"
    assert refusals.explain(RuntimeError("a bug"), "en") is None


@pytest.mark.parametrize(
    ("kind", "zh", "en"),
    [
        ("required", "此项为必填项。", "This field is required."),
        ("future", "发生时间不能晚于当前时间。", "The time cannot be in the future."),
        ("phone", "请填写有效的联系电话", "Enter a valid phone number"),
        ("playbook", "未知的事件类型。", "Unknown incident type."),
    ],
)
def test_field_errors_in_both_languages(kind: str, zh: str, en: str) -> None:
    assert refusals.field_error(kind, "zh-CN").startswith(zh)
    assert refusals.field_error(kind, "en-GB").startswith(en)


def test_the_timeline_shows_the_same_refusal(library: PlaybookSet) -> None:
    state, _ = declare(library)
    error = DomainError(ErrorCode.NOT_RESPONSIBLE, role=Text(zh_CN="应急办公室", en="Office <b>"))
    data = {"code": error.code.value, "params": error.plain_params(), "message": str(error)}
    event = {"kind": "refused", "actor": "U0ACTOR", "at": NOW.isoformat(), "data": data}
    for locale in ("zh-CN", "en"):
        line = r.event_text(state, event, context(locale)) or ""
        assert refusals.explain(error, locale) in line
    assert "Office &lt;b&gt;" in (r.event_text(state, event, context("en")) or "")


def test_an_older_refusal_row_still_reads(library: PlaybookSet) -> None:
    state, _ = declare(library)
    data = {"code": "not_paged", "message": "old", "messages": {"zh-CN": "旧的<", "en": "old <"}}
    event = {"kind": "refused", "actor": "U0ACTOR", "at": NOW.isoformat(), "data": data}
    assert "旧的&lt;" in (r.event_text(state, event, context("zh-CN")) or "")
    assert "old &lt;" in (r.event_text(state, event, context("en")) or "")


def test_slacks_rate_limit_says_when_to_try_again_in_both_languages() -> None:
    from epbot.adapters.slack.client import CallFailure

    paced = CallFailure("views.open", "paced", True, 60.2)
    assert "about 61 s." in str(refusals.explain(paced, "en"))
    assert "约 61 秒后重试" in str(refusals.explain(paced, "zh-CN"))
    limited = CallFailure("views.open", "ratelimited", True, None)
    assert "about 1 s." in str(refusals.explain(limited, "en"))
    # Any other failure of Slack stays a fault (logged, "may not have gone through").
    assert refusals.explain(CallFailure("views.open", "http_500", True), "en") is None
