"""A faithful fake of Slack's Web API (tests and the browser sandbox), plus signed inbound requests.

Quick start::

    fake = FakeSlack(rate_limits=False)
    await fake.start()
    client = AsyncWebClient(token=fake.bot_token, base_url=fake.url)
"""

from epbot.fakeslack.args import SlackError
from epbot.fakeslack.ratelimit import ManualClock, RateLimiter
from epbot.fakeslack.reference import MethodRef, Reference, default_reference_dir
from epbot.fakeslack.server import DEFAULT_BOT_TOKEN, NO_ANSWER, Call, FakeSlack
from epbot.fakeslack.workspace import Channel, Ephemeral, Message, Pin, User, View, Workspace

__all__ = [
    "DEFAULT_BOT_TOKEN",
    "NO_ANSWER",
    "Call",
    "Channel",
    "Ephemeral",
    "FakeSlack",
    "ManualClock",
    "Message",
    "MethodRef",
    "Pin",
    "RateLimiter",
    "Reference",
    "SlackError",
    "User",
    "View",
    "Workspace",
    "default_reference_dir",
]
