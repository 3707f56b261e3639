"""Playbook files: located errors, the shipped plan, lookups and hot reload."""

import asyncio
import os
import shutil
from pathlib import Path

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from epbot.adapters.playbook_files import (
    LoadError,
    PlaybookLibrary,
    PlaybookSet,
    PlaybookSetError,
    PlaybookWatcher,
    check_playbook_text,
    load_or_raise,
    load_playbook_set,
    read_marked,
)
from epbot.domain.matrix import ApprovalKind
from epbot.domain.playbook import (
    BroadcastTarget,
    DueFrom,
    Playbook,
    Severity,
    StageId,
    StepKind,
)
from epbot.domain.validation import parse_matrix

SHIPPED = Path(__file__).resolve().parents[2] / "playbooks"
IDS = {"system-fault", "db-crash", "attack", "virus", "network-outage", "power-outage", "disaster"}

MATRIX = """\
leadership_group: leaders
leadership_leader: leaders
emergency_office: office
units:
  - id: it
    name: {zh-CN: 信息化部门, en: IT department}
    channel: "#it"
  - id: branch
    name: {zh-CN: 下属单位, en: Branch}
    channel: "#branch"
    subordinate: true
roles:
  - id: leaders
    name: {zh-CN: 领导小组, en: Leaders}
    unit: it
    people: [U0LEAD1]
    may_approve: [escalation, decision, gated_step]
  - id: office
    name: {zh-CN: 应急办公室, en: Office}
    unit: it
    people: [U0OFF1, office@example.com]
    escalate_to: leaders
  - id: staff
    name: {zh-CN: 现场人员, en: Staff}
    unit: it
    people: [U0STAFF1]
    escalate_to: office
people:
  - {ref: U0LEAD1, name: 李明}
"""

PLAYBOOK = """\
id: demo
aliases: [dm, 演示]
title: {zh-CN: 演示, en: Demo}
fault_class: system
plan_ref: ['6']
default_severity: III
commander_role: office
stages:
  - id: report
    steps:
      - id: tell-office
        title: {zh-CN: 报告, en: Report}
        plan_ref: ['5.1']
        role: office
        kind: report
        report_to: [{role: leaders}]
        due: {after: 5m, from: declared}
        reminders: {before: [2m], repeat: 1m}
        escalate_to: leaders
  - id: initial_handling
    steps:
      - id: fix
        title: {zh-CN: 修复, en: Fix}
        role: staff
        due: {after: 30m}
      - id: notify
        title: {zh-CN: 通知, en: Notify}
        role: office
        kind: broadcast
        broadcast_to: all_units
        message: {zh-CN: 请暂停上传, en: Please pause uploads}
        depends_on: [fix]
      - id: go
        title: {zh-CN: 批准, en: Approve}
        role: leaders
        kind: approval
        enters_stage: emergency_response
        when: {severities: [I, II]}
  - id: emergency_response
    steps:
      - id: stop
        title: {zh-CN: 停机, en: Stop}
        role: staff
        requires_approval: leaders
  - id: command_coordination
    steps:
      - id: wrap-up
        title: {zh-CN: 总结, en: Wrap up}
        role: office
        due: {after: 10m, from: step, step: stop}
"""

