"""The one error route: a refusal is the person's ephemeral reply in their language; a
fault is logged and told as such; Slack always gets its 200."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import pytest
from slack_bolt.context.async_context import AsyncBoltContext

from epbot.adapters.slack import render
from epbot.adapters.slack.ids import Action, Callback
from epbot.adapters.slack.refusals import Unsupported, explain
from epbot.domain.errors import DomainError, ErrorCode
from tests.handlers.conftest import EN_USER, ZH_USER, Handlers
from tests.waiting import eventually

NOT_COMMANDER = {
    "zh-CN": "只有事件指挥人员可以宣布处置完毕。",
    "en": "Only the incident commander can resolve the incident.",
}


@pytest.mark.parametrize(("user", "locale"), [(ZH_USER, "zh-CN"), (EN_USER, "en")])
async def test_a_forbidden_click_is_refused_privately_in_their_language(
    handlers: Handlers, user: str, locale: str
) -> None:
    incident = await handlers.declare()
    response = await handlers.click(Action.INCIDENT_RESOLVE.value, str(incident), user=user)
    assert response.status == 200
    [reply] = await handlers.replies()
    assert reply.args["text"] == NOT_COMMANDER[locale]
    assert reply.args["response_type"] == "ephemeral"
    assert reply.args["replace_original"] is False
    error = DomainError(ErrorCode.NOT_COMMANDER, action="resolve the incident")
    assert reply.args["text"] == explain(error, locale)
    state = await handlers.bot.service.state(incident)
    assert state.is_open


@pytest.mark.parametrize(("user", "locale"), [(ZH_USER, "zh-CN"), (EN_USER, "en")])
@pytest.mark.parametrize(
    ("action_id", "value"),
    [
        ("step.teleport", "1:s1"),
        (Action.STEP_DONE.value, "garbage"),
        (Action.ALERT_DISMISS.value, ""),
    ],
)
async def test_an_unknown_button_is_answered_not_ignored(
    handlers: Handlers, user: str, locale: str, action_id: str, value: str
) -> None:
    response = await handlers.click(action_id, value, user=user)
    assert response.status == 200
    [reply] = await handlers.replies()
    assert reply.args["text"] == explain(Unsupported(), locale)
    assert reply.args["response_type"] == "ephemeral"
    assert {"views.open", "chat.postMessage"}.isdisjoint(c.method for c in handlers.fake.calls)


async def test_a_refused_modal_is_told_in_the_channel_it_came_from(handlers: Handlers) -> None:
    incident = await handlers.declare()
    meta = {"incident": incident, "target": "nope", "channel": handlers.channel}
    values = {"reason": {"reason": {"type": "plain_text_input", "value": "because"}}}
    response = await handlers.submit(
        Callback.REJECT_REASON.value, user=ZH_USER, meta=meta, values=values
    )
    assert response.status == 200
    [sent] = await eventually(lambda: handlers.fake.calls_to("chat.postEphemeral"))
    assert (sent.args["channel"], sent.args["user"]) == (handlers.channel, ZH_USER)
    assert sent.args["text"].startswith("找不到")


async def test_a_fault_after_the_ack_is_told_and_the_ack_stands(handlers: Handlers) -> None:
    incident = await handlers.declare()
    handlers.fake.inject_failure("views.open", status="expired_trigger_id")
    response = await handlers.click(
        Action.STEP_SKIP.value, f"{incident}:report-office", user=ZH_USER
    )
    assert response.status == 200
    [reply] = await handlers.replies()
    assert reply.args["text"] == render.label("zh-CN", "error.internal")
    await handlers.idle()
    assert handlers.fake.calls_to("views.open")[0].error == "expired_trigger_id"


async def test_a_middleware_fault_goes_through_app_error(handlers: Handlers) -> None:
    async def broken(context: AsyncBoltContext, next: Callable[[], Awaitable[None]]) -> None:
        raise RuntimeError("a bug in a middleware")

    handlers.bot.app.use(broken)
    response = await handlers.click(Action.STEP_DONE.value, "1:s1", user=EN_USER)
    assert response.status == 200  # the route answered, not Bolt's 500
    [reply] = await handlers.replies()
    assert reply.args["text"] == render.label("en", "error.internal")
