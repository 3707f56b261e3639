"""zh-CN reads as Chinese: every template and every domain error, rendered in zh-CN with
realistic (Chinese) data, has no English word outside an allow-list.

What may stay ASCII: ids and commands in code spans, mentions and channel links (Slack
renders them as names), emoji short codes, URLs and e-mail addresses, phone numbers and
times, severity numerals (I-IV), and the product's and Slack's names.
"""

from __future__ import annotations

import contextlib
import json
import re
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from epbot.adapters.playbook_files import PlaybookLibrary, PlaybookSet
from epbot.adapters.slack import alert_render, ids, refusals, report_render
from epbot.adapters.slack import render as r
from epbot.adapters.slack.render.templates import labels as render_labels
from epbot.domain import incident as dom
from epbot.domain.errors import DomainError, ErrorCode
from epbot.domain.playbook import STAGE_ORDER, StepKind, Text
from tests.adapters.slack.render.samples import NOW, SAMPLES, as_dict, context, fire_timers
from tests.adapters.slack.test_alert_effects import alert_row

ZH = "zh-CN"
ALLOWED = {"I", "II", "III", "IV", "Slack", "epbot", "Prometheus", "Alertmanager", "Grafana"}
_IGNORED = re.compile(
    r"`[^`]*`"  # code spans: ids, commands
    r"|<[^>]*>"  # mentions, channel links, links, dates
    r"|:[a-z0-9_+\-']+:"  # emoji short codes
    r"|https?://\S+"
    r"|[\w.+-]+@[\w-]+(\.[\w-]+)+"  # e-mail addresses (people named by e-mail)
    r"|#[a-z0-9_\-]+"  # channel names
    r"|/incident(\s+[a-z]+)?"  # a slash command is typed as it is
    r"|\{\w+\}"  # a label's blanks
    r"|\b[A-Z]\b"  # a single letter: room B, building A
)
_WORD = re.compile(r"[A-Za-z]+")

REPORT = dom.ReportFields(
    occurred_at=NOW - timedelta(minutes=5),
    place="区政务云机房 B 区",
    nature="数据库服务异常终止",
    scope="各级单位无法上传信用数据",
    trend="暂未扩大",
    measures="已将门户切换为只读",
    unit_id="user-it",
    contact_phone="022-2630-0201",
    title="主数据库宕机",
)
NOTE = "已处理"


def english(text: str) -> list[str]:
    """ASCII words a zh-CN reader would meet, outside the allow-list."""
    plain = _IGNORED.sub(" ", text)
    allowed = {a.lower() for a in ALLOWED}
    return [w for w in _WORD.findall(plain) if w.lower() not in allowed]


def strings(node: Any) -> Iterator[str]:
    """Every text a person reads in a Block Kit structure (values under ``text`` keys)."""
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "text" and isinstance(value, str):
                yield value
            else:
                yield from strings(value)
    elif isinstance(node, list):
        for item in node:
            yield from strings(item)


class Collector:
    def __init__(self) -> None:
        self.found: dict[str, list[str]] = {}

    def add(self, where: str, *texts: Any) -> None:
        for text in texts:
            for piece in [text] if isinstance(text, str) else list(strings(text)):
                words = english(piece)
                if words:
                    self.found.setdefault(where, []).append(f"{words}: {piece[:300]!r}")


@pytest.fixture(scope="module")
def library() -> PlaybookSet:
    return PlaybookLibrary(Path("playbooks")).load()


def declare(library: PlaybookSet, playbook_id: str) -> tuple[dom.IncidentState, list[dom.Event]]:
    playbook = library.get(playbook_id)
    assert playbook is not None
    state, events = dom.declare(
        playbook=playbook,
        matrix=library.matrix,
        severity=playbook.default_severity,
        report=REPORT,
        reporter="U0REPORTER",
        drill=False,
        now=NOW,
    )
    state.id = 42
    return state, events


