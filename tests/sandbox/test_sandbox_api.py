"""The sandbox's JSON/SSE API against the real bot, without a browser."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import yaml

from epbot.adapters.clock import OffsetClock
from epbot.adapters.slack.app import EVENTS_PATH
from epbot.config import Settings
from epbot.fakeslack.signing import post_signed, slash_command
from epbot.sandbox import COMMANDS, Sandbox, sandbox_settings
from tests.sandbox.conftest import ROOT
from tests.waiting import eventually

REPORTER = "U01UIT0001"


async def call(sandbox: Sandbox, verb: str, **body: Any) -> tuple[int, dict[str, Any]]:
    async with (
        aiohttp.ClientSession() as session,
        session.post(f"{sandbox.url}sandbox/{verb}", json=body) as response,
    ):
        return response.status, await response.json()


async def state(sandbox: Sandbox, **query: str) -> dict[str, Any]:
    async with (
        aiohttp.ClientSession() as session,
        session.get(f"{sandbox.url}sandbox/state", params=query) as response,
    ):
        assert response.status == 200
        data: dict[str, Any] = await response.json()
        return data


def general(sandbox: Sandbox) -> str:
    channel = sandbox.workspace.channel_by_name("general")
    assert channel is not None
    return channel.id


def report_values(now: int) -> dict[str, Any]:
    text = {
        "title": "DB down",
        "place": "Server room",
        "nature": "Database crash",
        "scope": "All units",
        "trend": "Stable",
        "measures": "None yet",
        "contact_phone": "022-2630-0201",
    }
    values: dict[str, Any] = {
        name: {name: {"type": "plain_text_input", "value": value}} for name, value in text.items()
    }
    values["unit"] = {"unit": {"type": "static_select", "selected_option": {"value": "user-it"}}}
    values["severity"] = {"severity": {"type": "static_select", "selected_option": {"value": "II"}}}
    values["occurred_at"] = {
        "occurred_at": {"type": "datetimepicker", "selected_date_time": now - 60}
    }
    return values


async def test_seeded_from_the_matrix(sandbox: Sandbox) -> None:
    ws = sandbox.workspace
    matrix = sandbox.bot.library.matrix
    for role in matrix.roles:
        for ref in role.people:
            user = ws.user_by_email(ref) if "@" in ref else ws.users.get(ref)
            assert user is not None, ref
    for unit in matrix.units:
        assert unit.channel is not None
        assert ws.channel_by_name(unit.channel) is not None, unit.channel
    assert ws.channel_by_name("ep-incidents") is not None  # the announcement channel
    # The bot resolves e-mail people through users.lookupByEmail, against the fake.
    email_ref = "pm.backup@inspur-vendor.example.com"
    user_id = await sandbox.bot.client.user_id(email_ref)
    assert user_id is not None
    assert ws.users[user_id].real_name == "徐斌"
    # Once: the bot looks the matrix's people up at start, and asks no more after that.
    asked = [c.args["email"] for c in sandbox.fake.calls_to("users.lookupByEmail")]
    assert asked.count(email_ref) == 1


async def test_slash_command_opens_the_report_modal_for_the_user(sandbox: Sandbox) -> None:
    status, answer = await call(
        sandbox, "command", user=REPORTER, channel=general(sandbox), text="/incident db-crash"
    )
    assert (status, answer) == (200, {"ok": True})
    # The bot acks first and opens the modal right after: the command's answer may come
    # before views.open does.
    [opened] = await eventually(lambda: sandbox.fake.calls_to("views.open"))
    assert opened.ok
    view = sandbox.workspace.views[opened.response["view"]["id"]]
    assert view.user_id == REPORTER  # the trigger id we issued belongs to the typist
    assert view.payload["callback_id"] == "incident.report"
    seen = await state(sandbox, user=REPORTER, channel=general(sandbox))
    assert seen["modal"]["id"] == view.id
    assert (await state(sandbox, user="U01EOF0001"))["modal"] is None  # nobody else sees it

    # A bad phone: the bot answers with field errors and the modal stays open.
    now = int(sandbox.clock.now().timestamp())
    values = report_values(now)
    values["contact_phone"]["contact_phone"]["value"] = "call me"
    status, answer = await call(sandbox, "submit", user=REPORTER, view_id=view.id, values=values)
    assert status == 200
    assert set(answer["errors"]) == {"contact_phone"}
    assert not view.closed

    status, answer = await call(
        sandbox, "submit", user=REPORTER, view_id=view.id, values=report_values(now)
    )
    # The answer names the new incident channel, and the reporter is told where it is,
    # privately, in the channel the report was started from.
    assert status == 200
    assert view.closed
    ws = sandbox.workspace
    channel = await eventually(
        lambda: next((c for c in ws.channels.values() if c.name.startswith("inc-")), None)
    )
    assert answer == {"ok": True, "channel": channel.id}
    [link] = [e for e in ws.ephemerals if e.channel == general(sandbox)]
    assert link.user == REPORTER
    assert f"<#{channel.id}>" in link.text
    pinned = await eventually(lambda: [p for p in ws.pins if p.channel == channel.id])
    await eventually(lambda: channel.topic)  # set after the card: the tightest tier goes last
    seen = await state(sandbox, user=REPORTER, channel=channel.id)
    assert [m["ts"] for m in seen["channel"]["pins"]] == [pinned[0].ts]
    assert seen["channel"]["topic"]


async def test_help_answer_and_unknown_command(sandbox: Sandbox) -> None:
    status, answer = await call(
        sandbox, "command", user=REPORTER, channel=general(sandbox), text="/incident help"
    )
    assert (status, answer) == (200, {"ok": True})
    [whisper] = sandbox.workspace.ephemerals  # the command's immediate answer
    assert whisper.user == REPORTER
    assert "/incident" in whisper.text
    status, answer = await call(
        sandbox, "command", user=REPORTER, channel=general(sandbox), text="/nope"
    )
    assert answer == {"ok": False, "error": "unknown_command", "command": "/nope"}
    status, answer = await call(
        sandbox, "command", user=REPORTER, channel=general(sandbox), text="hello <!channel>"
    )
    assert answer == {"ok": True}
    [message] = sandbox.workspace.history(general(sandbox))
    assert (message.user, message.text) == (REPORTER, "hello <!channel>")


async def test_the_bot_verifies_signatures(sandbox: Sandbox) -> None:
    body = slash_command(text="help", user_id=REPORTER, channel_id=general(sandbox))
    url = f"{sandbox.url.rstrip('/')}{EVENTS_PATH}"
    async with aiohttp.ClientSession() as session:
        response = await post_signed(
            session, url, body, "application/x-www-form-urlencoded", "not-the-secret"
        )
        async with response:
            assert response.status == 401


async def test_fast_forward_fires_timers_and_streams_events(sandbox: Sandbox) -> None:
    async with (
        aiohttp.ClientSession() as session,
        session.get(f"{sandbox.url}sandbox/events") as stream,
    ):
        assert stream.headers["Content-Type"].startswith("text/event-stream")
        assert await stream.content.readline() == b"retry: 1000\n"
        status, answer = await call(sandbox, "clock", user=REPORTER, minutes=15)
        assert status == 200
        assert answer["offset_minutes"] == 15
        lines: list[bytes] = []
        while not any(line.startswith(b"data:") for line in lines):
            lines.append(await asyncio.wait_for(stream.content.readline(), 5))
        data = json.loads(lines[-1].removeprefix(b"data:"))
        assert data == {"type": "clock_changed"}
    assert isinstance(sandbox.clock, OffsetClock)
    assert sandbox.clock.offset.total_seconds() == 15 * 60
    status, answer = await call(sandbox, "clock", user=REPORTER, minutes=0)
    assert status == 400


async def test_home_tab_is_published_for_the_user(sandbox: Sandbox) -> None:
    status, answer = await call(sandbox, "home", user="U01EOF0001")
    assert answer == {"ok": True}
    seen = await eventually(
        lambda: state(sandbox, user="U01EOF0001") if sandbox.workspace.home_views else None
    )
    assert seen["home"]["type"] == "home"


@pytest.mark.parametrize(
    ("verb", "body"),
    [
        ("command", {"user": "UNOBODY", "channel": "C1", "text": "/incident"}),
        ("submit", {"user": REPORTER, "view_id": "V404", "values": {}}),
        ("action", {"user": REPORTER, "channel": "C404", "message_ts": "1.0", "block_index": 0}),
        ("clock", {"user": REPORTER, "minutes": "15"}),
        ("teleport", {"user": REPORTER}),
    ],
)
async def test_bad_requests_are_refused(sandbox: Sandbox, verb: str, body: dict[str, Any]) -> None:
    status, answer = await call(sandbox, verb, **body)
    assert status == 400
    assert answer["ok"] is False


async def test_only_json_posts(sandbox: Sandbox) -> None:
    async with (
        aiohttp.ClientSession() as session,
        session.post(f"{sandbox.url}sandbox/clock", data={"minutes": "15"}) as response,
    ):
        assert response.status == 415


async def test_page_and_assets_are_served_locally(sandbox: Sandbox) -> None:
    async with aiohttp.ClientSession() as session:
        async with session.get(sandbox.url) as response:
            page = await response.text()
        assert "/static/app.js" in page
        texts = [page]
        for asset in ("app.js", "blockkit.js", "mrkdwn.js", "i18n.js", "style.css"):
            async with session.get(f"{sandbox.url}static/{asset}") as response:
                assert response.status == 200, asset
                texts.append(await response.text())
    for text in texts:
        assert "http://" not in text  # nothing is fetched from elsewhere (no CDN)
        assert "https://" not in text
        assert "innerHTML" not in text  # user text only ever becomes text nodes
        assert "insertAdjacentHTML" not in text


def test_sandbox_defaults(tmp_path: Path) -> None:
    plain = Settings(playbooks_dir=ROOT / "playbooks", matrix=ROOT / "playbooks" / "matrix.yaml")
    chosen = sandbox_settings(plain)
    assert chosen.database_url == "sqlite+aiosqlite:///./epbot-sandbox.db"
    assert chosen.incidents_channel == "ep-incidents"
    mine = Settings(database_url=f"sqlite+aiosqlite:///{tmp_path / 'x.db'}")
    assert sandbox_settings(mine).database_url == mine.database_url


def test_commands_match_the_manifest() -> None:
    manifest = yaml.safe_load((ROOT / "manifest.yaml").read_text(encoding="utf-8"))
    assert tuple(c["command"] for c in manifest["features"]["slash_commands"]) == COMMANDS
