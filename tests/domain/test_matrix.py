"""Responsibility matrix: lookups, escalation chains and cross-checks."""

import copy
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest

from epbot.domain.matrix import DEFAULT_ACK_TIMEOUT, ApprovalKind, Matrix
from epbot.domain.validation import Issue, check_matrix, parse_matrix


def _t(word: str) -> dict[str, str]:
    return {"zh-CN": f"中文{word}", "en": word}


MATRIX: dict[str, Any] = {
    "leadership_group": "leaders",
    "leadership_leader": "leader",
    "emergency_office": "office",
    "units": [
        {"id": "it", "name": _t("IT"), "channel": "#it", "responsible": "office"},
        {"id": "branch", "name": _t("Branch"), "channel": "#branch", "subordinate": True},
        {"id": "quiet", "name": _t("No channel")},
    ],
    "roles": [
        {
            "id": "leaders",
            "name": _t("Leaders"),
            "unit": "it",
            "people": ["U0LEAD1", "U0LEAD2"],
            "may_approve": ["escalation", "decision"],
            "escalate_to": "leader",
        },
        {
            "id": "leader",
            "name": _t("Leader"),
            "unit": "it",
            "people": ["U0LEAD1"],
            "may_approve": ["escalation", "decision", "gated_step"],
        },
        {
            "id": "office",
            "name": _t("Office"),
            "unit": "it",
            "people": ["U0OFF1", "duty@example.com"],
            "ack_timeout": "90s",
            "escalate_to": "leaders",
        },
        {
            "id": "staff",
            "name": _t("Staff"),
            "unit": "branch",
            "people": ["U0STAFF1"],
            "escalate_to": "office",
        },
    ],
    "people": [{"ref": "U0OFF1", "name": "张伟", "phone": "022-0000"}],
}


def _matrix() -> Matrix:
    matrix, issues = parse_matrix(copy.deepcopy(MATRIX))
    assert matrix is not None, issues
    return matrix


def test_the_example_is_valid() -> None:
    assert check_matrix(_matrix()) == []


def test_ack_timeout_default_and_parsed() -> None:
    matrix = _matrix()
    assert matrix.role("staff").ack_timeout == DEFAULT_ACK_TIMEOUT == timedelta(minutes=5)
    assert matrix.role("office").ack_timeout == timedelta(seconds=90)


def test_people_in_paging_order_with_directory_details() -> None:
    people = _matrix().people_of("office")
    assert [p.ref for p in people] == ["U0OFF1", "duty@example.com"]
    assert people[0].name == "张伟"
    assert people[1].name is None


def test_approval_rights() -> None:
    matrix = _matrix()
    assert matrix.may_approve("leaders", ApprovalKind.ESCALATION)
    assert not matrix.may_approve("office", ApprovalKind.DECISION)


def _role(data: dict[str, Any], role_id: str) -> dict[str, Any]:
    result: dict[str, Any] = next(r for r in data["roles"] if r["id"] == role_id)
    return result


Mutation = Callable[[dict[str, Any]], None]

