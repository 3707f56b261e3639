"""The report, reason and reassign modals: valid views with the documented input ids."""

from __future__ import annotations

import json

import pytest

from epbot.adapters.playbook_files import PlaybookSet
from epbot.adapters.slack import ids
from epbot.adapters.slack import render as r
from tests.adapters.slack.render.samples import (
    check_view,
    context,
)


@pytest.mark.parametrize("locale", ["en", "zh-CN"])
def test_reassign_modal(locale: str) -> None:
    view = r.reassign_modal(
        context(locale), step_title="<b>", initial_user="U1", private_metadata="{}"
    )
    assert view["callback_id"] == ids.Callback.REASSIGN
    [picker] = [b for b in view["blocks"] if b.get("block_id") == r.ASSIGNEE_FIELD]
    assert picker["element"] == {
        "type": "users_select",
        "action_id": r.ASSIGNEE_FIELD,
        "initial_user": "U1",
    }
    assert "&lt;b&gt;" in json.dumps(view)
    check_view(view)


@pytest.mark.parametrize("locale", ["en", "zh-CN"])
@pytest.mark.parametrize("playbook_id", [None, "virus"])
@pytest.mark.parametrize("drill", [False, True])
def test_report_modal(
    library: PlaybookSet, locale: str, playbook_id: str | None, drill: bool
) -> None:
    view = r.report_modal(
        list(library.playbooks),
        library.matrix,
        context(locale),
        playbook_id=playbook_id,
        drill=drill,
        private_metadata='{"channel": "C1"}',
    )
    check_view(view)
    assert view["callback_id"] == ids.Callback.REPORT
    inputs = {b["block_id"]: b for b in view["blocks"] if b["type"] == "input"}
    expected = [f for f in r.REPORT_FIELDS if playbook_id is None or f != "playbook"]
    assert list(inputs) == expected
    for block_id, block in inputs.items():
        assert block["element"]["action_id"] == block_id
    assert inputs["occurred_at"]["element"]["type"] == "datetimepicker"
    assert inputs["occurred_at"]["element"]["initial_date_time"] == int(context().now.timestamp())
    assert inputs["measures"]["element"]["multiline"] is True
    units = [o["value"] for o in inputs["unit"]["element"]["options"]]
    assert units == [u.id for u in library.matrix.units]
    severity = inputs["severity"]["element"]
    assert [o["value"] for o in severity["options"]] == ["I", "II", "III", "IV"]
    if playbook_id:
        assert severity["initial_option"]["value"] == "III"


@pytest.mark.parametrize("locale", ["en", "zh-CN"])
def test_reason_modal(locale: str) -> None:
    view = r.reason_modal(
        ids.Callback.REJECT_REASON,
        context(locale),
        title="A very long title that Slack would refuse",
        private_metadata="42:k",
    )
    check_view(view)
    assert view["callback_id"] == ids.Callback.REJECT_REASON
    block = view["blocks"][-1]
    assert block["block_id"] == r.REASON_FIELD
