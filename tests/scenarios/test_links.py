"""Every App Home entry and every /incident list entry that names an incident links its
channel and says its number and title, end to end (issue 14)."""

from __future__ import annotations

from typing import Any

from tests.scenarios.conftest import Harness, report_values
from tests.scenarios.test_digest import acknowledge_pages

COMMANDER = "U01EOF0001"  # emergency-office: steps in both incidents
TITLES = ("数据库宕机 / DB down", "Virus on host 7")


def lines_naming_incidents(view: dict[str, Any]) -> list[str]:
    lines: list[str] = []
    for block in view["blocks"]:
        if block["type"] == "section":
            lines += [e for e in block["text"]["text"].split("\n• ") if "2026-000" in e]
    return lines


async def test_home_and_list_link_every_incident(harness: Harness) -> None:
    first = await harness.declare()
    second = await harness.declare(
        "virus", view_id="V0SECOND", values=report_values(title={"value": TITLES[1]})
    )
    for incident_id in (first, second):
        await acknowledge_pages(harness, incident_id)
    channels = {}
    for number, incident_id, title in zip(
        ("2026-0001", "2026-0002"), (first, second), TITLES, strict=True
    ):
        row = await harness.incident_row(incident_id)
        channels[number] = (f"<#{row.channel_id}>", title)

    before = len(harness.fake.calls_to("views.publish"))
    status, _ = await harness.event(
        {"type": "app_home_opened", "user": COMMANDER, "tab": "home", "channel": "D1"}
    )
    assert status == 200
    [published] = await harness.eventually(lambda: harness.fake.calls_to("views.publish")[before:])
    lines = lines_naming_incidents(published.args["view"])
    # the commander's open steps of both incidents, and the two incidents themselves
    assert len(lines) >= 4
    assert {n for n in channels if any(n in line for line in lines)} == set(channels)
    for line in lines:
        [number] = [n for n in channels if n in line]
        link, title = channels[number]
        assert link in line, line
        assert title in line, line

    before = len(harness.fake.calls_to("response_url"))
    await harness.command("list")
    [reply] = await harness.eventually(lambda: harness.fake.calls_to("response_url")[before:])
    entries = [line for line in reply.args["text"].splitlines() if line.startswith("•")]
    assert len(entries) == 2
    for entry in entries:
        [number] = [n for n in channels if n in entry]
        link, title = channels[number]
        assert link in entry, entry
        assert title in entry, entry