CASES: list[tuple[str, Mutation, list[Issue]]] = [
    (
        "escalation cycle",
        lambda d: _role(d, "leader").update(escalate_to="staff"),
        [
            Issue(
                ("roles", 0, "escalate_to"),
                "escalation cycle: leaders -> leader -> staff -> office -> leaders",
            )
        ],
    ),
    (
        "escalates to itself",
        lambda d: _role(d, "staff").update(escalate_to="staff"),
        [Issue(("roles", 3, "escalate_to"), "role 'staff' escalates to itself")],
    ),
    (
        "unknown escalation role",
        lambda d: _role(d, "staff").update(escalate_to="ofice"),
        [
            Issue(
                ("roles", 3, "escalate_to"),
                "role 'staff' escalates to unknown role 'ofice' (did you mean 'office'?)",
            )
        ],
    ),
    (
        "unknown unit",
        lambda d: _role(d, "staff").update(unit="ops"),
        [Issue(("roles", 3, "unit"), "role 'staff' has unknown unit 'ops'")],
    ),
    (
        "empty people",
        lambda d: _role(d, "staff").update(people=[]),
        [
            Issue(
                ("roles", 3, "people"),
                "empty people list: name at least one person (primary first, then backups)",
            )
        ],
    ),
    (
        "bad person",
        lambda d: _role(d, "staff").update(people=["bob"]),
        [
            Issue(
                ("roles", 3, "people", 0),
                "bad person 'bob': use a Slack user id (U012ABC) or an email",
            )
        ],
    ),
    (
        "person twice",
        lambda d: _role(d, "staff").update(people=["U0STAFF1", "U0STAFF1"]),
        [Issue(("roles", 3, "people", 1), "person 'U0STAFF1' is listed twice in role 'staff'")],
    ),
    (
        "duplicate role",
        lambda d: _role(d, "staff").update(id="leader", escalate_to=None),
        [Issue(("roles", 3, "id"), "duplicate role id 'leader'")],
    ),
    (
        "duplicate unit",
        lambda d: d["units"][2].update(id="it"),
        [Issue(("units", 2, "id"), "duplicate unit id 'it'")],
    ),
    (
        "unknown responsible",
        lambda d: d["units"][1].update(responsible="boss"),
        [Issue(("units", 1, "responsible"), "unit 'branch' names unknown role 'boss'")],
    ),
    (
        "unknown leadership",
        lambda d: d.update(leadership_group="board"),
        [Issue(("leadership_group",), "leadership_group is an unknown role 'board'")],
    ),
    (
        "leadership cannot escalate",
        lambda d: _role(d, "leaders").update(may_approve=[]),
        [
            Issue(
                ("leadership_group",),
                "leadership group 'leaders' may not approve escalation "
                "(Art. 5.3: add 'escalation' to its may_approve)",
            )
        ],
    ),
    (
        "bad ack timeout",
        lambda d: _role(d, "staff").update(ack_timeout="5"),
        [
            Issue(
                ("roles", 3, "ack_timeout"),
                "bad duration '5': use a number with s, m, h or d (e.g. 30s, 15m, 2h, 1d) "
                "or ISO 8601 (e.g. PT15M)",
            )
        ],
    ),
    (
        "zero ack timeout",
        lambda d: _role(d, "staff").update(ack_timeout="0s"),
        [Issue(("roles", 3, "ack_timeout"), "role 'staff': ack_timeout must be longer than 0s")],
    ),
    (
        "unknown approval kind",
        lambda d: _role(d, "staff").update(may_approve=["everything"]),
        [
            Issue(
                ("roles", 3, "may_approve", 0),
                "unknown approval kind 'everything': expected "
                "'escalation', 'gated_step' or 'decision'",
            )
        ],
    ),
    (
        "unknown field",
        lambda d: d["units"][0].update(chanel="#x"),
        [
            Issue(
                ("units", 0, "chanel"),
                "unknown field 'chanel' (did you mean 'channel'?)",
                at_key=True,
            )
        ],
    ),
    (
        "missing name translation",
        lambda d: d["units"][0]["name"].pop("zh-CN"),
        [Issue(("units", 0, "name"), "missing zh-CN translation of name")],
    ),
    (
        "duplicate directory entry",
        lambda d: d["people"].append({"ref": "U0OFF1"}),
        [Issue(("people", 1, "ref"), "duplicate person 'U0OFF1'")],
    ),
]


@pytest.mark.parametrize(("mutate", "expected"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_bad_matrix_gives_located_issue(mutate: Mutation, expected: list[Issue]) -> None:
    data = copy.deepcopy(MATRIX)
    mutate(data)
    matrix, issues = parse_matrix(data)
    if matrix is not None:
        issues = check_matrix(matrix)
    assert issues == expected