def run(state: dom.IncidentState, events: list[dom.Event], command: Any) -> None:
    with contextlib.suppress(DomainError):
        events += dom.decide(state, command, NOW)


def lived(library: PlaybookSet, playbook_id: str) -> tuple[dom.IncidentState, list[dom.Event]]:
    """An incident taken through its life: acknowledged, reported, steps done and timed
    out, escalation approved, every timer fired, resolved."""
    state, events = declare(library, playbook_id)
    commander = state.pages[0]
    run(state, events, dom.AcknowledgePage(commander.person, commander.key))
    boss = commander.person
    for step in list(state.steps.values()):
        if step.kind is StepKind.REPORT:
            run(state, events, dom.SendReport(boss, step.step_id, 1, REPORT))
        elif step.kind is StepKind.CHECKIN:
            run(state, events, dom.CheckIn(boss, step.step_id))
        else:
            run(state, events, dom.CompleteStep(boss, step.step_id, NOTE))
    run(state, events, dom.RequestEscalation(boss, "事态扩大"))
    for approval in list(state.approvals.values()):
        approvers = state.members(approval.approver_role)
        run(state, events, dom.DecideApproval(approvers[0], approval.key, True, None))
    events += fire_timers(state, rounds=40)
    return state, events


def zh_samples() -> dict[str, dict[str, Any]]:
    """The render tests' event samples, with what people type written in Chinese."""
    typed = {"note", "reason", "text", "summary", "title"}
    out: dict[str, dict[str, Any]] = {}
    for kind, data in SAMPLES.items():
        data = json.loads(json.dumps(data, default=str))
        for key in typed & set(data):
            if isinstance(data[key], str) and not (kind == "paged" and key == "reason"):
                data[key] = "说明文字"
        people = {"U1": "U01EOF0001", "U2": "U01LDR0001"}
        for key in ("person", "assignee", "commander", "refused_by", "from", "next"):
            if data.get(key) in people:
                data[key] = people[data[key]]
        for key in ("people", "approvers"):
            if isinstance(data.get(key), list):
                data[key] = [people.get(p, p) for p in data[key]]
        for key in ("role", "approver_role"):
            if data.get(key) in ("x", "nobody"):
                data[key] = "leadership-group"
        if data.get("step") == "gone-step":
            data["step"] = "report-office"
        if kind == "report_sent":
            data["report"] = {"place": "机房"}
        if kind == "broadcast":
            data["channels"] = ["C0UNIT"]
        if kind == "refused":  # as the service stores it: the refusal in both languages
            refusal = DomainError(ErrorCode.NOT_RESPONSIBLE, role=Text(zh_CN="应急办公室", en="x"))
            data["message"] = str(refusal)
            data["code"], data["params"] = refusal.code.value, refusal.plain_params()
        out[kind] = data
    return out


def domain_refusals(library: PlaybookSet) -> list[DomainError]:
    """Real refusals from the engine, as people meet them."""
    state, _ = declare(library, "db-crash")
    stranger = "U0STRANGER"
    found: list[DomainError] = []
    tries: list[Any] = [
        dom.CompleteStep(stranger, "pause-uploads", None),
        dom.SkipStep(stranger, "pause-uploads", "不需要"),
        dom.Resolve(stranger, None),
        dom.Cancel(stranger, "误报"),
        dom.RequestEscalation(stranger, "扩大"),
        dom.CompleteStep(state.commander or stranger, "no-such-step", None),
    ]
    boss = state.pages[0].person
    dom.decide(state, dom.AcknowledgePage(boss, state.pages[0].key), NOW)
    tries += [
        dom.Resolve(boss, None),
        dom.CompleteStep(boss, "report-office", None),
        dom.CheckIn(boss, "report-office"),
    ]
    pending = [s for s in state.steps.values() if s.status is dom.StepStatus.PENDING]
    tries += [dom.CompleteStep(boss, s.step_id, None) for s in pending[:2]]
    dom.decide(state, dom.RequestEscalation(boss, "扩大"), NOW)
    for approval in state.approvals.values():
        tries.append(dom.DecideApproval(stranger, approval.key, True, None))
    for command in tries:
        try:
            dom.decide(state, command, NOW)
        except DomainError as exc:
            found.append(exc)
    dom.decide(state, dom.Cancel(boss, "误报"), NOW)
    try:
        dom.decide(state, dom.Resolve(boss, None), NOW)
    except DomainError as exc:
        found.append(exc)
    return found


