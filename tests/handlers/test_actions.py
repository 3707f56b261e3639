"""The action table: every action id and callback id has its listener; a click is one use
case, keyed so a second delivery changes nothing."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest

from epbot.adapters.slack.ids import Action, Callback
from epbot.adapters.slack.refusals import field_error
from epbot.adapters.slack.render import ASSIGNEE_FIELD
from handlers import actions, register
from tests.handlers.conftest import EN_USER, ZH_USER, Handlers
from tests.waiting import eventually


class Recorder:
    """Stands in for the Bolt app: remembers what ``register`` attaches."""

    def __init__(self) -> None:
        self.registered: dict[str, list[Any]] = {}

    def _keep(self, kind: str) -> Callable[..., Any]:
        def registrar(key: Any) -> Callable[[Any], Any]:
            self.registered.setdefault(kind, []).append(key)
            return lambda func: func

        return registrar

    def __getattr__(self, name: str) -> Any:
        if name in ("action", "view", "command", "event"):
            return self._keep(name)
        return lambda *args, **kwargs: None  # use(), error()


def test_every_action_id_has_an_entry_in_the_table() -> None:
    missing = set(Action) - set(actions.ACTIONS)
    assert not missing, f"no entry in handlers.actions.ACTIONS for {sorted(missing)}"


def test_every_action_and_callback_id_is_listened_to(handlers: Handlers) -> None:
    app = Recorder()
    register(app, handlers.deps())
    listened = set(app.registered["action"])
    assert {a.value for a in Action} <= listened
    assert set(app.registered["view"]) == {c.value for c in Callback}
    assert app.registered["command"] == ["/incident"]
    # The catch-all for unknown buttons comes after every known one.
    assert app.registered["action"][-1].pattern == ".*"


def test_reason_buttons_and_their_modals_pair_up() -> None:
    asked = {
        entry.callback for entry in actions.ACTIONS.values() if isinstance(entry, actions.AskReason)
    }
    assert asked == set(actions.SUBMISSIONS)


async def _page(handlers: Handlers, incident: int) -> tuple[str, str]:
    """(page key, Slack user id) of the incident's first page."""
    state = await handlers.bot.service.state(incident)
    page = state.pages[0]
    ref = page.person
    user = ref if "@" not in ref else handlers.fake.workspace.user_by_email(ref).id  # type: ignore[union-attr]
    return page.key, user


async def test_a_click_is_one_use_case_and_a_second_delivery_changes_nothing(
    handlers: Handlers,
) -> None:
    incident = await handlers.declare()
    key, user = await _page(handlers, incident)
    for _ in range(2):  # the same click delivered twice (same message, same user)
        response = await handlers.click(Action.INCIDENT_ACK.value, f"{incident}:{key}", user=user)
        assert response.status == 200
        await handlers.idle()
    state = await handlers.bot.service.state(incident)
    page = next(p for p in state.pages if p.key == key)
    assert page.acked_by == page.person  # the matrix ref, even for a person known by e-mail
    assert handlers.fake.calls_to("response_url") == []  # no refusal for the repeat


async def test_a_reason_button_opens_its_modal_with_the_click_remembered(
    handlers: Handlers,
) -> None:
    incident = await handlers.declare()
    value = f"{incident}:report-office"
    await handlers.click(Action.STEP_SKIP.value, value, user=EN_USER)
    [opened] = await eventually(lambda: handlers.fake.calls_to("views.open"))
    view = opened.args["view"]
    assert view["callback_id"] == Callback.SKIP_REASON.value
    meta = json.loads(view["private_metadata"])
    assert meta == {
        "incident": incident,
        "target": "report-office",
        "channel": handlers.channel,
        "key": f"action:step.skip:{value}:{EN_USER}:1.000001",
    }
    assert view["title"]["text"].isascii()  # the clicking person's (English) modal


@pytest.mark.parametrize(("user", "locale"), [(ZH_USER, "zh-CN"), (EN_USER, "en")])
async def test_a_reassignment_without_a_person_is_a_field_error(
    handlers: Handlers, user: str, locale: str
) -> None:
    await handlers.bot.client.user_info(user)  # their locale is known from before
    meta = {"incident": 1, "target": "report-office", "channel": handlers.channel}
    response = await handlers.submit(Callback.REASSIGN.value, user=user, meta=meta)
    assert response.status == 200
    assert json.loads(str(response.body)) == {
        "response_action": "errors",
        "errors": {ASSIGNEE_FIELD: field_error("required", locale)},
    }


async def test_snooze_and_on_it_buttons_reach_their_use_cases(handlers: Handlers) -> None:
    from epbot.adapters.slack.refusals import explain
    from epbot.domain.errors import DomainError, ErrorCode
    from epbot.domain.incident import StepStatus
    from tests.services.conftest import ack_all

    service = handlers.bot.service
    incident = await handlers.declare()
    await ack_all(service, incident)
    state = await service.state(incident)
    step = next(
        s
        for s in state.steps.values()
        if s.status is StepStatus.OPEN and s.due_at is not None and s.assignee
    )
    assignee = str(step.assignee)
    user = (
        assignee
        if "@" not in assignee
        else handlers.fake.workspace.user_by_email(assignee).id  # type: ignore[union-attr]
    )
    value = f"{incident}:{step.step_id}"

    # Somebody else may not quiet another's reminders: refused privately, in their language.
    response = await handlers.click(Action.STEP_SNOOZE_30.value, value, user=EN_USER)
    assert response.status == 200
    [reply] = await handlers.replies()
    assert reply.args["response_type"] == "ephemeral"
    error = DomainError(ErrorCode.NOT_STEP_ASSIGNEE, step="x", assignee="x")
    assert reply.args["text"].split("'")[0] == (explain(error, "en") or "").split("'")[0]

    # The assignee snoozes 30 minutes, then says "I'm on it": both on the timeline.
    for action in (Action.STEP_SNOOZE_30, Action.STEP_ON_IT):
        response = await handlers.click(action.value, value, user=user)
        assert response.status == 200
        await handlers.idle()
    kinds = [e["kind"] for e in await service.timeline(incident)]
    assert "step_snoozed" in kinds
    assert "step_on_it" in kinds
