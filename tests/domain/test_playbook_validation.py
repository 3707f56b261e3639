"""Playbook cross-checks: each bad input gives its issue at the right data path."""

import copy
from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from epbot.domain.matrix import Matrix
from epbot.domain.playbook import Playbook
from epbot.domain.validation import (
    Issue,
    check_names,
    check_playbook,
    parse_matrix,
    parse_playbook,
)


def _t(word: str) -> dict[str, str]:
    return {"zh-CN": f"中文{word}", "en": word}


MATRIX: dict[str, Any] = {
    "leadership_group": "leaders",
    "leadership_leader": "leaders",
    "emergency_office": "office",
    "units": [{"id": "it", "name": _t("IT"), "channel": "#it"}],
    "roles": [
        {
            "id": "leaders",
            "name": _t("Leaders"),
            "unit": "it",
            "people": ["U0LEAD1"],
            "may_approve": ["escalation", "decision", "gated_step"],
        },
        {
            "id": "office",
            "name": _t("Office"),
            "unit": "it",
            "people": ["U0OFF1"],
            "escalate_to": "leaders",
        },
        {
            "id": "staff",
            "name": _t("Staff"),
            "unit": "it",
            "people": ["U0STAFF1"],
            "escalate_to": "office",
        },
    ],
}

PLAYBOOK: dict[str, Any] = {
    "id": "demo",
    "aliases": ["dm"],
    "title": _t("Demo"),
    "fault_class": "system",
    "plan_ref": ["6"],
    "default_severity": "III",
    "commander_role": "office",
    "stages": [
        {
            "id": "report",
            "steps": [
                {
                    "id": "tell",
                    "title": _t("Tell"),
                    "plan_ref": ["5.1"],
                    "role": "office",
                    "kind": "report",
                    "report_to": [{"role": "leaders"}, {"unit": "it"}],
                    "due": {"after": "5m", "from": "declared"},
                    "reminders": {"before": ["2m"], "repeat": "1m"},
                    "escalate_to": "leaders",
                },
            ],
        },
        {
            "id": "initial_handling",
            "steps": [
                {"id": "fix", "title": _t("Fix"), "role": "staff", "due": {"after": "30m"}},
                {
                    "id": "notify",
                    "title": _t("Notify"),
                    "role": "office",
                    "kind": "broadcast",
                    "broadcast_to": "all_units",
                    "message": _t("Pause"),
                    "depends_on": ["fix"],
                },
                {
                    "id": "go",
                    "title": _t("Go"),
                    "role": "leaders",
                    "kind": "approval",
                    "enters_stage": "emergency_response",
                    "when": {"severities": ["I", "II"]},
                },
            ],
        },
        {
            "id": "emergency_response",
            "steps": [
                {
                    "id": "stop",
                    "title": _t("Stop"),
                    "role": "staff",
                    "requires_approval": "leaders",
                },
            ],
        },
        {
            "id": "command_coordination",
            "steps": [
                {
                    "id": "wrap",
                    "title": _t("Wrap"),
                    "role": "office",
                    "due": {"after": "10m", "from": "step", "step": "stop"},
                },
            ],
        },
    ],
}


def _matrix() -> Matrix:
    matrix, issues = parse_matrix(MATRIX)
    assert matrix is not None, issues
    return matrix


def _issues(data: Any) -> list[Issue]:
    playbook, issues = parse_playbook(data)
    if playbook is None:
        return issues
    return check_playbook(playbook, _matrix())


def _step(data: dict[str, Any], stage: int, step: int) -> dict[str, Any]:
    result: dict[str, Any] = data["stages"][stage]["steps"][step]
    return result


Mutation = Callable[[dict[str, Any]], None]

