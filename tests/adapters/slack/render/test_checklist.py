"""Stage checklists: each step's status and buttons, skip / reassign, the compact form."""

from __future__ import annotations

import pytest

from epbot.adapters.playbook_files import PlaybookSet
from epbot.adapters.slack import ids
from epbot.adapters.slack import render as r
from epbot.domain import incident as dom
from epbot.domain.playbook import STAGE_ORDER, Playbook, StageId, StepKind
from tests.adapters.slack.render.samples import (
    EVIL,
    NOW,
    buttons,
    check_blocks,
    context,
    declare,
    report,
    texts,
)


@pytest.mark.parametrize("locale", ["en", "zh-CN"])
def test_stage_checklist_for_every_stage(library: PlaybookSet, locale: str) -> None:
    for playbook in library.playbooks:
        state, _ = declare(library, playbook.id)
        for stage_id in STAGE_ORDER:
            _, blocks = r.stage_checklist(state, stage_id, context(locale))
            check_blocks(blocks)
            manage = (ids.Action.STEP_SKIP, ids.Action.STEP_REASSIGN)
            for button in buttons(blocks):
                incident, step_id = ids.parse_value(button["value"])
                assert incident == 42
                step = state.steps[step_id]
                if button["action_id"] in manage:
                    assert step.status in (
                        dom.StepStatus.PENDING,
                        dom.StepStatus.OPEN,
                        dom.StepStatus.AWAITING_APPROVAL,
                    )
                    continue
                assert step.status is dom.StepStatus.OPEN
                expected = {
                    StepKind.CHECKIN: ids.Action.STEP_CHECKIN,
                    StepKind.REPORT: ids.Action.STEP_REPORT,  # a report is sent, not ticked
                }.get(step.kind, ids.Action.STEP_DONE)
                assert button["action_id"] == expected
            started = [
                s
                for s in state.steps.values()
                if s.stage_id is stage_id
                and s.status
                in (dom.StepStatus.PENDING, dom.StepStatus.OPEN, dom.StepStatus.AWAITING_APPROVAL)
            ]
            skips = {
                ids.parse_value(b["value"])[1]
                for b in buttons(blocks)
                if b["action_id"] == ids.Action.STEP_SKIP
            }
            assert skips == {s.step_id for s in started}


def test_no_skip_or_reassign_once_the_incident_ended(library: PlaybookSet) -> None:
    state, _ = declare(library)
    _, blocks = r.stage_checklist(state, StageId.REPORT, context())
    assert any(b["action_id"] == ids.Action.STEP_SKIP for b in buttons(blocks))
    state.status = dom.Status.CANCELLED
    _, blocks = r.stage_checklist(state, StageId.REPORT, context())
    primary = (ids.Action.STEP_DONE, ids.Action.STEP_REPORT)
    assert not [b for b in buttons(blocks) if b["action_id"] not in primary]


def test_checkin_button_and_approval_marker(library: PlaybookSet) -> None:
    state, _ = declare(library, "virus")
    checkin = next(s for s in state.steps.values() if s.kind is StepKind.CHECKIN)
    checkin.status = dom.StepStatus.OPEN
    gated = next(
        s for s in state.steps.values() if s.step_id != checkin.step_id and s.kind is StepKind.TASK
    )
    gated.status = dom.StepStatus.AWAITING_APPROVAL
    for locale, on_site, waiting in (
        ("en", "On site", "Awaiting approval"),
        ("zh-CN", "已到场", "待审批"),
    ):
        ctx = context(locale)
        stages = {checkin.stage_id, gated.stage_id}
        found = []
        for stage_id in stages:
            _, blocks = r.stage_checklist(state, stage_id, ctx)
            check_blocks(blocks)
            found.append(texts(blocks))
        body = "".join(found)
        assert on_site in body
        assert waiting in body
        _, blocks = r.stage_checklist(state, checkin.stage_id, ctx)
        checkins = [b for b in buttons(blocks) if b["action_id"] == ids.Action.STEP_CHECKIN]
        assert checkins[0]["value"] == ids.button_value(42, checkin.step_id)


def test_finished_step_shows_who_and_when(library: PlaybookSet) -> None:
    state, _ = declare(library)
    # report-office is a report step now (sent, not ticked): a task of the same stage instead
    events = dom.decide(
        state, dom.CompleteStep(actor="U01EOF0001", step_id="pause-uploads", note=EVIL), NOW
    )
    assert events
    _, blocks = r.stage_checklist(state, StageId.REPORT, context())
    body = texts(blocks)
    assert "Done by <@U01EOF0001> at 11-24 09:15" in body
    assert "<!channel>" not in body
    step_buttons = [ids.parse_value(b["value"])[1] for b in buttons(blocks)]
    assert "pause-uploads" not in step_buttons


def test_checklist_compacts_a_stage_with_too_many_steps(library: PlaybookSet) -> None:
    base = library.get("db-crash")
    assert base is not None
    data = base.model_dump(by_alias=True)
    template = data["stages"][0]["steps"][0]
    steps = []
    for i in range(80):
        step = dict(template, id=f"many-{i}", depends_on=(), escalate_to=None)
        steps.append(step)
    data["stages"][0]["steps"] = [*data["stages"][0]["steps"], *steps]
    playbook = Playbook.model_validate(data)
    state, _ = dom.declare(
        playbook=playbook,
        matrix=library.matrix,
        severity=playbook.default_severity,
        report=report(),
        reporter="U0REPORTER",
        drill=False,
        now=NOW,
    )
    state.id = 42
    for locale in ("en", "zh-CN"):
        _, blocks = r.stage_checklist(state, StageId.REPORT, context(locale))
        check_blocks(blocks)
        open_steps = [
            s
            for s in state.steps.values()
            if s.stage_id is StageId.REPORT and s.status is dom.StepStatus.OPEN
        ]
        assert len(open_steps) > 80
        primary = (ids.Action.STEP_DONE, ids.Action.STEP_REPORT)
        done = [b for b in buttons(blocks) if b["action_id"] in primary]
        assert len(done) == len(open_steps)
