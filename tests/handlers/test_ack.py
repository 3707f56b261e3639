"""Slack gets its acknowledgement before any Web API call: the person's locale and matrix ref
are looked up after the ack (FakeSlack records when each call was answered)."""

from __future__ import annotations

import json
import time

import pytest
from slack_bolt.response import BoltResponse

from epbot.adapters.slack.ids import Action, Callback
from epbot.fakeslack.server import Call
from tests.handlers.conftest import EN_USER, Handlers
from tests.waiting import eventually

LATENCY = 1.0  # every Web API answer takes this long: a call before the ack would delay it


async def _timed(handlers: Handlers, kind: str, incident: int) -> tuple[BoltResponse, float]:
    started = time.monotonic()
    if kind == "click":
        response = await handlers.click(Action.INCIDENT_RESOLVE.value, str(incident), user=EN_USER)
    elif kind == "command":
        response = await handlers.command("list", user=EN_USER)
    else:
        meta = {"playbook": "db-crash", "drill": False, "channel": handlers.channel}
        response = await handlers.submit(Callback.REPORT.value, user=EN_USER, meta=meta)
    acked = time.monotonic()
    assert acked - started < LATENCY, "the ack waited for a Web API call"
    return response, acked


@pytest.mark.parametrize("kind", ["click", "command", "invalid submission"])
async def test_users_info_is_called_only_after_the_ack(handlers: Handlers, kind: str) -> None:
    incident = await handlers.declare()
    handlers.fake.latency = LATENCY
    response, acked = await _timed(handlers, kind, incident)
    assert response.status == 200
    lookups: list[Call] = await eventually(lambda: handlers.fake.calls_to("users.info"))
    assert all(call.time > acked for call in lookups), [c.time - acked for c in lookups]
    await handlers.idle()
    assert all(call.time > acked for call in handlers.fake.calls if call.method != "response_url")


async def test_the_refusal_after_the_ack_speaks_the_looked_up_locale(handlers: Handlers) -> None:
    incident = await handlers.declare()
    handlers.fake.latency = 0.2
    await _timed(handlers, "click", incident)
    [reply] = await handlers.replies()  # the default is zh-CN; the person reads English
    assert reply.args["text"] == "Only the incident commander can resolve the incident."


async def test_texts_sent_with_the_ack_use_the_cached_locale_else_the_default(
    handlers: Handlers,
) -> None:
    first = await handlers.command("help", user=EN_USER)
    # Not looked up yet: the workspace default, zh-CN.
    assert str(first.body).startswith("*epbot — 应急预案*")
    await handlers.idle()  # the ack looked the person up, after it went out
    second = await handlers.command("help", user=EN_USER)
    assert str(second.body).startswith("*epbot — emergency plan*")  # now known: English
    meta = {"playbook": "db-crash", "drill": False, "channel": handlers.channel}
    invalid = await handlers.submit(Callback.REPORT.value, user=EN_USER, meta=meta)
    errors = json.loads(str(invalid.body))["errors"]
    assert errors["place"] == "This field is required."
