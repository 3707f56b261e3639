"""Issue 17 in Slack, end to end over signed requests: `/incident report` shares the PDF in the
incident channel, and `epbot audit verify --from-slack` checks the table against the last
anchor the bot posted there."""

from __future__ import annotations

import asyncio
import io
from typing import Any

import pytest
import sqlalchemy as sa
from pypdf import PdfReader

from epbot.adapters.db import models as m
from epbot.cli import main
from epbot.domain.anchor import Anchor, find_anchors
from epbot.fakeslack import FakeSlack
from epbot.fakeslack.workspace import Message
from tests.scenarios.conftest import PLAYBOOKS, REPORTER, Harness, fake, harness
from tests.scenarios.test_incident_flow import COMMANDER, declare_acked

__all__ = ["fake", "harness"]

NUMBER = "2026-0001"
TITLE = "数据库宕机 / DB down"  # the report the harness declares
ZH_USER = "U0ZHREADER"


def _pdf_text(data: bytes) -> str:
    return "\n".join(page.extract_text() or "" for page in PdfReader(io.BytesIO(data)).pages)


async def _chain(harness: Harness, incident_id: int) -> Anchor:
    timeline = await harness.bot.service.timeline(incident_id)
    async with harness.bot.engine.connect() as conn:
        head = (
            await conn.execute(
                sa.select(m.TimelineEvent.hash)  # type: ignore[call-overload]
                .where(m.TimelineEvent.incident_id == incident_id)
                .order_by(m.TimelineEvent.seq.desc())  # type: ignore[attr-defined]
                .limit(1)
            )
        ).scalar_one()
    return Anchor(NUMBER, len(timeline), str(head))


async def _report(harness: Harness, channel: str, user: str) -> tuple[list[Any], list[Message]]:
    """`/incident report` typed by ``user`` in ``channel``: its ephemeral replies and the
    file messages that appeared in the channel."""
    replies = len(harness.fake.calls_to("response_url"))
    shared = _file_messages(harness.fake, channel)
    status, body = await harness.command("report", user=user, channel=channel)
    assert status == 200
    assert body == ""  # acknowledged at once, with nothing to show yet

    def done() -> bool:
        new = harness.fake.calls_to("response_url")[replies:]
        return len(_file_messages(harness.fake, channel)) > len(shared) or len(new) > 1

    await harness.eventually(done, within=60.0)
    return harness.fake.calls_to("response_url")[replies:], _file_messages(harness.fake, channel)[
        len(shared) :
    ]


def _file_messages(fake: FakeSlack, channel: str) -> list[Message]:
    return [msg for msg in fake.workspace.messages_in(channel) if msg.files]


async def test_report_in_the_channel_uploads_the_pdf_in_the_persons_language(
    harness: Harness,
) -> None:
    incident_id = await declare_acked(harness)
    row = await harness.incident_row(incident_id)
    channel = row.channel_id
    assert channel is not None
    expected = await _chain(harness, incident_id)

    replies, [message] = await _report(harness, channel, REPORTER)  # REPORTER reads English
    [first] = replies
    assert "Preparing the after-action report as a PDF" in first.args["text"]
    [file_id] = message.files or []
    file = harness.fake.workspace.files[file_id]
    assert file.name == f"{NUMBER}.pdf"
    assert file.title == f"After-action report {NUMBER}"
    assert file.content is not None
    assert file.content.startswith(b"%PDF")
    assert file.channels == [channel]
    text = _pdf_text(file.content)
    assert TITLE in text
    assert "After-action report" in text
    flat = "".join(text.split())
    assert expected.head in flat
    assert find_anchors(text) == [expected]
    # The comment says what it is and pins the chain in Slack's record of the channel.
    assert message.text.startswith(f"After-action report {NUMBER} (PDF, as of ")
    assert find_anchors(message.text) == [expected]
    # The three steps of files.uploadV2 reached the fake.
    [asked] = harness.fake.calls_to("files.getUploadURLExternal")
    assert asked.args["length"] == str(len(file.content))
    [completed] = harness.fake.calls_to("files.completeUploadExternal")
    assert completed.args["channel_id"] == channel

    # Someone reading Chinese gets the Chinese report.
    harness.fake.workspace.add_user("zh-reader", user_id=ZH_USER, locale="zh-CN")
    harness.fake.workspace.channels[channel].members.append(ZH_USER)
    replies, [message] = await _report(harness, channel, ZH_USER)
    assert "正在生成处置总结报告" in replies[0].args["text"]
    zh = harness.fake.workspace.files[(message.files or [])[0]]
    assert zh.title == f"突发事件处置总结报告 {NUMBER}"
    assert zh.content is not None
    zh_text = _pdf_text(zh.content)
    assert "突发事件处置总结报告" in zh_text
    assert TITLE in zh_text
    assert find_anchors(zh_text) == [expected]
    assert message.text.startswith(f"突发事件处置总结报告 {NUMBER}（截至 ")


async def test_report_elsewhere_says_where_to_run_it(harness: Harness) -> None:
    await harness.declare()
    before = len(harness.fake.calls_to("response_url"))
    status, _ = await harness.command("report")  # in #general
    assert status == 200
    [reply] = await harness.eventually(lambda: harness.fake.calls_to("response_url")[before:])
    assert "`/incident report` works inside an incident channel" in reply.args["text"]
    assert NUMBER in reply.args["text"]  # and which incidents are open
    assert reply.args.get("response_type") in (None, "ephemeral")
    assert harness.fake.calls_to("files.getUploadURLExternal") == []