CASES: list[tuple[str, str, str | None, str, list[str]]] = [
    (
        "unknown-role",
        "demo.yaml",
        "role: staff\n        due: {after: 30m}",
        "role: dba\n        due: {after: 30m}",
        ["demo.yaml:24:15: step 'fix' has unknown role 'dba'"],
    ),
    (
        "unknown-dependency",
        "demo.yaml",
        "depends_on: [fix]",
        "depends_on: [fixx]",
        ["demo.yaml:32:22: step 'notify' depends on unknown step 'fixx' (did you mean 'fix'?)"],
    ),
    (
        "dependency-cycle",
        "demo.yaml",
        "due: {after: 30m}\n",
        "due: {after: 30m}\n        depends_on: [notify]\n",
        ["demo.yaml:26:22: dependency cycle: fix -> notify -> fix"],
    ),
    (
        "self-dependency",
        "demo.yaml",
        "depends_on: [fix]",
        "depends_on: [notify]",
        ["demo.yaml:32:22: step 'notify' depends on itself"],
    ),
    (
        "later-stage-dependency",
        "demo.yaml",
        "depends_on: [fix]",
        "depends_on: [stop]",
        ["demo.yaml:32:22: step 'notify' depends on step 'stop' of a later stage"],
    ),
    (
        "escalation-cycle",
        "matrix.yaml",
        "may_approve: [escalation, decision, gated_step]\n",
        "may_approve: [escalation, decision, gated_step]\n    escalate_to: staff\n",
        ["matrix.yaml:18:18: escalation cycle: leaders -> staff -> office -> leaders"],
    ),
    (
        "duplicate-step-id",
        "demo.yaml",
        "- id: go",
        "- id: fix",
        ["demo.yaml:33:13: duplicate step id 'fix'"],
    ),
    (
        "duplicate-alias-across-files",
        "other.yaml",
        "",
        "",
        ["other.yaml:2:11: alias 'DM' is already used by playbook 'demo'"],
    ),
    (
        "missing-en",
        "demo.yaml",
        "{zh-CN: 修复, en: Fix}",
        "{zh-CN: 修复}",
        ["demo.yaml:23:16: missing en translation of title"],
    ),
    (
        "missing-zh",
        "demo.yaml",
        "{zh-CN: 请暂停上传, en: Please pause uploads}",
        "{en: Please pause uploads}",
        ["demo.yaml:31:18: missing zh-CN translation of message"],
    ),
    (
        "empty-translation",
        "demo.yaml",
        "{zh-CN: 总结, en: Wrap up}",
        "{zh-CN: '', en: Wrap up}",
        ["demo.yaml:48:24: empty zh-CN text of title"],
    ),
    (
        "bad-duration",
        "demo.yaml",
        "{after: 30m}",
        "{after: 30 minutes}",
        [
            (
                "demo.yaml:25:22: bad duration '30 minutes': use a number with s, m, h or d "
                "(e.g. 30s, 15m, 2h, 1d) or ISO 8601 (e.g. PT15M)"
            )
        ],
    ),
    (
        "bare-number-duration",
        "demo.yaml",
        "{after: 30m}",
        "{after: 30}",
        ["demo.yaml:25:22: bad duration 30: write it with a unit, e.g. 30s, 15m, 2h, 1d or PT15M"],
    ),
    (
        "bad-reminder-duration",
        "demo.yaml",
        "before: [2m]",
        "before: [2x]",
        [
            (
                "demo.yaml:18:29: bad duration '2x': use a number with s, m, h or d (e.g. "
                "30s, 15m, 2h, 1d) or ISO 8601 (e.g. PT15M)"
            )
        ],
    ),
    (
        "reminder-after-deadline",
        "demo.yaml",
        "before: [2m]",
        "before: [10m]",
        [
            (
                "demo.yaml:18:30: step 'tell-office': a reminder 10m before the deadline "
                "must fall within the 5m allowed"
            )
        ],
    ),
    (
        "approval-without-right",
        "demo.yaml",
        "role: leaders\n        kind: approval",
        "role: office\n        kind: approval",
        [
            (
                "demo.yaml:35:15: approval step 'go' is decided by role 'office', which may "
                "not approve escalation (add 'escalation' to its may_approve)"
            )
        ],
    ),
    (
        "gate-without-right",
        "demo.yaml",
        "requires_approval: leaders",
        "requires_approval: office",
        [
            (
                "demo.yaml:44:28: step 'stop' requires approval by role 'office', which may "
                "not approve gated steps (add 'gated_step' to its may_approve)"
            )
        ],
    ),
    (
        "gate-unknown-role",
        "demo.yaml",
        "requires_approval: leaders",
        "requires_approval: boss",
        ["demo.yaml:44:28: step 'stop' requires approval by unknown role 'boss'"],
    ),
    (
        "yaml-syntax",
        "demo.yaml",
        "{zh-CN: 停机, en: Stop}",
        "{zh-CN: 停机, en: Stop",
        ["demo.yaml:43:13: YAML syntax error: expected ',' or '}', but got ':'"],
    ),
    (
        "yaml-duplicate-key",
        "demo.yaml",
        "role: staff\n        requires_approval",
        "role: staff\n        role: office\n        requires_approval",
        ["demo.yaml:44:9: duplicate key 'role'"],
    ),
    (
        "unknown-field",
        "demo.yaml",
        "requires_approval: leaders",
        "requires_aproval: leaders",
        ["demo.yaml:44:9: unknown field 'requires_aproval' (did you mean 'requires_approval'?)"],
    ),
    (
        "unknown-stage",
        "demo.yaml",
        "- id: command_coordination",
        "- id: command",
        [
            (
                "demo.yaml:45:9: unknown stage 'command': expected 'report', "
                "'initial_handling', 'emergency_response' or 'command_coordination'"
            )
        ],
    ),
    (
        "missing-stage",
        "demo.yaml",
        (
            "  - id: command_coordination\n    steps:\n      - id: wrap-up\n        title: "
            "{zh-CN: 总结, en: Wrap up}\n        role: office\n        due: {after: 10m, from: "
            "step, step: stop}\n"
        ),
        "",
        ["demo.yaml:9:3: missing stage 'command_coordination'"],
    ),
    (
        "unknown-step-kind",
        "demo.yaml",
        "kind: report",
        "kind: memo",
        [
            (
                "demo.yaml:15:15: unknown step kind 'memo': expected 'task', 'broadcast', "
                "'approval', 'checkin' or 'report'"
            )
        ],
    ),
    (
        "due-step-missing",
        "demo.yaml",
        "from: step, step: stop}",
        "from: step}",
        [
            (
                "demo.yaml:50:14: step 'wrap-up': due counts from another step but names "
                "none (add due.step)"
            )
        ],
    ),
    (
        "due-step-unknown",
        "demo.yaml",
        "step: stop}",
        "step: stopp}",
        [
            (
                "demo.yaml:50:45: step 'wrap-up': due counts from unknown step 'stopp' (did "
                "you mean 'stop'?)"
            )
        ],
    ),
    (
        "due-step-without-from-step",
        "demo.yaml",
        "{after: 30m}",
        "{after: 30m, step: notify}",
        [
            (
                "demo.yaml:25:33: step 'fix': due.step is set but due.from is 'stage_start' "
                "(use from: step)"
            )
        ],
    ),
    (
        "enters-stage-on-task",
        "demo.yaml",
        "due: {after: 30m}\n",
        "due: {after: 30m}\n        enters_stage: emergency_response\n",
        [
            (
                "demo.yaml:26:23: step 'fix' has enters_stage but is a task step: only "
                "approval steps enter a stage"
            )
        ],
    ),
    (
        "broadcast-without-message",
        "demo.yaml",
        "        message: {zh-CN: 请暂停上传, en: Please pause uploads}\n",
        "",
        ["demo.yaml:26:9: broadcast step 'notify' has no message"],
    ),
    (
        "empty-people",
        "matrix.yaml",
        "people: [U0STAFF1]",
        "people: []",
        [
            (
                "matrix.yaml:26:13: empty people list: name at least one person (primary "
                "first, then backups)"
            )
        ],
    ),
    (
        "bad-person",
        "matrix.yaml",
        "people: [U0STAFF1]",
        "people: [bob]",
        ["matrix.yaml:26:14: bad person 'bob': use a Slack user id (U012ABC) or an email"],
    ),
    (
        "unknown-unit",
        "matrix.yaml",
        "    unit: it\n    people: [U0STAFF1]",
        "    unit: ops\n    people: [U0STAFF1]",
        ["matrix.yaml:25:11: role 'staff' has unknown unit 'ops'"],
    ),
    (
        "matrix-unknown-escalation",
        "matrix.yaml",
        "escalate_to: office",
        "escalate_to: ofice",
        [
            (
                "matrix.yaml:27:18: role 'staff' escalates to unknown role 'ofice' (did you "
                "mean 'office'?)"
            )
        ],
    ),
    (
        "matrix-unknown-office",
        "matrix.yaml",
        "emergency_office: office",
        "emergency_office: desk",
        ["matrix.yaml:3:19: emergency_office is an unknown role 'desk'"],
    ),
    (
        "duplicate-role",
        "matrix.yaml",
        "  - id: staff\n",
        "  - id: office\n",
        [
            "demo.yaml:24:15: step 'fix' has unknown role 'staff'",
            "demo.yaml:43:15: step 'stop' has unknown role 'staff'",
            "matrix.yaml:23:9: duplicate role id 'office'",
            "matrix.yaml:27:18: role 'office' escalates to itself",
        ],
    ),
    (
        "id-not-file-name",
        "demo.yaml",
        "id: demo\n",
        "id: demo-two\n",
        [
            (
                "demo.yaml:1:5: playbook id 'demo-two' does not match its file name "
                "'demo.yaml' (name the file demo-two.yaml)"
            )
        ],
    ),
    (
        "unknown-severity",
        "demo.yaml",
        "default_severity: III",
        "default_severity: V",
        ["demo.yaml:6:19: unknown severity 'V': expected 'I', 'II', 'III' or 'IV'"],
    ),
    (
        "bad-plan-ref",
        "demo.yaml",
        "plan_ref: ['5.1']",
        "plan_ref: ['12.1']",
        ["demo.yaml:13:20: plan_ref '12.1' is not an article of the plan (1-10)"],
    ),
    (
        "empty-when",
        "demo.yaml",
        "when: {severities: [I, II]}",
        "when: {severities: []}",
        ["demo.yaml:38:28: step 'go' never applies: when.severities is empty"],
    ),
    (
        "not-a-mapping",
        "demo.yaml",
        None,
        "- just\n- a list\n",
        ["demo.yaml:1:1: the document must be a mapping, got a list"],
    ),
    (
        "empty-file",
        "demo.yaml",
        None,
        "",
        ["demo.yaml:1:1: the playbook file is empty"],
    ),
    (
        "unknown-commander",
        "demo.yaml",
        "commander_role: office",
        "commander_role: chief",
        ["demo.yaml:7:17: commander_role is an unknown role 'chief'"],
    ),
]