CASES: list[tuple[str, Mutation, list[Issue]]] = [
    (
        "unknown role",
        lambda d: _step(d, 1, 0).update(role="dba"),
        [Issue(("stages", 1, "steps", 0, "role"), "step 'fix' has unknown role 'dba'")],
    ),
    (
        "unknown dependency",
        lambda d: _step(d, 1, 1).update(depends_on=["fux"]),
        [
            Issue(
                ("stages", 1, "steps", 1, "depends_on", 0),
                "step 'notify' depends on unknown step 'fux' (did you mean 'fix'?)",
            )
        ],
    ),
    (
        "cycle",
        lambda d: _step(d, 1, 0).update(depends_on=["notify"]),
        [
            Issue(
                ("stages", 1, "steps", 0, "depends_on", 0), "dependency cycle: fix -> notify -> fix"
            )
        ],
    ),
    (
        "duplicate step",
        lambda d: _step(d, 1, 2).update(id="fix"),
        [Issue(("stages", 1, "steps", 2, "id"), "duplicate step id 'fix'")],
    ),
    (
        "missing en",
        lambda d: _step(d, 1, 0)["title"].pop("en"),
        [Issue(("stages", 1, "steps", 0, "title"), "missing en translation of title")],
    ),
    (
        "bad duration",
        lambda d: _step(d, 1, 0).update(due={"after": "soon"}),
        [
            Issue(
                ("stages", 1, "steps", 0, "due", "after"),
                "bad duration 'soon': use a number with s, m, h or d (e.g. 30s, 15m, 2h, 1d) "
                "or ISO 8601 (e.g. PT15M)",
            )
        ],
    ),
    (
        "approval by non-approver",
        lambda d: _step(d, 1, 2).update(role="office"),
        [
            Issue(
                ("stages", 1, "steps", 2, "role"),
                "approval step 'go' is decided by role 'office', which may not approve escalation "
                "(add 'escalation' to its may_approve)",
            )
        ],
    ),
    (
        "decision by non-approver",
        lambda d: _step(d, 1, 2).update(role="staff", enters_stage=None),
        [
            Issue(
                ("stages", 1, "steps", 2, "role"),
                "approval step 'go' is decided by role 'staff', which may not approve decisions "
                "(add 'decision' to its may_approve)",
            )
        ],
    ),
    (
        "gate by non-approver",
        lambda d: _step(d, 2, 0).update(requires_approval="staff"),
        [
            Issue(
                ("stages", 2, "steps", 0, "requires_approval"),
                "step 'stop' requires approval by role 'staff', which may not approve gated steps "
                "(add 'gated_step' to its may_approve)",
            )
        ],
    ),
    (
        "unknown field",
        lambda d: _step(d, 2, 0).update(requires_aproval="leaders"),
        [
            Issue(
                ("stages", 2, "steps", 0, "requires_aproval"),
                "unknown field 'requires_aproval' (did you mean 'requires_approval'?)",
                at_key=True,
            )
        ],
    ),
    (
        "enters_stage on a task",
        lambda d: _step(d, 1, 0).update(enters_stage="emergency_response"),
        [
            Issue(
                ("stages", 1, "steps", 0, "enters_stage"),
                "step 'fix' has enters_stage but is a task step: only approval steps enter a stage",
            )
        ],
    ),
    (
        "enters an earlier stage",
        lambda d: _step(d, 1, 2).update(enters_stage="report"),
        [
            Issue(
                ("stages", 1, "steps", 2, "enters_stage"),
                "approval step 'go' enters stage 'report', which is not after its own stage "
                "'initial_handling'",
            )
        ],
    ),
    (
        "broadcast without target",
        lambda d: _step(d, 1, 1).pop("broadcast_to"),
        [
            Issue(
                ("stages", 1, "steps", 1),
                "broadcast step 'notify' has no broadcast_to (all_units or subordinate_units)",
            )
        ],
    ),
    (
        "report step without recipients",
        lambda d: _step(d, 0, 0).pop("report_to"),
        [
            Issue(
                ("stages", 0, "steps", 0),
                "report step 'tell' names no recipients: add report_to "
                "(- role: <role id> and/or - unit: <unit id>)",
            )
        ],
    ),
    (
        "report to an unknown role and unit",
        lambda d: _step(d, 0, 0).update(
            report_to=[{"role": "leader"}, {"unit": "itt"}, {"role": "office", "unit": "it"}]
        ),
        [
            Issue(
                ("stages", 0, "steps", 0, "report_to", 0, "role"),
                "report goes to unknown role 'leader' (did you mean 'leaders'?)",
            ),
            Issue(
                ("stages", 0, "steps", 0, "report_to", 1, "unit"),
                "report goes to unknown unit 'itt' (did you mean 'it'?)",
            ),
            Issue(
                ("stages", 0, "steps", 0, "report_to", 2),
                "a recipient is either '- role: <id>' or '- unit: <id>'",
            ),
        ],
    ),
    (
        "progress reports too often",
        lambda d: d.update(progress_reports={"every": "1m", "to": [{"role": "leaders"}]}),
        [
            Issue(
                ("progress_reports", "every"),
                "progress reports every 1m is too often (5m at least)",
            )
        ],
    ),
    (
        "broadcast_to on a task",
        lambda d: _step(d, 1, 0).update(broadcast_to="all_units"),
        [
            Issue(
                ("stages", 1, "steps", 0, "broadcast_to"),
                "step 'fix' has broadcast_to but is a task step",
            )
        ],
    ),
    (
        "due from step without step",
        lambda d: _step(d, 3, 0)["due"].pop("step"),
        [
            Issue(
                ("stages", 3, "steps", 0, "due"),
                "step 'wrap': due counts from another step but names none (add due.step)",
            )
        ],
    ),
    (
        "due from itself",
        lambda d: _step(d, 3, 0)["due"].update(step="wrap"),
        [
            Issue(
                ("stages", 3, "steps", 0, "due", "step"),
                "step 'wrap': due counts from its own completion",
            )
        ],
    ),
    (
        "reminders without due",
        lambda d: _step(d, 2, 0).update(reminders={"repeat": "5m"}),
        [Issue(("stages", 2, "steps", 0, "reminders"), "step 'stop' has reminders but no due")],
    ),
    (
        "escalation without due",
        lambda d: _step(d, 2, 0).update(escalate_to="office"),
        [Issue(("stages", 2, "steps", 0, "escalate_to"), "step 'stop' escalates but has no due")],
    ),
    (
        "zero repeat",
        lambda d: _step(d, 0, 0)["reminders"].update(repeat="0s"),
        [
            Issue(
                ("stages", 0, "steps", 0, "reminders", "repeat"),
                "step 'tell': reminders.repeat must be longer than 0s",
            )
        ],
    ),
    (
        "stage out of order",
        lambda d: d["stages"].reverse(),
        [
            Issue(
                ("stages", 1, "id"),
                "stage 'emergency_response' is out of order: stages go report, "
                "initial_handling, emergency_response, command_coordination",
            ),
            Issue(
                ("stages", 2, "id"),
                "stage 'initial_handling' is out of order: stages go report, "
                "initial_handling, emergency_response, command_coordination",
            ),
            Issue(
                ("stages", 3, "id"),
                "stage 'report' is out of order: stages go report, "
                "initial_handling, emergency_response, command_coordination",
            ),
        ],
    ),
    (
        "depends on a later stage",
        lambda d: _step(d, 1, 0).update(depends_on=["stop"]),
        [
            Issue(
                ("stages", 1, "steps", 0, "depends_on", 0),
                "step 'fix' depends on step 'stop' of a later stage",
            )
        ],
    ),
    (
        "duplicate stage",
        lambda d: d["stages"].append(copy.deepcopy(d["stages"][3])),
        [
            Issue(("stages", 4, "id"), "duplicate stage 'command_coordination'"),
            Issue(("stages", 4, "steps", 0, "id"), "duplicate step id 'wrap'"),
        ],
    ),
    (
        "empty stage",
        lambda d: d["stages"][2].update(steps=[]),
        [
            Issue(("stages", 2), "stage 'emergency_response' has no steps"),
            Issue(
                ("stages", 3, "steps", 0, "due", "step"),
                "step 'wrap': due counts from unknown step 'stop'",
            ),
        ],
    ),
    (
        "id not a slug",
        lambda d: d.update(id="DB Crash"),
        [
            Issue(
                ("id",),
                "playbook id 'DB Crash' is not a slug: use a-z, 0-9 and '-' (e.g. db-crash)",
            )
        ],
    ),
    (
        "alias repeats the id",
        lambda d: d.update(aliases=["DEMO"]),
        [Issue(("aliases", 0), "duplicate alias 'DEMO'")],
    ),
    (
        "bad plan_ref",
        lambda d: d.update(plan_ref=["art. 6"]),
        [Issue(("plan_ref", 0), "bad plan_ref 'art. 6': use article numbers like 7 or 7.1")],
    ),
    (
        "unknown fault class",
        lambda d: d.update(fault_class="cosmic"),
        [
            Issue(
                ("fault_class",),
                "unknown fault class 'cosmic': expected 'system', 'infrastructure' or 'attack'",
            )
        ],
    ),
    (
        "missing field",
        lambda d: _step(d, 1, 0).pop("role"),
        [Issue(("stages", 1, "steps", 0), "missing field 'role'")],
    ),
    (
        "text not a mapping",
        lambda d: d.update(title="Demo"),
        [Issue(("title",), "title must be a mapping, got 'Demo'")],
    ),
    (
        "steps not a list",
        lambda d: d["stages"][0].update(steps="tell"),
        [Issue(("stages", 0, "steps"), "steps must be a list, got 'tell'")],
    ),
]


