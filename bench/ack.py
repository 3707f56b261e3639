"""ack: signed ``/incident db-crash`` at concurrency C against epbot and against a bare
slack-bolt app doing the same ``views.open``, in the same run, on the same fake Web API
(30 ms latency). Prints p50/p99 of each and epbot's ratio to the bare app.

The fake Web API runs in a process of its own, as Slack runs elsewhere: in the bot's
process its checking of epbot's report modal (some forty elements, against the bare
app's one block) was charged to epbot, about 5 ms of CPU a request, half of all epbot's
time in this benchmark.

    .venv/bin/python -m bench.ack [--requests 500] [--concurrency 50]
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import time
from multiprocessing.connection import Connection
from typing import Any

import aiohttp
from aiohttp import web
from slack_bolt.adapter.aiohttp import to_aiohttp_response, to_bolt_request
from slack_bolt.async_app import AsyncApp
from slack_sdk.web.async_client import AsyncWebClient

from bench.common import REPORTER, SECRET, build_bot, emit, serve, summary
from epbot.fakeslack import FakeSlack
from epbot.fakeslack.signing import FORM, post_signed, slash_command

BENCH = "ack"


async def bare_app(api_url: str, token: str) -> tuple[web.AppRunner, str]:
    """The floor of the stack: Bolt's AsyncApp, one listener that acks and opens a modal."""
    app = AsyncApp(
        signing_secret=SECRET,
        client=AsyncWebClient(token=token, base_url=api_url),
        request_verification_enabled=True,
    )

    @app.command("/incident")
    async def incident(ack: Any, command: dict[str, Any], client: AsyncWebClient) -> None:
        await ack()
        await client.views_open(
            trigger_id=command["trigger_id"],
            view={
                "type": "modal",
                "callback_id": "bare",
                "title": {"type": "plain_text", "text": "Report"},
                "blocks": [{"type": "section", "text": {"type": "mrkdwn", "text": "x"}}],
            },
        )

    async def events(request: web.Request) -> web.Response:
        bolt_request = await to_bolt_request(request)
        return await to_aiohttp_response(await app.async_dispatch(bolt_request))

    web_app = web.Application()
    web_app.router.add_post("/slack/events", events)
    runner = web.AppRunner(web_app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    return runner, f"http://127.0.0.1:{runner.addresses[0][1]}/slack/events"


async def load(
    url: str, http: aiohttp.ClientSession, respond: str, channel: str, n: int, c: int
) -> list[float]:
    took: list[float] = []
    gate = asyncio.Semaphore(c)

    async def one() -> None:
        async with gate:
            body = slash_command(
                text="db-crash",
                user_id=REPORTER,
                channel_id=channel,
                response_url=respond,
            )
            started = time.perf_counter()
            response = await post_signed(http, url, body, FORM, SECRET)
            async with response:
                await response.read()
                assert response.status == 200, response.status
            took.append(time.perf_counter() - started)

    await asyncio.gather(*(one() for _ in range(n)))
    return took


def _slack(conn: Connection) -> None:
    """The fake Web API in this (child) process, until the parent says stop."""

    async def serve() -> None:
        fake = FakeSlack(rate_limits=False, latency=0.03, hang_seconds=5)
        await fake.start()
        ws = fake.workspace
        ws.add_user("reporter", user_id=REPORTER, locale="en-US")
        general = ws.add_channel("general", members=[REPORTER]).id
        conn.send((fake.url, fake.bot_token, general))
        await asyncio.get_running_loop().run_in_executor(None, conn.recv)
        await fake.stop()

    asyncio.run(serve())


async def main(requests: int, concurrency: int, rounds: int) -> None:
    parent, child = multiprocessing.get_context("spawn").Pipe()
    slack = multiprocessing.get_context("spawn").Process(target=_slack, args=(child,))
    slack.start()
    api_url, token, general = parent.recv()
    # No tier limits on either side: 2 x 500 commands in seconds are far past views.open's
    # tier (about 100 a minute), and with pacing on, epbot would refuse most of them (the
    # refusal path), while the bare app has no pacer: the figure is the ack path's cost.
    bot = await build_bot(api_url, token, pacing=False)
    url, runner, http = await serve(bot)
    bare_runner, bare_url = await bare_app(api_url, token)
    respond = f"{api_url.rsplit('/api', 1)[0]}/response/0"  # only used on a failure
    try:
        epbot_all: list[float] = []
        bare_all: list[float] = []
        for _ in range(rounds):  # interleaved, so both see the same machine
            bare_all += await load(bare_url, http, respond, general, requests, concurrency)
            epbot_all += await load(url, http, respond, general, requests, concurrency)
        bare, ours = summary(bare_all), summary(epbot_all)
        emit(BENCH, "bare_bolt_seconds", bare, concurrency=concurrency)
        emit(BENCH, "epbot_seconds", ours, concurrency=concurrency)
        emit(BENCH, "p50_ratio", round(ours["p50"] / bare["p50"], 3), target="<= 1.5")
        emit(BENCH, "p99_ratio", round(ours["p99"] / bare["p99"], 3))
    finally:
        await bare_runner.cleanup()
        await http.close()
        await runner.cleanup()
        parent.send("stop")
        slack.join(10)


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=500)
    parser.add_argument("--concurrency", type=int, default=50)
    parser.add_argument("--rounds", type=int, default=2)
    a = parser.parse_args()
    asyncio.run(main(a.requests, a.concurrency, a.rounds))
