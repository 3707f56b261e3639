"""files.getUploadURLExternal + the upload URL + files.completeUploadExternal, through
slack_sdk's own ``files_upload_v2`` and step by step."""

from __future__ import annotations

import json
from typing import Any

import aiohttp
import pytest
from slack_sdk.errors import SlackApiError, SlackRequestError
from slack_sdk.web.async_client import AsyncWebClient

from epbot.fakeslack import FakeSlack

PDF = b"%PDF-1.7\n" + bytes(range(256)) * 40 + b"\n%%EOF\n"


async def _channel(client: AsyncWebClient, name: str = "inc-files") -> str:
    created = await client.conversations_create(name=name)
    return str(created["channel"]["id"])


async def _error(call: Any) -> str:
    with pytest.raises(SlackApiError) as caught:
        await call
    return str(caught.value.response["error"])


async def test_files_upload_v2_shares_the_bytes_in_the_channel(
    client: AsyncWebClient, fake: FakeSlack
) -> None:
    channel = await _channel(client)
    response = await client.files_upload_v2(
        channel=channel,
        content=PDF,
        filename="2026-0007.pdf",
        title="After-action report 2026-0007",
        initial_comment="The report, as of now",
    )
    file = response["file"]
    assert file["title"] == "After-action report 2026-0007"
    assert file["name"] == "2026-0007.pdf"
    assert file["mimetype"] == "application/pdf"
    assert file["filetype"] == "pdf"
    assert file["size"] == len(PDF)
    assert file["user"] == fake.workspace.bot.id
    stored = fake.workspace.files[file["id"]]
    assert stored.content == PDF
    assert stored.channels == [channel]
    [message] = fake.workspace.messages_in(channel)
    assert message.text == "The report, as of now"
    assert message.files == [file["id"]]
    # The three steps, in order; the upload itself carries no token.
    steps = [c.method for c in fake.calls if c.method.startswith(("files.", "upload"))]
    assert steps == ["files.getUploadURLExternal", "upload_url", "files.completeUploadExternal"]
    assert fake.calls_to("files.getUploadURLExternal")[0].args == {
        "filename": "2026-0007.pdf",
        "length": str(len(PDF)),
    }
    completed = fake.calls_to("files.completeUploadExternal")[0].args
    assert completed["files"] == [{"id": file["id"], "title": "After-action report 2026-0007"}]
    assert completed["channel_id"] == channel


async def test_history_shows_the_shared_file(client: AsyncWebClient, fake: FakeSlack) -> None:
    channel = await _channel(client)
    parent = await client.chat_postMessage(channel=channel, text="card")
    await client.files_upload_v2(
        channel=channel, content=b"a,b\n1,2\n", filename="t.csv", thread_ts=parent["ts"]
    )
    await client.files_upload_v2(channel=channel, content=b"x", filename="x.txt", title="X")
    history = await client.conversations_history(channel=channel)
    newest = history["messages"][0]
    assert newest["upload"] is True
    assert [f["title"] for f in newest["files"]] == ["X"]
    assert newest["files"][0]["shares"]["public"][channel][0]["ts"] == newest["ts"]
    replies = await client.conversations_replies(channel=channel, ts=parent["ts"])
    [reply] = replies["messages"][1:]
    assert reply["files"][0]["name"] == "t.csv"
    assert reply["files"][0]["title"] == "t.csv"  # no title: the file name


async def test_get_upload_url_checks_its_arguments(client: AsyncWebClient, fake: FakeSlack) -> None:
    assert await _error(client.files_getUploadURLExternal(filename="a.pdf", length=0)) == (
        "missing_argument"
    )
    assert await _error(client.api_call("files.getUploadURLExternal", params={"length": 5})) == (
        "missing_argument"
    )
    with pytest.raises(SlackApiError) as caught:
        await client.api_call(
            "files.getUploadURLExternal", params={"filename": "a", "length": "five"}
        )
    assert caught.value.response["error"] == "invalid_arguments"
    assert await _error(
        client.files_getUploadURLExternal(filename="a.png", length=3, alt_txt="x" * 1001)
    ) == ("alt_txt_too_large")
    assert await _error(
        client.files_getUploadURLExternal(filename="a", length=3, snippet_type="klingon")
    ) == ("unknown_snippet_type")
    assert await _error(
        client.files_getUploadURLExternal(filename="a", length=2_000_000, snippet_type="text")
    ) == ("snippet_too_large")
    fake.workspace.max_file_bytes = 10
    assert await _error(client.files_getUploadURLExternal(filename="a", length=11)) == (
        "file_upload_size_restricted"
    )
    fake.workspace.file_uploads_disabled = True
    assert await _error(client.files_getUploadURLExternal(filename="a", length=1)) == (
        "file_uploads_disabled"
    )
    assert fake.workspace.files == {}


async def _ticket(client: AsyncWebClient, data: bytes, name: str = "r.pdf") -> tuple[str, str]:
    got = await client.files_getUploadURLExternal(filename=name, length=len(data))
    return str(got["file_id"]), str(got["upload_url"])