def test_the_base_playbook_is_valid() -> None:
    assert _issues(copy.deepcopy(PLAYBOOK)) == []


@pytest.mark.parametrize(("mutate", "expected"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_bad_input_gives_located_issue(mutate: Mutation, expected: list[Issue]) -> None:
    data = copy.deepcopy(PLAYBOOK)
    mutate(data)
    assert _issues(data) == expected


def test_without_matrix_roles_are_not_checked() -> None:
    data = copy.deepcopy(PLAYBOOK)
    _step(data, 1, 0)["role"] = "dba"
    playbook, _ = parse_playbook(data)
    assert playbook is not None
    assert check_playbook(playbook, None) == []


def test_names_clash_across_playbooks() -> None:
    first = Playbook.model_validate(PLAYBOOK)
    second = Playbook.model_validate({**PLAYBOOK, "id": "other", "aliases": ["x", "DM"]})
    third = Playbook.model_validate({**PLAYBOOK, "id": "DEMO", "aliases": []})
    assert check_names([first, second, third]) == [
        (1, Issue(("aliases", 1), "alias 'DM' is already used by playbook 'demo'")),
        (2, Issue(("id",), "id 'DEMO' is already used by playbook 'demo'")),
    ]


def test_empty_document() -> None:
    assert parse_playbook(None) == (None, [Issue((), "the playbook file is empty")])


# ---------------------------------------------------------------- random mutations

_JUNK = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-10, 10**6),
    st.floats(allow_nan=True),
    st.text(max_size=8),
    st.sampled_from(
        [
            "",
            "15m",
            "0s",
            "PT1M",
            "office",
            "leaders",
            "fix",
            "stop",
            "I",
            "V",
            "approval",
            "broadcast",
            "step",
            "declared",
            "report",
            "all_units",
        ]
    ),
    st.lists(st.text(max_size=4), max_size=3),
    st.dictionaries(st.text(max_size=4), st.text(max_size=4), max_size=2),
)