# ---------------------------------------------------------------- located errors


def _write_set(root: Path, texts: dict[str, str]) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    for name, text in texts.items():
        (root / name).write_text(text, encoding="utf-8")
    return root


def _errors(root: Path) -> list[str]:
    loaded, errors = load_playbook_set(root)
    assert (loaded is None) == bool(errors)
    return [str(e).replace(f"{root}{os.sep}", "") for e in errors]


def test_fixture_set_is_valid(tmp_path: Path) -> None:
    root = _write_set(tmp_path / "pb", {"matrix.yaml": MATRIX, "demo.yaml": PLAYBOOK})
    assert _errors(root) == []


@pytest.mark.parametrize(
    ("file", "old", "new", "expected"), [c[1:] for c in CASES], ids=[c[0] for c in CASES]
)
def test_bad_input_gives_exact_located_error(
    tmp_path: Path, file: str, old: str | None, new: str, expected: list[str]
) -> None:
    texts = {"matrix.yaml": MATRIX, "demo.yaml": PLAYBOOK}
    if file == "other.yaml":
        texts[file] = PLAYBOOK.replace("id: demo\n", "id: other\n").replace(
            "[dm, 演示]", "[DM, 其他]"
        )
    elif old is None:
        texts[file] = new
    else:
        assert old in texts[file]
        texts[file] = texts[file].replace(old, new, 1)
    assert _errors(_write_set(tmp_path / "pb", texts)) == expected


