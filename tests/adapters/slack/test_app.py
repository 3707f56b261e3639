"""The Bolt app as built for epbot: signature check, retry de-duplication, the count of
listeners still running after their ack, and the aiohttp routes around it."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from slack_bolt.async_app import AsyncApp
from slack_bolt.request.async_request import AsyncBoltRequest

from epbot.adapters.slack.app import (
    HEALTH_PATH,
    READY_PATH,
    ListenerWork,
    SeenRequests,
    build_app,
    keep_warming,
    request_key,
    track_listeners,
    warm_authorization,
    web_app,
)
from epbot.adapters.slack.client import SlackClient
from epbot.fakeslack import FakeSlack
from epbot.fakeslack.signing import (
    FORM,
    JSON,
    block_actions,
    event_callback,
    signed_headers,
    slash_command,
    view_submission,
)

SECRET = "app-tests-secret"


def test_request_key_names_one_request_across_its_retries() -> None:
    assert request_key({"event_id": "Ev1", "type": "event_callback"}) == "event:Ev1"
    assert request_key({"type": "view_submission", "view": {"id": "V1"}}) == "view:V1"
    click = {"type": "block_actions", "trigger_id": "T1", "actions": [{"action_ts": "9.9"}]}
    assert request_key(click) == "action:T1:9.9"
    assert request_key({"command": "/incident", "trigger_id": "T2"}) == "command:T2"
    assert request_key({"type": "url_verification"}) is None


def test_seen_requests_forget_the_oldest_first() -> None:
    seen = SeenRequests(size=2)
    assert seen.add("a")
    assert seen.add("b")
    assert not seen.add("a")  # seen, and now the most recent
    assert seen.add("c")  # "b" is forgotten, not "a"
    assert not seen.add("a")
    assert seen.add("b")


async def test_listener_work_waits_for_the_last_listener() -> None:
    work = ListenerWork()
    assert await work.wait_idle(0.01)
    work.begin()
    work.begin()
    work.end()
    assert not await work.wait_idle(0.01)
    assert work.running == 1
    work.end()
    work.end()  # never below zero
    assert work.running == 0
    assert await work.wait_idle(0.01)


@pytest.fixture
async def fake() -> AsyncIterator[FakeSlack]:
    server = FakeSlack(rate_limits=False, hang_seconds=1)
    await server.start()
    yield server
    await server.stop()


@pytest.fixture
def app(fake: FakeSlack) -> AsyncApp:
    return build_app(client=SlackClient(fake.bot_token, base_url=fake.url), signing_secret=SECRET)


async def dispatch(
    app: AsyncApp,
    body: str,
    content_type: str = FORM,
    *,
    retry: int | None = None,
    secret: str = SECRET,
) -> Any:
    headers = signed_headers(secret, body, content_type=content_type, retry_num=retry)
    return await app.async_dispatch(AsyncBoltRequest(body=body, headers=headers))


async def test_a_retry_of_a_handled_request_is_answered_without_running_again(
    app: AsyncApp,
) -> None:
    ran: list[str] = []

    @app.view("incident.report")
    async def submitted(ack: Any, view: dict[str, Any]) -> None:
        ran.append(view["id"])
        await ack()

    body = view_submission(user_id="U1", callback_id="incident.report", view_id="V0ONE")
    assert (await dispatch(app, body)).status == 200
    assert (await dispatch(app, body, retry=1)).status == 200  # Slack's retry: dropped
    assert ran == ["V0ONE"]
    assert (await dispatch(app, body)).status == 200  # a double submit has no retry header
    assert ran == ["V0ONE", "V0ONE"]  # ... and is left to the use case's idempotency key
    other = view_submission(user_id="U1", callback_id="incident.report", view_id="V0TWO")
    assert (await dispatch(app, other, retry=1)).status == 200  # first time seen: it runs
    assert ran[-1] == "V0TWO"


async def test_a_badly_signed_request_is_refused(app: AsyncApp) -> None:
    body = slash_command(text="help", user_id="U1", channel_id="C1")
    assert (await dispatch(app, body, secret="not-the-secret")).status == 401


async def test_listeners_are_counted_until_their_after_ack_work_ends(app: AsyncApp) -> None:
    work = ListenerWork()
    track_listeners(app, work)
    release = asyncio.Event()

    @app.action("step.done")
    async def clicked(ack: Any) -> None:
        await ack()
        await release.wait()  # the work after the ack

    body = block_actions(user_id="U1", action_id="step.done", value="1:s", channel_id="C1")
    response = await dispatch(app, body)
    assert response.status == 200  # Slack has its answer ...
    assert work.running == 1  # ... while the listener still works
    assert not await work.wait_idle(0.05)
    release.set()
    assert await work.wait_idle(2.0)
    event = event_callback({"type": "app_home_opened", "user": "U1", "tab": "home"})
    assert (await dispatch(app, event, JSON)).status == 404  # nobody listens: not counted
    assert work.running == 0


async def test_web_app_serves_events_and_health(app: AsyncApp) -> None:
    @app.command("/incident")
    async def incident(ack: Any) -> None:
        await ack(text="pong")

    runner = web.AppRunner(web_app(app))
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    base = f"http://127.0.0.1:{runner.addresses[0][1]}"
    body = slash_command(text="ping", user_id="U1", channel_id="C1")
    try:
        async with aiohttp.ClientSession() as session:
            async with session.get(base + HEALTH_PATH) as health:
                assert (health.status, await health.text()) == (200, "ok")
            async with session.get(base + READY_PATH) as ready:
                assert ready.status == 404  # no readiness checks were given
            headers = signed_headers(SECRET, body, content_type=FORM)
            async with session.post(base + "/slack/events", data=body, headers=headers) as answer:
                assert answer.status == 200
                assert await answer.text() == "pong"
            ssl_check = "ssl_check=1&token=x"
            headers = signed_headers(SECRET, ssl_check, content_type=FORM)
            async with session.post(base + "/slack/events", data=ssl_check, headers=headers) as ok:
                assert ok.status == 200
    finally:
        await runner.cleanup()


async def test_authorization_is_warmed_at_start_so_no_request_waits_on_auth_test(
    app: AsyncApp, fake: FakeSlack
) -> None:
    assert await warm_authorization(app)
    assert len(fake.calls_to("auth.test")) == 1

    @app.view("incident.report")
    async def submitted(ack: Any) -> None:
        await ack()

    body = view_submission(user_id="U1", callback_id="incident.report", view_id="V0WARM")
    assert (await dispatch(app, body)).status == 200
    assert len(fake.calls_to("auth.test")) == 1  # the request did not ask again
    assert await warm_authorization(app)  # already warm: no second call
    assert len(fake.calls_to("auth.test")) == 1


async def test_warming_keeps_asking_until_slack_answers(app: AsyncApp, fake: FakeSlack) -> None:
    """Slack answering 429/500 at start: the bot asks again (backing off) until it knows."""
    fake.inject_failure("auth.test", status=500, times=2)
    await asyncio.wait_for(keep_warming(app, first=0.01), 10)
    assert len(fake.calls_to("auth.test")) == 3  # two refused, then answered
    assert await warm_authorization(app)  # known now: no further call
    assert len(fake.calls_to("auth.test")) == 3


async def test_a_request_during_the_warm_up_waits_for_it_instead_of_asking(
    app: AsyncApp, fake: FakeSlack
) -> None:
    """Slack refuses the start's first auth.test; a request arriving meanwhile is not
    refused ('Failed to authorize'): it waits for the warm-up's next, answered try."""
    ran: list[str] = []

    @app.view("incident.report")
    async def submitted(ack: Any, view: dict[str, Any]) -> None:
        ran.append(view["id"])
        await ack()

    fake.inject_failure("auth.test", status=429, times=1)
    warming = asyncio.create_task(keep_warming(app, first=0.3))
    await asyncio.sleep(0.05)  # the first try was refused; the next comes in 0.3 s
    body = view_submission(user_id="U1", callback_id="incident.report", view_id="V0WAIT")
    assert (await dispatch(app, body)).status == 200
    assert ran == ["V0WAIT"]
    await warming
    assert len(fake.calls_to("auth.test")) == 2  # both the warm-up's: the request asked none
