"""ack: signed ``/incident db-crash`` at concurrency C against epbot and against a bare
slack-bolt app doing the same ``views.open``, in the same run, on the same fake Web API
(30 ms latency). Prints p50/p99 of each and epbot's ratio to the bare app.

    .venv/bin/python -m bench.ack [--requests 500] [--concurrency 50]
"""

from __future__ import annotations

import argparse
import asyncio
import time
from typing import Any

import aiohttp
from aiohttp import web
from slack_bolt.adapter.aiohttp import to_aiohttp_response, to_bolt_request
from slack_bolt.async_app import AsyncApp
from slack_sdk.web.async_client import AsyncWebClient

from bench.common import REPORTER, SECRET, emit, start, summary
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
    url: str, http: aiohttp.ClientSession, fake: Any, channel: str, n: int, c: int
) -> list[float]:
    took: list[float] = []
    gate = asyncio.Semaphore(c)

    async def one() -> None:
        async with gate:
            body = slash_command(
                text="db-crash",
                user_id=REPORTER,
                channel_id=channel,
                response_url=fake.new_response_url(channel_id=channel, user_id=REPORTER),
            )
            started = time.perf_counter()
            response = await post_signed(http, url, body, FORM, SECRET)
            async with response:
                await response.read()
                assert response.status == 200, response.status
            took.append(time.perf_counter() - started)

    await asyncio.gather(*(one() for _ in range(n)))
    return took


async def main(requests: int, concurrency: int, rounds: int) -> None:
    run = await start(rate_limits=False)
    runner, bare_url = await bare_app(run.fake.url, run.fake.bot_token)
    try:
        epbot_all: list[float] = []
        bare_all: list[float] = []
        for _ in range(rounds):  # interleaved, so both see the same machine
            bare_all += await load(bare_url, run.http, run.fake, run.general, requests, concurrency)
            epbot_all += await load(run.url, run.http, run.fake, run.general, requests, concurrency)
        bare, ours = summary(bare_all), summary(epbot_all)
        emit(BENCH, "bare_bolt_seconds", bare, concurrency=concurrency)
        emit(BENCH, "epbot_seconds", ours, concurrency=concurrency)
        emit(BENCH, "p50_ratio", round(ours["p50"] / bare["p50"], 3), target="<= 1.5")
        emit(BENCH, "p99_ratio", round(ours["p99"] / bare["p99"], 3))
    finally:
        await runner.cleanup()
        await run.stop()


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=500)
    parser.add_argument("--concurrency", type=int, default=50)
    parser.add_argument("--rounds", type=int, default=2)
    a = parser.parse_args()
    asyncio.run(main(a.requests, a.concurrency, a.rounds))