def test_error_format() -> None:
    assert str(LoadError("playbooks/db-crash.yaml", 42, 15, "boom")) == (
        "playbooks/db-crash.yaml:42:15: boom"
    )
    assert str(LoadError("playbooks", 0, 0, "playbook directory not found")) == (
        "playbooks: playbook directory not found"
    )


def test_missing_matrix_and_directory(tmp_path: Path) -> None:
    assert _errors(_write_set(tmp_path / "pb", {"demo.yaml": PLAYBOOK})) == [
        "matrix.yaml: matrix file not found"
    ]
    loaded, errors = load_playbook_set(tmp_path / "nowhere", tmp_path / "m.yaml")
    assert loaded is None
    assert [e.message for e in errors] == ["matrix file not found", "playbook directory not found"]


def test_matrix_elsewhere(tmp_path: Path) -> None:
    (tmp_path / "org.yaml").write_text(MATRIX, encoding="utf-8")
    root = _write_set(tmp_path / "pb", {"demo.yaml": PLAYBOOK})
    loaded, errors = load_playbook_set(root, tmp_path / "org.yaml")
    assert errors == []
    assert loaded is not None
    assert [pb.id for pb in loaded] == ["demo"]


def test_anchors_and_merge_keys_are_understood(tmp_path: Path) -> None:
    text = PLAYBOOK.replace(
        "        due: {after: 30m}\n", "        due: &half {after: 30m}\n"
    ).replace(
        "        due: {after: 10m, from: step, step: stop}\n",
        "        due: {<<: *half, from: step, step: stop}\n",
    )
    playbook, errors = check_playbook_text(text, "demo.yaml", None)
    assert errors == []
    assert playbook is not None
    assert playbook.step("wrap-up").due is not None