def test_the_checker_finds_english_and_spares_the_allowed() -> None:
    assert english("⛔ 操作被拒绝：Only the step's role") == ["Only", "the", "step", "s", "role"]
    assert english("完成 — on site") == ["on", "site"]
    assert not english("<@U01EOF0001> 级别 II · `db-crash` :white_check_mark: #ep-leadership")


def test_every_domain_error_reads_as_chinese(library: PlaybookSet) -> None:
    found = Collector()
    for code, template in refusals.texts(ZH).items():
        found.add(f"message {code}", re.sub(r"\{\w+\}", "", template))
    for exc in domain_refusals(library):
        found.add(f"refusal {exc.code}", refusals.explain(exc, ZH) or "")
    for kind in ("required", "future", "phone", "playbook"):
        found.add(f"field {kind}", refusals.field_error(kind, ZH))
    assert not found.found, json.dumps(found.found, ensure_ascii=False, indent=1)


def test_every_template_renders_chinese(library: PlaybookSet) -> None:
    found = Collector()
    ctx = context(ZH, minutes=20)
    samples = zh_samples()
    for playbook in library.playbooks:
        state, events = declare(library, playbook.id)
        found.add(f"{playbook.id} card", r.incident_card(state, REPORT, ctx))
        found.add(f"{playbook.id} topic", r.channel_topic(state, ctx))
        state, events = lived(library, playbook.id)
        found.add(f"{playbook.id} card later", r.incident_card(state, REPORT, ctx))
        found.add(f"{playbook.id} topic later", r.channel_topic(state, ctx))
        for stage in STAGE_ORDER:
            if stage in {s.id for s in state.playbook.stages}:
                found.add(f"{playbook.id} {stage}", r.stage_checklist(state, stage, ctx))
        for page in state.pages:
            found.add(f"{playbook.id} page", r.page_message(state, page, ctx, channel_link="C1"))
        for approval in state.approvals.values():
            found.add(f"{playbook.id} approval", r.approval_message(state, approval, ctx))
        for event in events:
            data = as_dict(event)
            found.add(f"{playbook.id} event {event.kind}", r.event_text(state, data, ctx) or "")
            if event.kind == "broadcast":
                found.add(f"{playbook.id} broadcast", r.broadcast_text(state, data, ctx))
            if event.kind in ("report_sent", "final_report"):
                found.add(
                    f"{playbook.id} {event.kind}",
                    report_render.report_message(state, data, ctx, channel_link="C1"),
                )
            if event.kind == "progress_report_due":
                found.add("progress prompt", report_render.progress_prompt(state, data, ctx))
        timeline = [as_dict(e) for e in events]
        found.add(f"{playbook.id} closing", r.closing_report(state, REPORT, timeline, ctx))
        found.add(f"{playbook.id} summary", r.closing_summary(state, REPORT, ctx))
        for step_id in ("report-office", None):
            if step_id is None or step_id in state.steps:
                view = report_render.send_report_modal(
                    state,
                    REPORT,
                    library.matrix,
                    ctx,
                    step_id=step_id,
                    progress=step_id is None,
                    private_metadata="{}",
                )
                found.add(f"{playbook.id} send report modal", view)
        ref = r.IncidentRef("2026-0007", state, "C0ABC", REPORT.title)
        found.add("list", r.incident_list([ref], ctx))
        found.add(
            "home",
            r.home_view(
                steps=[(ref, "上报应急办公室", s) for s in state.steps.values()],
                approvals=[(ref, a) for a in state.approvals.values()],
                incidents=[ref],
                ctx=ctx,
            ),
        )
        for person in {s.assignee for s in state.steps.values() if s.assignee}:
            mine = r.deadlines(state, ctx.now, person=person)
            found.add("reminder", r.reminder_message(state, mine, ctx))
        found.add("digest", r.digest_message(state, r.deadlines(state, ctx.now), ctx))
    state, _ = declare(library, "db-crash")
    dom.decide(state, dom.AcknowledgePage(state.pages[0].person, state.pages[0].key), NOW)
    boss = state.pages[0].person
    dom.decide(state, dom.CompleteStep(boss, "pause-uploads"), NOW)  # receipts (回执) asked
    fire_timers(state, rounds=60)  # overdue, escalated, nudged, receipts late
    late = context(ZH, minutes=240)
    found.add("digest overdue", r.digest_message(state, r.deadlines(state, late.now), late))
    mine = r.deadlines(state, late.now, person=boss)
    found.add("reminder overdue", r.reminder_message(state, mine, late))
    state, _ = declare(library, "db-crash")
    for kind, data in samples.items():
        event = {"kind": kind, "actor": "U0ACTOR", "at": NOW.isoformat(), "data": data}
        found.add(f"sample {kind}", r.event_text(state, event, ctx) or "")
    variants = {  # the other branches of the newer lines
        "page_acknowledged": {**samples["page_acknowledged"], "implied": True},
        "step_on_it": {**samples["step_on_it"], "from": None, "overdue": True},
        "step_snoozed": {**samples["step_snoozed"], "clamped": False, "escalate_to": None},
    }
    for kind, data in variants.items():
        event = {"kind": kind, "actor": "U0ACTOR", "at": NOW.isoformat(), "data": data}
        found.add(f"variant {kind}", r.event_text(state, event, ctx) or "")
        found.add(f"confirmation {kind}", r.confirmation_text(state, event, ctx) or "")
    for drill in (False, True):
        view = r.report_modal(
            library.playbooks,
            library.matrix,
            ctx,
            playbook_id=None,
            drill=drill,
            private_metadata="{}",
        )
        found.add("report modal", view)
    for callback in (
        ids.Callback.REJECT_REASON,
        ids.Callback.ESCALATION_REASON,
        ids.Callback.SKIP_REASON,
        ids.Callback.ASK_AGAIN_REASON,
    ):
        title = r.label(ZH, f"modal.{callback.value}")
        found.add(
            f"reason {callback}",
            r.reason_modal(callback.value, ctx, title=title, private_metadata="{}"),
        )
    found.add(
        "reassign",
        r.reassign_modal(ctx, step_title="上报", initial_user=None, private_metadata="{}"),
    )
    found.add("help", r.help_text(library.playbooks, ctx))
    found.add("unknown type", r.unknown_type_text("db-crush", library.playbooks, ctx))
    found.add("progress offer", report_render.progress_offer(ctx, 42))
    wctx = alert_render.WarningContext(ZH, ZoneInfo("Asia/Shanghai"), NOW, "2026-0007")
    alert = alert_row(summary="应用服务器一号机无响应")
    found.add("alert words", *alert_render.texts(ZH).values())
    found.add("alert warning", alert_render.warning_message(alert, wctx))
    found.add("alert resolved", alert_render.resolved_note(alert, ZH))
    found.add("alert dismiss", alert_render.dismiss_modal(alert, ZH))
    labels = render_labels(ZH)
    found.add("labels", *labels.values())
    assert not found.found, json.dumps(found.found, ensure_ascii=False, indent=1)