def _paths(node: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    found = [prefix]
    if isinstance(node, dict):
        for key, value in node.items():
            found += _paths(value, (*prefix, key))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            found += _paths(value, (*prefix, index))
    return found


def _mutate(data: Any, path: tuple[Any, ...], action: int, junk: Any) -> Any:
    if not path:
        return junk if action == 0 else data
    parent = data
    for key in path[:-1]:
        parent = parent[key]
    last = path[-1]
    if action == 0:
        parent[last] = junk
    elif action == 1:
        del parent[last]
    elif action == 2 and isinstance(parent, list):
        parent.append(copy.deepcopy(parent[last]))
    elif action == 2:
        parent[f"{last}_x"] = junk
    else:
        parent[last] = copy.deepcopy(parent[last]) if junk is None else [parent[last], junk]
    return data


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_random_mutations_never_crash_the_checker(data: st.DataObject) -> None:
    playbook = copy.deepcopy(PLAYBOOK)
    for _ in range(data.draw(st.integers(1, 4))):
        paths = _paths(playbook)
        path = data.draw(st.sampled_from(paths))
        playbook = _mutate(playbook, path, data.draw(st.integers(0, 3)), data.draw(_JUNK))
    issues = _issues(playbook)
    assert all(isinstance(i, Issue) and i.message for i in issues)
    assert all(isinstance(k, str | int) for i in issues for k in i.path)


@settings(max_examples=200)
@given(st.data())
def test_random_matrix_mutations_never_crash_the_checker(data: st.DataObject) -> None:
    from epbot.domain.validation import check_matrix

    matrix = copy.deepcopy(MATRIX)
    for _ in range(data.draw(st.integers(1, 4))):
        path = data.draw(st.sampled_from(_paths(matrix)))
        matrix = _mutate(matrix, path, data.draw(st.integers(0, 3)), data.draw(_JUNK))
    parsed, issues = parse_matrix(matrix)
    if parsed is not None:
        issues = check_matrix(parsed)
    assert all(isinstance(i, Issue) and i.message for i in issues)