def test_recursive_alias_is_an_error() -> None:
    _, errors = read_marked("a: &x [*x]\n", "x.yaml")
    assert [str(e) for e in errors] == ["x.yaml:1:4: recursive YAML alias"]


def test_load_or_raise_refuses_an_invalid_set(tmp_path: Path) -> None:
    root = _write_set(
        tmp_path / "pb",
        {"matrix.yaml": MATRIX, "demo.yaml": PLAYBOOK.replace("role: staff\n", "role: dba\n", 1)},
    )
    with pytest.raises(PlaybookSetError) as caught:
        load_or_raise(root)
    assert str(caught.value) == f"{root / 'demo.yaml'}:24:15: step 'fix' has unknown role 'dba'"
    assert len(caught.value.errors) == 1


@settings(max_examples=150, suppress_health_check=[HealthCheck.too_slow])
@given(st.integers(0, len(PLAYBOOK)), st.integers(0, 30), st.text(max_size=12))
def test_random_text_edits_never_crash(start: int, length: int, insert: str) -> None:
    text = PLAYBOOK[:start] + insert + PLAYBOOK[start + length :]
    matrix, _ = parse_matrix(yaml.safe_load(MATRIX))
    playbook, errors = check_playbook_text(text, "demo.yaml", matrix)
    assert (playbook is None) == bool(errors)
    assert all(e.line >= 1 and e.column >= 1 for e in errors)


# ---------------------------------------------------------------- the shipped plan


@pytest.fixture(scope="module")
def shipped() -> PlaybookSet:
    loaded, errors = load_playbook_set(SHIPPED)
    assert [str(e) for e in errors] == []
    assert loaded is not None
    return loaded


def test_every_shipped_file_validates(shipped: PlaybookSet) -> None:
    playbooks = shipped.playbooks
    assert {pb.id for pb in playbooks} == IDS


# Every numbered point of Articles 5-10 (5.4's sub-points (1)-(3) as 5.4.1-5.4.3; Article 6
# and Article 10 have no numbered sub-points; 7 and 8 open with the backup requirement).
PLAN_POINTS = {
    "5.1",
    "5.2",
    "5.3",
    "5.4",
    "5.4.1",
    "5.4.2",
    "5.4.3",
    "6",
    "7",
    "7.1",
    "7.2",
    "7.3",
    "8",
    "8.1",
    "8.2",
    "8.3",
    "8.4",
    "9.1",
    "9.2",
    "9.3",
    "9.4",
    "9.5",
    "9.6",
    "9.7",
    "9.8",
    "10",
}
ARTICLE_OF = {
    "system-fault": "6",
    "db-crash": "7",
    "attack": "8",
    "virus": "9",
    "network-outage": "10",
    "power-outage": "10",
    "disaster": "10",
}


def _refs(pb: Playbook) -> set[str]:
    return {ref for _, step in pb.iter_steps() for ref in step.plan_ref}


def test_every_numbered_point_maps_to_a_step(
    shipped: PlaybookSet,
) -> None:
    playbooks = shipped.playbooks
    covered = set().union(*(_refs(pb) for pb in playbooks))
    assert PLAN_POINTS - covered == set()


@pytest.mark.parametrize("playbook_id", sorted(IDS))
def test_each_playbook_implements_article_5_and_its_own_article(
    shipped: PlaybookSet, playbook_id: str
) -> None:
    playbooks = shipped.playbooks
    pb = next(p for p in playbooks if p.id == playbook_id)
    article = ARTICLE_OF[playbook_id]
    own = {p for p in PLAN_POINTS if p == article or p.startswith(article + ".")}
    article5 = {p for p in PLAN_POINTS if p.startswith("5.")}
    assert (own | article5) - _refs(pb) == set()
    assert [s.id for s in pb.stages] == list(StageId)
    assert article in pb.plan_ref
    for _, step in pb.iter_steps():
        assert step.title.zh_CN
        assert step.title.en


