"""The context middleware: ``person`` and ``target`` are in Bolt's context before any
listener runs, parsed from the request alone (no Web API call, no database)."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from typing import Any

from slack_bolt.context.async_context import AsyncBoltContext

from epbot.adapters.slack.ids import Action, Callback
from handlers.context import Person, Target, target_of
from tests.handlers.conftest import EN_USER, ZH_USER, Handlers


def record_context(handlers: Handlers) -> list[tuple[Person | None, Target | None]]:
    """A global middleware after the context middleware, keeping what it found."""
    seen: list[tuple[Person | None, Target | None]] = []

    async def recorder(context: AsyncBoltContext, next: Callable[[], Awaitable[None]]) -> None:
        person = context.get("person")
        # A copy: the guard resolves the same object after the ack.
        copy = Person(person.user_id, person.locale, person.actor) if person else None
        seen.append((copy, context.get("target")))
        await next()

    handlers.bot.app.use(recorder)
    return seen


async def test_a_click_puts_the_person_and_the_target_in_context(handlers: Handlers) -> None:
    seen = record_context(handlers)
    response = await handlers.click(Action.STEP_DONE.value, "42:report-office", user=EN_USER)
    assert response.status == 200
    [(person, target)] = seen
    # Nobody has looked the person up yet: the default locale and their user id, no call.
    assert person == Person(EN_USER, "zh-CN", EN_USER)
    assert target is not None
    assert (target.incident, target.item, target.channel) == (42, "report-office", handlers.channel)
    assert target.key == f"action:step.done:42:report-office:{EN_USER}:1.000001"
    assert target.alert is None


async def test_a_known_person_comes_with_their_cached_locale(handlers: Handlers) -> None:
    await handlers.bot.client.user_info(EN_USER)  # as after an earlier request of theirs
    seen = record_context(handlers)
    before = len(handlers.fake.calls_to("users.info"))
    await handlers.command("help", user=EN_USER)
    [(person, _)] = seen
    assert person is not None
    assert person.locale == "en"
    assert len(handlers.fake.calls_to("users.info")) == before


async def test_a_modal_and_a_command_have_their_targets(handlers: Handlers) -> None:
    seen = record_context(handlers)
    meta = {"incident": 7, "target": "approve-stop", "channel": "C0WHERE", "step": "s1"}
    await handlers.submit(Callback.REJECT_REASON.value, user=ZH_USER, meta=meta, view_id="V0CTX")
    await handlers.command("status", user=ZH_USER)
    [(_, modal), (person, typed)] = seen
    assert modal == Target(
        key="view:V0CTX", incident=7, item="approve-stop", channel="C0WHERE", meta=meta
    )
    assert typed is not None
    assert typed.channel == handlers.channel
    assert typed.key.startswith("command:")
    assert typed.incident is None
    assert person is not None
    assert person.user_id == ZH_USER


def _click(action_id: str, value: str) -> dict[str, Any]:
    return {
        "type": "block_actions",
        "actions": [{"action_id": action_id, "value": value}],
        "channel": {"id": "C1"},
        "container": {"message_ts": "9.1"},
    }


def test_target_of_warnings_bad_values_and_events() -> None:
    alert = target_of(_click(Action.ALERT_DISMISS.value, "12"), "U1")
    assert (alert.alert, alert.incident, alert.channel) == (12, None, "C1")
    assert target_of(_click(Action.ALERT_DECLARE.value, "x"), "U1").alert is None
    bad = target_of(_click(Action.STEP_DONE.value, "not-a-number:s1"), "U1")
    assert (bad.incident, bad.item, bad.key) == (
        None,
        "",
        "action:step.done:not-a-number:s1:U1:9.1",
    )
    assert target_of(_click(Action.INCIDENT_RESOLVE.value, "5"), "U1").incident == 5
    view = {"type": "view_submission", "view": {"id": "V1", "private_metadata": "{not json"}}
    assert target_of(view, "U1") == Target(key="view:V1")
    listed = {"type": "view_submission", "view": {"id": "V2", "private_metadata": "[1]"}}
    assert target_of(listed, "U1") == Target(key="view:V2")
    alert_modal = {"alert": "3", "channel": "C9"}
    submitted = {
        "type": "view_submission",
        "view": {"id": "V3", "private_metadata": json.dumps(alert_modal)},
    }
    assert target_of(submitted, "U1") == Target(
        key="view:V3", alert=3, channel="C9", meta=alert_modal
    )
    event = {"type": "event_callback", "event_id": "Ev1", "event": {"channel": "D1"}}
    assert target_of(event, "U1") == Target(key="event:Ev1", channel="D1")


def test_modal_meta_remembers_the_click() -> None:
    target = Target(key="action:k", incident=4, item="s2", channel="C4")
    assert target.modal_meta() == {
        "incident": 4,
        "target": "s2",
        "channel": "C4",
        "key": "action:k",
    }
