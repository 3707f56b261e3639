"""In-memory state of one fake Slack workspace: users, conversations, messages, views."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

Event = dict[str, Any]


@dataclass
class User:
    """A workspace member (or the bot user)."""

    id: str
    name: str
    real_name: str = ""
    email: str = ""
    tz: str = "UTC"
    locale: str = "en-US"
    is_bot: bool = False
    bot_id: str | None = None
    is_admin: bool = False
    deleted: bool = False


@dataclass
class Channel:
    """A public or private channel, a DM (``is_im``) or a group DM (``is_mpim``)."""

    id: str
    name: str
    created: int
    creator: str
    is_private: bool = False
    is_im: bool = False
    is_mpim: bool = False
    is_archived: bool = False
    topic: str = ""
    topic_creator: str = ""
    topic_last_set: int = 0
    purpose: str = ""
    purpose_creator: str = ""
    purpose_last_set: int = 0
    members: list[str] = field(default_factory=list)
    im_user: str | None = None  # the other party of a DM


@dataclass
class Message:
    """A message in a conversation; a reply has ``thread_ts`` different from its ``ts``."""

    channel: str
    ts: str
    text: str
    user: str
    bot_id: str | None = None
    blocks: list[Any] | None = None
    attachments: list[Any] | None = None
    thread_ts: str | None = None
    reply_broadcast: bool = False
    edited: dict[str, str] | None = None
    metadata: Any = None
    reactions: dict[str, list[str]] = field(default_factory=dict)
    files: list[str] | None = None  # ids of the files shared with this message

    @property
    def is_reply(self) -> bool:
        """True for a thread reply (not for a thread's parent)."""
        return self.thread_ts is not None and self.thread_ts != self.ts


@dataclass
class Ephemeral:
    """A message only one user saw (chat.postEphemeral or an ephemeral response_url answer)."""

    channel: str
    user: str
    ts: str
    text: str
    blocks: list[Any] | None = None
    thread_ts: str | None = None


@dataclass
class File:
    """A file uploaded with files.getUploadURLExternal + the upload URL + completeUploadExternal.

    ``content`` is None until the bytes arrive at the upload URL; ``completed`` once
    files.completeUploadExternal has taken it (an upload ticket works once).
    """

    id: str
    name: str
    length: int  # as declared to files.getUploadURLExternal
    user: str
    created: int
    ticket: str
    title: str = ""
    alt_txt: str = ""
    snippet_type: str = ""
    content: bytes | None = None
    completed: bool = False
    channels: list[str] = field(default_factory=list)
    shares: dict[str, list[str]] = field(default_factory=dict)  # channel -> message ts


@dataclass
class Pin:
    """A pinned message."""

    channel: str
    ts: str
    created_by: str
    created: int


@dataclass
class View:
    """A modal or Home tab as Slack stores it."""

    id: str
    type: str
    user_id: str
    payload: dict[str, Any]
    hash: str
    root_view_id: str
    previous_view_id: str | None = None
    external_id: str = ""
    closed: bool = False


Listener = Callable[[Event], None]


class Workspace:
    """Everything the fake knows; handlers read and change it, tests seed and inspect it."""

    def __init__(
        self,
        *,
        team_id: str = "T0FAKE0001",
        team_name: str = "epbot fake workspace",
        domain: str = "epbot-fake",
        bot_name: str = "epbot",
        wall_clock: Callable[[], float] = time.time,
    ) -> None:
        self.team_id = team_id
        self.team_name = team_name
        self.domain = domain
        self._wall_clock = wall_clock
        self._last_ts_us = 0
        self._counters: dict[str, int] = {}
        self.users: dict[str, User] = {}
        self.channels: dict[str, Channel] = {}
        self.messages: dict[str, list[Message]] = {}
        self.ephemerals: list[Ephemeral] = []
        self.pins: list[Pin] = []
        self.views: dict[str, View] = {}
        self.home_views: dict[str, str] = {}  # user id -> view id
        self.ims: dict[str, str] = {}  # user id -> DM channel id
        self.files: dict[str, File] = {}  # file id -> file, in upload order
        # Team settings files.getUploadURLExternal checks (tests switch them).
        self.file_uploads_disabled = False
        self.max_file_bytes = 1024 * 1024 * 1024  # Slack's limit: 1 GB
        self.triggers: dict[str, str] = {}  # trigger id -> user id
        self.used_triggers: set[str] = set()
        # Real Slack refuses trigger ids it did not issue; tests that craft their own may
        # leave this off, in which case an unknown trigger opens a view for no one in particular.
        self.strict_triggers = False
        self.listeners: list[Listener] = []
        self.app_id = self.new_id("A")
        self.bot_id = self.new_id("B")
        self.bot = self.add_user(bot_name, real_name=bot_name, is_bot=True, bot_id=self.bot_id)

    # -- clocks and ids ---------------------------------------------------------------

    @property
    def url(self) -> str:
        """The workspace URL as auth.test reports it."""
        return f"https://{self.domain}.slack.com/"

    def now(self) -> int:
        """Wall-clock seconds, for ``created``/``last_set`` fields."""
        return int(self._wall_clock())

    def next_ts(self) -> str:
        """A message ts: wall-clock based, strictly increasing and unique in this workspace."""
        now_us = int(self._wall_clock() * 1_000_000)
        self._last_ts_us = max(now_us, self._last_ts_us + 1)
        seconds, micros = divmod(self._last_ts_us, 1_000_000)
        return f"{seconds}.{micros:06d}"

    def new_id(self, prefix: str) -> str:
        """A Slack-looking id: prefix letter plus upper-case hex (``C0000000A``)."""
        return f"{prefix}{self._next_number(prefix):08X}"

    def issue_trigger(self, user_id: str) -> str:
        """A trigger id as Slack puts in interaction payloads, valid for one views.open/push."""
        trigger = f"{self.now()}.{self._next_number('trigger')}.{user_id.lower()}fa4e"
        self.triggers[trigger] = user_id
        return trigger

    def _next_number(self, kind: str) -> int:
        self._counters[kind] = self._counters.get(kind, 0) + 1
        return self._counters[kind]

    # -- events -----------------------------------------------------------------------

    def emit(self, kind: str, **data: Any) -> None:
        """Tell listeners (the server's subscribers) that something changed."""
        event: Event = {"type": kind, **data}
        for listener in list(self.listeners):
            listener(event)

    # -- seeding ----------------------------------------------------------------------

    def add_user(
        self,
        name: str,
        *,
        real_name: str = "",
        email: str = "",
        tz: str = "UTC",
        locale: str = "en-US",
        is_bot: bool = False,
        bot_id: str | None = None,
        is_admin: bool = False,
        user_id: str | None = None,
    ) -> User:
        """Add a member; returns it (its ``id`` is generated unless given)."""
        user = User(
            id=user_id or self.new_id("U"),
            name=name,
            real_name=real_name or name,
            email=email,
            tz=tz,
            locale=locale,
            is_bot=is_bot,
            bot_id=bot_id,
            is_admin=is_admin,
        )
        self.users[user.id] = user
        return user

    def add_channel(
        self,
        name: str,
        *,
        is_private: bool = False,
        members: Iterable[str] = (),
        creator: str | None = None,
        bot_is_member: bool = False,
    ) -> Channel:
        """Add a channel as if someone had created it (the bot joins only if asked)."""
        creator_id = creator or (self.bot.id if bot_is_member else "")
        channel = Channel(
            id=self.new_id("C"),  # private channels have C ids too nowadays
            name=name,
            created=self.now(),
            creator=creator_id,
            is_private=is_private,
        )
        for member in [*members, *([self.bot.id] if bot_is_member else [])]:
            if member not in channel.members:
                channel.members.append(member)
        self.channels[channel.id] = channel
        self.messages[channel.id] = []
        self.emit("channel_created", channel=channel.id, name=channel.name)
        return channel

    def open_im(self, user_id: str) -> Channel:
        """The bot's DM with ``user_id``, created on first use."""
        existing = self.ims.get(user_id)
        if existing is not None:
            return self.channels[existing]
        channel = Channel(
            id=self.new_id("D"),
            name=user_id,
            created=self.now(),
            creator=self.bot.id,
            is_private=True,
            is_im=True,
            members=[self.bot.id, user_id],
            im_user=user_id,
        )
        self.channels[channel.id] = channel
        self.messages[channel.id] = []
        self.ims[user_id] = channel.id
        return channel

    def open_mpim(self, user_ids: list[str]) -> Channel:
        """A group DM with the bot and ``user_ids`` (reused when the same set exists)."""
        wanted = {self.bot.id, *user_ids}
        for channel in self.channels.values():
            if channel.is_mpim and set(channel.members) == wanted:
                return channel
        names = [self.users[u].name for u in user_ids if u in self.users]
        channel = Channel(
            id=self.new_id("C"),
            name="mpdm-" + "--".join([self.bot.name, *names]) + "-1",
            created=self.now(),
            creator=self.bot.id,
            is_private=True,
            is_mpim=True,
            members=[self.bot.id, *user_ids],
        )
        self.channels[channel.id] = channel
        self.messages[channel.id] = []
        return channel

    # -- look-ups ---------------------------------------------------------------------

    def user_by_email(self, email: str) -> User | None:
        """Case-insensitive e-mail look-up, as Slack does."""
        wanted = email.strip().lower()
        for user in self.users.values():
            if user.email and user.email.lower() == wanted and not user.deleted:
                return user
        return None

    def channel_by_name(self, name: str) -> Channel | None:
        """A channel by name (with or without ``#``), archived ones included."""
        wanted = name.removeprefix("#")
        for channel in self.channels.values():
            if channel.name == wanted and not (channel.is_im or channel.is_mpim):
                return channel
        return None

    def file_by_ticket(self, ticket: str) -> File | None:
        """The file an upload URL's ticket belongs to."""
        return next((f for f in self.files.values() if f.ticket == ticket), None)

    def history(self, channel_id: str) -> list[Message]:
        """All messages of a conversation, oldest first."""
        return self.messages.setdefault(channel_id, [])

    def find_message(self, channel_id: str, ts: str) -> Message | None:
        """The message with this ts in this conversation."""
        for message in self.history(channel_id):
            if message.ts == ts:
                return message
        return None

    def replies(self, channel_id: str, thread_ts: str) -> list[Message]:
        """A thread's replies, oldest first (the parent excluded)."""
        return [m for m in self.history(channel_id) if m.thread_ts == thread_ts and m.is_reply]

    def messages_in(self, channel_id: str) -> list[Message]:
        """Convenience for tests: every message of a channel, replies included, oldest first."""
        return list(self.history(channel_id))

    # -- changes ----------------------------------------------------------------------

    def add_message(self, message: Message) -> Message:
        """Append a message (its ts must come from :meth:`next_ts`)."""
        self.history(message.channel).append(message)
        self.emit("message_posted", channel=message.channel, ts=message.ts, text=message.text)
        return message