@pytest.mark.parametrize("playbook_id", sorted(IDS))
def test_article_5_rules_in_every_playbook(shipped: PlaybookSet, playbook_id: str) -> None:
    playbooks, matrix = shipped.playbooks, shipped.matrix
    pb = next(p for p in playbooks if p.id == playbook_id)
    assert pb.commander_role == matrix.emergency_office
    report = pb.stage(StageId.REPORT)
    assert report is not None
    fifteen = [s for s in report.steps if s.kind is StepKind.REPORT and s.when is not None]
    assert len(fifteen) == 1
    step = fifteen[0]
    assert step.due is not None
    assert (step.due.after.total_seconds(), step.due.from_) == (900, DueFrom.DECLARED)
    assert step.when is not None
    assert step.when.severities == (Severity.I, Severity.II)
    assert "5.1" in step.plan_ref
    assert any(
        s.role == matrix.emergency_office and s.kind is StepKind.REPORT and s.when is None
        for s in report.steps
    )
    initial = pb.stage(StageId.INITIAL_HANDLING)
    assert initial is not None
    gates = [s for s in initial.steps if s.enters_stage is StageId.EMERGENCY_RESPONSE]
    assert len(gates) == 1
    gate = gates[0]
    assert gate.kind is StepKind.APPROVAL
    assert gate.role == matrix.leadership_group
    assert "5.3" in gate.plan_ref
    assert gate.when is not None
    assert gate.when.severities == (Severity.I, Severity.II)


def test_plan_specifics(shipped: PlaybookSet) -> None:
    playbooks, matrix = shipped.playbooks, shipped.matrix
    by_id = {pb.id: pb for pb in playbooks}
    db = by_id["db-crash"]
    pause, resume = db.step("pause-uploads"), db.step("resume-uploads")
    assert pause.kind is resume.kind is StepKind.BROADCAST
    assert pause.broadcast_to is resume.broadcast_to is BroadcastTarget.ALL_UNITS
    assert [st.id for st, s in db.iter_steps() if s.id == "pause-uploads"] == [StageId.REPORT]
    assert "recover-data" in resume.depends_on
    stop = by_id["attack"].step("stop-system")
    assert stop.requires_approval is not None
    assert "8.1" in stop.plan_ref
    assert matrix.may_approve(stop.requires_approval, ApprovalKind.GATED_STEP)
    virus = by_id["virus"]
    on_site = virus.step("security-lead-on-site")
    assert on_site.kind is StepKind.CHECKIN
    assert on_site.due is not None
    assert on_site.due.after.total_seconds() == 600
    assert on_site.due.from_ is DueFrom.STEP
    assert on_site.plan_ref == ("9.5",)
    notify = virus.step("notify-subordinate-units")
    assert notify.broadcast_to is BroadcastTarget.SUBORDINATE_UNITS
    assert notify.requires_approval == matrix.leadership_leader


@pytest.mark.parametrize(
    ("name", "playbook_id"),
    [
        ("db", "db-crash"),
        ("DB-CRASH", "db-crash"),
        ("数据库故障", "db-crash"),
        ("Database", "db-crash"),
        ("病毒", "virus"),
        ("network", "network-outage"),
        ("断电", "power-outage"),
        ("攻击", "attack"),
        ("系统故障", "system-fault"),
        ("灾害", "disaster"),
    ],
)
def test_lookup_by_id_or_alias(name: str, playbook_id: str) -> None:
    library = PlaybookLibrary(SHIPPED)
    library.load()
    found = library.get(name)
    assert found is not None
    assert found.id == playbook_id
    assert library.get("nonsense") is None


def test_example_matrix_models_article_3(shipped: PlaybookSet) -> None:
    matrix = shipped.matrix
    units = {u.id for u in matrix.units}
    assert {
        "user-it",
        "system-vendor",
        "hardware-vendor",
        "security-vendor",
        "database-vendor",
        "network-operator",
    } <= units
    for unit in matrix.units:
        assert unit.responsible is not None, unit.id
    lead = matrix.role("security-group-lead")
    assert lead.unit == "user-it"
    for role in matrix.roles:
        for ref in role.people:
            assert matrix.person(ref).name, ref


# ---------------------------------------------------------------- hot reload


def _touch(path: Path, text: str) -> None:
    before = path.stat().st_mtime_ns
    path.write_text(text, encoding="utf-8")
    os.utime(path, ns=(before + 10**9, before + 10**9))