async def test_the_upload_url_takes_raw_or_multipart_bytes_of_the_declared_length(
    client: AsyncWebClient, fake: FakeSlack
) -> None:
    async with aiohttp.ClientSession() as http:
        file_id, url = await _ticket(client, PDF)
        async with http.post(url, data=PDF[:-1]) as short:
            assert short.status == 400
        form = aiohttp.FormData()
        form.add_field("file", PDF, filename="r.pdf", content_type="application/pdf")
        async with http.post(url, data=form) as answer:
            assert answer.status == 200
            assert await answer.text() == f"OK - {len(PDF)}"
        assert fake.workspace.files[file_id].content == PDF
        async with http.post(url.replace("/v1/", "/v1/x"), data=PDF) as unknown:
            assert unknown.status == 404


async def test_complete_needs_uploaded_files_once_and_a_channel_the_bot_is_in(
    client: AsyncWebClient, fake: FakeSlack
) -> None:
    channel = await _channel(client)
    pending, _ = await _ticket(client, PDF)
    assert await _error(
        client.files_completeUploadExternal(files=[{"id": pending}], channel_id=channel)
    ) == ("file_not_found")  # its bytes never arrived
    assert await _error(
        client.files_completeUploadExternal(files=[{"id": "F0NOPE"}], channel_id=channel)
    ) == ("file_not_found")
    with pytest.raises(SlackApiError) as caught:
        await client.api_call("files.completeUploadExternal", params={"channel_id": channel})
    assert caught.value.response["error"] == "invalid_arguments"
    assert caught.value.response["response_metadata"]["messages"] == [
        "[ERROR] missing required field: files"
    ]

    file_id, url = await _ticket(client, PDF)
    async with aiohttp.ClientSession() as http, http.post(url, data=PDF) as answer:
        assert answer.status == 200
    outside = fake.workspace.add_channel("not-joined")
    archived = fake.workspace.add_channel("old", bot_is_member=True)
    archived.is_archived = True
    secret = fake.workspace.add_channel("secret", is_private=True)
    for where, error in [
        ({"channel_id": outside.id}, "not_in_channel"),
        ({"channel_id": "C0MISSING"}, "channel_not_found"),
        ({"channel_id": secret.id}, "channel_not_found"),
        ({"channel_id": archived.id}, "invalid_channel"),
        ({"channels": ",".join(f"C{n:08d}" for n in range(101))}, "channels_limit_exceeded"),
    ]:
        assert await _error(client.files_completeUploadExternal(files=[{"id": file_id}], **where))
        assert fake.calls[-1].error == error, where
    assert await _error(
        client.files_completeUploadExternal(
            files=[{"id": file_id}], channels=[channel, "U0ALICE"], thread_ts="1.000001"
        )
    ) == ("invalid_arguments")
    assert await _error(
        client.files_completeUploadExternal(
            files=[{"id": file_id, "highlight_type": "much-too-long"}], channel_id=channel
        )
    ) == ("invalid_arguments")
    assert not fake.workspace.files[file_id].completed  # every refusal left it untouched

    done = await client.files_completeUploadExternal(
        files=[{"id": file_id, "title": "R"}], channels=[channel, "U0ALICE"]
    )
    assert [f["id"] for f in done["files"]] == [file_id]
    dm = fake.workspace.ims["U0ALICE"]
    assert done["files"][0]["channels"] == [channel]
    assert done["files"][0]["ims"] == [dm]
    assert fake.workspace.messages_in(dm)[0].files == [file_id]
    assert await _error(
        client.files_completeUploadExternal(files=[{"id": file_id}], channel_id=channel)
    ) == ("file_not_found")  # an upload ticket works once


async def test_without_a_channel_the_file_stays_private(
    client: AsyncWebClient, fake: FakeSlack
) -> None:
    response = await client.files_upload_v2(content=b"notes", filename="n.txt")
    file = fake.workspace.files[response["file"]["id"]]
    assert file.completed
    assert file.channels == []
    assert all(not messages for messages in fake.workspace.messages.values())


async def test_blocks_are_used_only_without_a_comment(
    client: AsyncWebClient, fake: FakeSlack
) -> None:
    channel = await _channel(client)
    blocks = [{"type": "section", "text": {"type": "mrkdwn", "text": "*report*"}}]
    for comment in (None, "plain"):
        file_id, url = await _ticket(client, b"abc", "a.txt")
        async with aiohttp.ClientSession() as http, http.post(url, data=b"abc"):
            pass
        await client.files_completeUploadExternal(
            files=[{"id": file_id}],
            channel_id=channel,
            initial_comment=comment,
            blocks=json.dumps(blocks),
        )
    with_blocks, with_comment = fake.workspace.messages_in(channel)
    assert with_blocks.blocks == blocks
    assert with_comment.blocks is None
    assert with_comment.text == "plain"


async def test_a_failed_upload_step_fails_files_upload_v2(
    client: AsyncWebClient, fake: FakeSlack
) -> None:
    channel = await _channel(client)
    fake.inject_failure("upload_url", status=503)
    with pytest.raises(SlackRequestError, match="status: 503"):
        await client.files_upload_v2(channel=channel, content=PDF, filename="r.pdf")
    assert fake.calls_to("upload_url")[0].status == 503
    assert fake.calls_to("files.completeUploadExternal") == []
    assert fake.workspace.messages_in(channel) == []