async def test_a_refused_upload_is_told_to_the_person(harness: Harness) -> None:
    incident_id = await harness.declare()
    row = await harness.incident_row(incident_id)
    assert row.channel_id is not None
    harness.fake.workspace.channels[row.channel_id].members.remove(harness.fake.workspace.bot.id)
    replies, shared = await _report(harness, row.channel_id, REPORTER)
    assert shared == []
    assert [c.error for c in harness.fake.calls_to("files.completeUploadExternal")] == [
        "not_in_channel"
    ]
    assert len(replies) == 2
    refused = replies[1].args["text"]
    assert "could not be uploaded to this channel (`not_in_channel`)" in refused
    assert f"epbot report incident {NUMBER} --format pdf" in refused


def _verify(*argv: str) -> tuple[int, str]:
    out = io.StringIO()
    code = main(["audit", "verify", *argv], out=out)
    return code, out.getvalue()


@pytest.fixture
def slack_cli_env(harness: Harness, database_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """`epbot` on the harness's database, reading Slack from the fake."""
    monkeypatch.setenv("EPBOT_DATABASE_URL", database_url)
    monkeypatch.setenv("EPBOT_PLAYBOOKS_DIR", str(PLAYBOOKS))
    monkeypatch.setenv("EPBOT_MATRIX", str(PLAYBOOKS / "matrix.yaml"))
    monkeypatch.setenv("SLACK_BOT_TOKEN", harness.fake.bot_token)
    monkeypatch.setenv("SLACK_API_URL", harness.fake.url)


async def test_verify_from_slack_detects_dropped_newest_entries(
    harness: Harness, slack_cli_env: None, capsys: pytest.CaptureFixture[str]
) -> None:
    incident_id = await declare_acked(harness)
    row = await harness.incident_row(incident_id)
    assert row.channel_id is not None
    # Each stage change states the chain's head in the channel: already an anchor.
    staged = await harness.eventually(
        lambda: [t for t in _channel_texts(harness) if "Stage started" in t and "anchor" in t]
    )
    code, said = await asyncio.to_thread(_verify, NUMBER, "--from-slack")
    assert code == 0, said
    assert "matches its anchor" in said
    assert "no audit anchor in the incident's Slack channel" not in capsys.readouterr().err
    assert staged

    # The closing report (cancel) pins the chain; so does /incident report, later.
    status, _ = await harness.command("cancel 误报", user=COMMANDER, channel=row.channel_id)
    assert status == 200
    await harness.eventually(lambda: any("audit anchor" in t for t in _channel_texts(harness)))
    await harness.eventually(harness._delivered)
    await _report(harness, row.channel_id, REPORTER)
    pinned = await _chain(harness, incident_id)
    code, said = await asyncio.to_thread(_verify, NUMBER, "--from-slack")
    assert code == 0, said
    assert f"matches its anchor ({pinned.entries} entries, head {pinned.head[:12]})" in said
    history = [c for c in harness.fake.calls_to("conversations.history") if c.ok]
    assert history
    assert all(c.args["channel"] == row.channel_id for c in history)

    async with harness.bot.engine.begin() as conn:  # someone cuts the last two entries
        await conn.execute(
            sa.delete(m.TimelineEvent).where(
                m.TimelineEvent.incident_id == incident_id,  # type: ignore[arg-type]
                m.TimelineEvent.seq > pinned.entries - 2,  # type: ignore[arg-type]
            )
        )
    code, said = await asyncio.to_thread(_verify, NUMBER)
    assert code == 0  # the chain alone cannot tell
    code, said = await asyncio.to_thread(_verify, NUMBER, "--from-slack")
    assert code == 1
    assert said.count("\n") == 1
    assert f"2 newest timeline entries missing: the anchor pinned {pinned.entries}" in said


async def test_verify_from_slack_without_a_token_or_access_is_one_line(
    harness: Harness,
    slack_cli_env: None,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    incident_id = await harness.declare()
    row = await harness.incident_row(incident_id)
    assert row.channel_id is not None
    harness.fake.workspace.channels[row.channel_id].members.remove(harness.fake.workspace.bot.id)
    code, _ = await asyncio.to_thread(_verify, NUMBER, "--from-slack")
    assert code == 1
    # One line from epbot (the in-process fake's access log shares stderr here).
    said = [line for line in capsys.readouterr().err.splitlines() if "aiohttp" not in line]
    assert said == [f"epbot: cannot read channel {row.channel_id} from Slack: not_in_channel"]
    monkeypatch.delenv("SLACK_BOT_TOKEN")
    code, _ = await asyncio.to_thread(_verify, NUMBER, "--from-slack")
    assert code == 1
    assert "needs SLACK_BOT_TOKEN" in capsys.readouterr().err


def _channel_texts(harness: Harness) -> list[str]:
    out = []
    for messages in harness.fake.workspace.messages.values():
        for msg in messages:
            out.append(msg.text + str(msg.blocks or ""))
    return out