def test_new_incidents_see_edits_running_ones_keep_their_snapshot(tmp_path: Path) -> None:
    root = tmp_path / "pb"
    shutil.copytree(SHIPPED, root)
    library = PlaybookLibrary(root)
    library.load()
    declared = library.get("db")
    assert declared is not None
    snapshot, digest = declared.canonical_json(), declared.content_hash()

    path = root / "db-crash.yaml"
    _touch(
        path,
        path.read_text(encoding="utf-8").replace(
            "en: Database fault\n", "en: Database failure\n", 1
        ),
    )
    assert library.get("db") is declared  # readers see the edit once it is taken
    assert library.refresh() is True
    edited = library.get("db")
    assert edited is not None
    assert edited.title.en == "Database failure"
    assert edited.content_hash() != digest
    assert Playbook.from_snapshot(snapshot).title.en == "Database fault"
    assert Playbook.from_snapshot(snapshot).content_hash() == digest
    assert library.refresh() is False  # nothing changed since


def test_readers_never_look_at_the_files(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A request reads the set several times on the event loop: memory only, no disk look."""
    root = tmp_path / "pb"
    shutil.copytree(SHIPPED, root)
    library = PlaybookLibrary(root)
    library.load()
    looks = 0
    fingerprint = library._fingerprint

    def counted() -> tuple[tuple[str, int, int], ...]:
        nonlocal looks
        looks += 1
        return fingerprint()

    monkeypatch.setattr(library, "_fingerprint", counted)
    for _ in range(50):
        assert library.get("db") is not None
        assert library.matrix.units
    assert looks == 0
    assert library.refresh() is False
    assert looks == 1


def test_an_unloaded_library_says_so(tmp_path: Path) -> None:
    with pytest.raises(RuntimeError, match="were not loaded"):
        _ = PlaybookLibrary(tmp_path).current


async def test_the_watcher_takes_an_edit_on_its_own_and_stops(tmp_path: Path) -> None:
    root = tmp_path / "pb"
    shutil.copytree(SHIPPED, root)
    library = PlaybookLibrary(root)
    library.load()
    watcher = PlaybookWatcher(library, interval=0.02)
    watcher.start()
    try:
        path = root / "db-crash.yaml"
        _touch(
            path,
            path.read_text(encoding="utf-8").replace(
                "en: Database fault\n", "en: Database failure\n", 1
            ),
        )
        for _ in range(500):
            edited = library.get("db")
            assert edited is not None
            if edited.title.en == "Database failure":
                break
            await asyncio.sleep(0.01)
        assert edited.title.en == "Database failure"
    finally:
        await watcher.stop()
    assert not watcher.running
    _touch(path, path.read_text(encoding="utf-8").replace("Database failure", "DB down", 1))
    await asyncio.sleep(0.1)
    assert library.get("db").title.en == "Database failure"  # stopped: no more looks


def test_a_broken_edit_keeps_the_last_good_set(tmp_path: Path) -> None:
    root = tmp_path / "pb"
    shutil.copytree(SHIPPED, root)
    library = PlaybookLibrary(root)
    library.load()
    path = root / "virus.yaml"
    _touch(path, path.read_text(encoding="utf-8").replace("role: onsite-staff", "role: nobody", 1))
    assert library.refresh() is False
    assert library.errors
    assert "has unknown role 'nobody'" in str(library.errors[0])
    assert library.get("virus") is not None


def test_added_and_removed_files_are_seen(tmp_path: Path) -> None:
    root = tmp_path / "pb"
    shutil.copytree(SHIPPED, root)
    library = PlaybookLibrary(root)
    library.load()
    text = (root / "power-outage.yaml").read_text(encoding="utf-8")
    (root / "ups-failure.yaml").write_text(
        text.replace("id: power-outage", "id: ups-failure").replace(
            "aliases: [power, 断电, 电源中断, 停电]", "aliases: [ups]"
        ),
        encoding="utf-8",
    )
    assert library.refresh() is True
    assert library.get("ups") is not None
    (root / "ups-failure.yaml").unlink()
    assert library.refresh() is True
    assert library.get("ups") is None


def test_library_refuses_to_start_on_an_invalid_set(tmp_path: Path) -> None:
    root = _write_set(tmp_path / "pb", {"matrix.yaml": MATRIX, "demo.yaml": "id: [\n"})
    library = PlaybookLibrary(root)
    with pytest.raises(PlaybookSetError, match="YAML syntax error"):
        library.load()
    with pytest.raises(PlaybookSetError):
        _ = library.current