def test_a_refusal_on_the_audit_line_reads_in_the_readers_language(library: PlaybookSet) -> None:
    state, _ = declare(library, "db-crash")
    data = zh_samples()["refused"]
    event = {"kind": "refused", "actor": "U0ACTOR", "at": NOW.isoformat(), "data": data}
    assert "此步骤只能由其责任角色（应急办公室）" in (r.event_text(state, event, context(ZH)) or "")
    assert "Only the step's role (x)" in (r.event_text(state, event, context("en")) or "")


def test_step_and_role_names_are_titles_not_ids(library: PlaybookSet) -> None:
    state, _ = declare(library, "db-crash")
    boss = state.pages[0].person
    dom.decide(state, dom.AcknowledgePage(boss, state.pages[0].key), NOW)
    with pytest.raises(DomainError) as refused:
        dom.decide(state, dom.Resolve(boss, None), NOW)
    message = refusals.explain(refused.value, ZH) or ""
    assert "report-office" not in message
    title = state.playbook.step("report-office").title
    assert isinstance(title, Text)
    assert title.zh_CN in message


def test_topic_names_the_commander_and_says_the_stage_once(library: PlaybookSet) -> None:
    state, _ = declare(library, "db-crash")
    boss = state.pages[0].person
    dom.decide(state, dom.AcknowledgePage(boss, state.pages[0].key), NOW)
    ctx = context(ZH)
    topic = r.channel_topic(state, ctx)
    assert "<@" not in topic  # a topic does not render mentions
    name = library.matrix.person(boss).name
    assert name
    assert f"指挥：{name}" in topic
    assert "先期处置 / 先期处置" not in topic
    _, blocks = r.incident_card(state, REPORT, ctx)
    card = "\n".join(strings(blocks))
    assert "*阶段：*先期处置" in card
    assert "*状态：*先期处置" not in card
    # Once the status differs it is shown, on its own line's end (the commander's line after).
    state.status = dom.Status.REPORTED
    _, blocks = r.incident_card(state, REPORT, ctx)
    card = "\n".join(strings(blocks))
    assert "*状态：*已报告\n" in card


def test_reason_modals_submit_with_their_own_verb() -> None:
    ctx = context(ZH)
    for callback in (
        ids.Callback.REJECT_REASON,
        ids.Callback.ESCALATION_REASON,
        ids.Callback.SKIP_REASON,
        ids.Callback.ASK_AGAIN_REASON,
    ):
        view = r.reason_modal(callback.value, ctx, title="理由", private_metadata="{}")
        assert view["submit"]["text"] != "报告", callback


def test_broadcast_and_resolve_ask_first(library: PlaybookSet) -> None:
    state, _ = declare(library, "db-crash")
    boss = state.pages[0].person
    dom.decide(state, dom.AcknowledgePage(boss, state.pages[0].key), NOW)
    ctx = context(ZH)
    _, card = r.incident_card(state, REPORT, ctx)
    [resolve] = [b for b in walk_buttons(card) if b["action_id"] == ids.Action.INCIDENT_RESOLVE]
    assert resolve["confirm"]["confirm"]["text"] == "处置完毕"
    broadcasts = [s for s in state.steps.values() if s.kind is StepKind.BROADCAST]
    assert broadcasts
    stage = broadcasts[0].stage_id
    _, checklist = r.stage_checklist(state, stage, ctx)
    sends = [
        b
        for b in walk_buttons(checklist)
        if b["action_id"] == ids.Action.STEP_DONE and b["value"].endswith(broadcasts[0].step_id)
    ]
    assert sends
    assert all(b["confirm"]["title"]["text"] == "发送通知？" for b in sends)


def walk_buttons(node: Any) -> Iterator[dict[str, Any]]:
    if isinstance(node, dict):
        if node.get("type") == "button":
            yield node
        for value in node.values():
            yield from walk_buttons(value)
    elif isinstance(node, list):
        for item in node:
            yield from walk_buttons(item)
