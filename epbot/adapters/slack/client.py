"""The only Slack Web API caller: one ``AsyncWebClient`` with retries, plus cached look-ups.

Every Web API method epbot uses is called here, by name, so the manifest's scopes can be
checked against the code (tests/adapters/slack/test_manifest.py scans this package).
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, TypeVar

import aiohttp
from slack_sdk.errors import SlackApiError, SlackRequestError
from slack_sdk.web.async_client import AsyncWebClient

from epbot.adapters.metrics import SlackMetrics
from epbot.adapters.slack.calls import (
    AUTH_ERRORS,
    CallFailure,
    all_or_first_failure,
    failure_of,
    is_429,
    shared,
)
from epbot.adapters.slack.pacing import Deferred, Pacer

# CallFailure and its helpers live in ``calls``; callers import them from here too.
__all__ = [
    "AUTH_ERRORS",
    "BACKOFF_CAP",
    "BACKOFF_GROWTH",
    "BACKOFF_START",
    "INTERACTIVE_PATIENCE",
    "LOCALE_WAIT",
    "MENTION_WAIT",
    "CallFailure",
    "SlackClient",
    "all_or_first_failure",
]

log = logging.getLogger(__name__)
T = TypeVar("T")

Blocks = Sequence[dict[str, Any]]

BACKOFF_START = 0.5  # seconds before the first retry of a failed call (then grown)
# Each further retry waits half as long again: a 5xx is most often a blip, and a call that
# failed three times in a row is back in about 1.7 s (doubling took 2.6 s); in a long outage
# a call is still asked only about nine times in its 30 s of patience (doubling: seven).
BACKOFF_GROWTH = 1.5
BACKOFF_CAP = 30.0
INTERACTIVE_PATIENCE = 2.5  # a trigger_id lives 3 s: views.open cannot wait longer
# A message waits at most this long for its reader's language (users.info); past it, it
# goes out in the workspace's language, and the look-up goes on for the next message.
LOCALE_WAIT = 2.0
# A message waits at most this long for the user ids of the people it may mention (those
# the matrix names by e-mail); past it, one still unknown is named by their e-mail, and the
# look-up goes on for the next message. A page must not wait out a look-up's 429s.
MENTION_WAIT = 1.0


class SlackClient:
    """Web API calls epbot makes, each raising :class:`CallFailure` on failure.

    Every call goes through one path (:meth:`_run`): it waits for its slot in the
    :class:`~epbot.adapters.slack.pacing.Pacer`, and retries only itself, at once and
    briefly: a 429 pauses its method (or channel) for ``Retry-After``; a 5xx, timeout or
    connection error is retried with jittered backoff from about 0.5 s (growing by half
    each time), capped at 30 s,
    for at most ``patience`` seconds. Past that the failure goes to the caller (the
    delivery worker keeps the row and frees the worker). No SDK retry handler sleeps
    inside a worker.
    """

    def __init__(
        self,
        token: str,
        *,
        base_url: str,
        timeout: int = 30,
        default_locale: str = "zh-CN",
        metrics: SlackMetrics | None = None,
        pacer: Pacer | None = None,
        patience: float = 30.0,
        max_wait: float = 5.0,
        backoff_start: float = BACKOFF_START,
    ) -> None:
        self.metrics = metrics
        self.pacer = pacer or Pacer(enabled=False)
        self.patience = patience  # how long one call may keep retrying
        self.max_wait = max_wait  # longest wait for a rate window before deferring
        self.backoff_start = backoff_start
        self.web = AsyncWebClient(
            token=token, base_url=base_url, timeout=timeout, retry_handlers=[]
        )
        self.default_locale = default_locale
        self._ids: dict[str, str | None] = {}  # person ref -> user id
        self._lookups: dict[str, asyncio.Future[str | None]] = {}  # ref -> lookup under way
        self._users: dict[str, dict[str, Any]] = {}  # user id -> users.info "user"
        self._infos: dict[str, asyncio.Future[dict[str, Any]]] = {}  # users.info under way
        # What readiness reads instead of asking Slack itself: when a call last succeeded
        # (monotonic), and the token's refusal if the last word on it was one.
        self.last_ok: float | None = None
        self.auth_error: str | None = None

    async def _run(
        self,
        method: str,
        call: Callable[[], Awaitable[Any]],
        *,
        channel: str | None = None,
        patience: float | None = None,
    ) -> dict[str, Any]:
        """Call ``method`` (``call`` makes a fresh request each time), paced and retried."""
        budget = self.patience if patience is None else patience
        deadline = time.monotonic() + budget
        backoff = self.backoff_start
        while True:
            try:
                slot = await self.pacer.acquire(method, channel, longest=min(self.max_wait, budget))
            except Deferred as exc:
                raise CallFailure(method, "paced", True, exc.wait) from None
            started = time.monotonic()
            try:
                response = await call()
            except (TimeoutError, SlackApiError, aiohttp.ClientError) as exc:
                failure = failure_of(method, exc)
                self._observe(method, failure.error, started)
                if failure.error in AUTH_ERRORS:
                    self.auth_error = failure.error
                if not failure.transient:
                    raise failure from exc
                self.pacer.refund(slot)  # Slack did not count it: the slot is free again
                limited = failure.error == "ratelimited" or is_429(exc)
                if limited:
                    if self.metrics is not None:
                        self.metrics.rate_limited.labels(method=method).inc()
                    self.pacer.pause(method, channel, failure.retry_after or 1.0)
                    wait = failure.retry_after or 1.0
                else:
                    # "Equal jitter": half the backoff, plus up to the other half at random.
                    wait = backoff / 2 + random.uniform(0, backoff / 2)
                    backoff = min(backoff * BACKOFF_GROWTH, BACKOFF_CAP)
                if time.monotonic() + wait > deadline:
                    raise failure from exc
                log.debug("%s failed (%s); retrying in %.2fs", method, failure.error, wait)
                if not limited or not self.pacer.enabled:
                    # A 429's pause is the pacer's to keep (every caller of the method
                    # waits it out); with pacing off, this call still honours Retry-After.
                    await asyncio.sleep(wait)
                continue
            self._observe(method, "ok", started)
            self.last_ok, self.auth_error = time.monotonic(), None
            data = response.data
            return data if isinstance(data, dict) else {}

    def keep_alive(self) -> None:
        """Reuse connections to Slack until :meth:`close` (the serving bot's lifetime).

        Without a session of its own, slack_sdk opens a new connection (and, to Slack, a new
        TLS handshake) for every call and closes it after: on the worst day that is a
        handshake before every retry and every message.
        """
        session = self.web.session
        if session is None or session.closed:
            self.web.session = aiohttp.ClientSession(
                timeout=aiohttp.ClientTimeout(total=self.web.timeout)
            )

    async def close(self) -> None:
        """Close the kept-alive connections (calls after this open their own again)."""
        session, self.web.session = self.web.session, None
        if session is not None and not session.closed:
            await session.close()

    def _observe(self, method: str, outcome: str, started: float) -> None:
        if self.metrics is not None:
            self.metrics.observe(method, outcome, time.monotonic() - started)

    # --- health ------------------------------------------------------------------------

    async def auth_test(self) -> dict[str, Any]:
        """auth.test: is the token valid and Slack reachable? (readiness)"""
        return await self._run("auth.test", lambda: self.web.auth_test(), patience=0)

    # --- messages ----------------------------------------------------------------------

    async def post_message(
        self,
        channel: str,
        text: str,
        blocks: Blocks | None = None,
        *,
        thread_ts: str | None = None,
    ) -> dict[str, Any]:
        """chat.postMessage; a user id as ``channel`` posts in the app's DM with that user."""
        return await self._run(
            "chat.postMessage",
            lambda: self.web.chat_postMessage(
                channel=channel,
                text=text,
                blocks=list(blocks) if blocks else None,
                thread_ts=thread_ts,
                unfurl_links=False,
            ),
            channel=channel,
        )

    async def update_message(
        self, channel: str, ts: str, text: str, blocks: Blocks | None = None
    ) -> dict[str, Any]:
        return await self._run(
            "chat.update",
            lambda: self.web.chat_update(
                channel=channel, ts=ts, text=text, blocks=list(blocks) if blocks else []
            ),
            channel=channel,
        )

    async def post_ephemeral(
        self, channel: str, user: str, text: str, blocks: Blocks | None = None
    ) -> dict[str, Any]:
        return await self._run(
            "chat.postEphemeral",
            lambda: self.web.chat_postEphemeral(
                channel=channel, user=user, text=text, blocks=list(blocks) if blocks else None
            ),
            channel=channel,
            patience=INTERACTIVE_PATIENCE,
        )

    async def pin(self, channel: str, ts: str) -> None:
        try:
            await self._run(
                "pins.add",
                lambda: self.web.pins_add(channel=channel, timestamp=ts),
                channel=channel,
            )
        except CallFailure as exc:
            if exc.error != "already_pinned":
                raise

    async def upload_file(
        self,
        channel: str,
        *,
        content: bytes,
        filename: str,
        title: str,
        comment: str,
        thread_ts: str | None = None,
    ) -> dict[str, Any]:
        """Share a file in ``channel`` with a comment: slack_sdk's ``files_upload_v2``
        (files.getUploadURLExternal, the bytes to its upload URL, files.completeUploadExternal).

        A retry redoes the three steps (an unfinished upload is dropped by Slack). A failed
        upload step is not a Web API answer: it raises a transient :class:`CallFailure`
        (``upload_failed``) at once, for the caller to report.
        """

        async def upload() -> Any:
            try:
                return await self.web.files_upload_v2(
                    channel=channel,
                    content=content,
                    filename=filename,
                    title=title,
                    initial_comment=comment,
                    thread_ts=thread_ts,
                )
            except SlackRequestError as exc:
                log.warning("uploading %s to %s failed: %s", filename, channel, exc)
                raise CallFailure("files.completeUploadExternal", "upload_failed", True) from exc

        return await self._run("files.completeUploadExternal", upload, channel=channel)

    # --- channels ----------------------------------------------------------------------

    async def create_channel(self, name: str) -> dict[str, Any]:
        data = await self._run(
            "conversations.create", lambda: self.web.conversations_create(name=name)
        )
        channel = data.get("channel")
        return channel if isinstance(channel, dict) else {}

    async def set_topic(self, channel: str, topic: str) -> None:
        await self._run(
            "conversations.setTopic",
            lambda: self.web.conversations_setTopic(channel=channel, topic=topic[:250]),
            channel=channel,
        )

    async def invite(self, channel: str, users: Sequence[str]) -> None:
        """Invite people; those already in the channel are not an error."""
        if not users:
            return
        try:
            await self._run(
                "conversations.invite",
                lambda: self.web.conversations_invite(
                    channel=channel, users=list(users), force=True
                ),
                channel=channel,
            )
        except CallFailure as exc:
            if exc.error not in ("already_in_channel", "cant_invite_self"):
                raise

    # --- views -------------------------------------------------------------------------

    async def open_view(self, trigger_id: str, view: dict[str, Any]) -> dict[str, Any]:
        return await self._run(
            "views.open",
            lambda: self.web.views_open(trigger_id=trigger_id, view=view),
            patience=INTERACTIVE_PATIENCE,
        )

    async def publish_home(self, user_id: str, view: dict[str, Any]) -> None:
        await self._run("views.publish", lambda: self.web.views_publish(user_id=user_id, view=view))

    # --- people ------------------------------------------------------------------------

    async def user_id(self, ref: str) -> str | None:
        """The Slack user id of a person ref (a user id, or an email looked up once: callers
        asking while it is being looked up wait for that one call)."""
        hit, user = self._cached_id(ref)
        if hit:
            return user
        return await shared(self._lookups, ref, lambda: self._lookup(ref))

    def _cached_id(self, ref: str) -> tuple[bool, str | None]:
        """(True, the user id or None if Slack knows nobody) when no look-up is needed."""
        if "@" not in ref:
            return True, ref
        if ref in self._ids:
            return True, self._ids[ref]
        return False, None

    async def known_ids(self, refs: Sequence[str], wait: float = MENTION_WAIT) -> dict[str, str]:
        """Person ref -> Slack user id for the refs Slack has told within ``wait`` seconds
        (at once for those already known). A look-up that is slower, or failed, goes on
        (or is asked again) for later callers; it is not an error here."""
        found: dict[str, str] = {}
        unknown = []
        for ref in dict.fromkeys(refs):
            hit, user = self._cached_id(ref)
            if not hit:
                unknown.append(ref)
            elif user is not None:
                found[ref] = user
        if not unknown:  # the usual case (the start looked everyone up): no task, no wait
            return found
        asks = {ref: asyncio.ensure_future(self.user_id(ref)) for ref in unknown}
        await asyncio.wait(asks.values(), timeout=wait)
        for ref, ask in asks.items():
            if not ask.done():
                ask.cancel()  # this caller stops waiting; the shared look-up goes on
            elif not ask.cancelled() and ask.exception() is None:
                user = ask.result()
                if isinstance(user, str):
                    found[ref] = user
        return found

    async def warm(self, refs: Sequence[str]) -> None:
        """Look people up ahead of need (the responsibility matrix, at start): their user
        ids and their languages, so the first incident's pages wait for no look-up.
        Best-effort: what fails now is looked up again when a message needs it; one
        failing look-up does not keep the others' languages from being learnt."""
        refs = list(dict.fromkeys(refs))
        ids = await asyncio.gather(*(self.user_id(r) for r in refs), return_exceptions=True)
        users = list(dict.fromkeys(u for u in ids if isinstance(u, str)))
        infos = await asyncio.gather(*(self.user_info(u) for u in users), return_exceptions=True)
        failed = [o for o in (*ids, *infos) if isinstance(o, BaseException)]
        for outcome in failed:
            if not isinstance(outcome, CallFailure):
                raise outcome
        if failed:
            log.info(
                "looking up the matrix's people at start: %d failed (%s); later, on demand",
                len(failed),
                failed[0],
            )

    async def _lookup(self, ref: str) -> str | None:
        try:
            data = await self._run(
                "users.lookupByEmail", lambda: self.web.users_lookupByEmail(email=ref)
            )
        except CallFailure as exc:
            if exc.transient:
                raise
            log.warning("no Slack user for %s: %s", ref, exc.error)
            self._ids[ref] = None
            return None
        user = data.get("user") or {}
        found = user.get("id") if isinstance(user, dict) else None
        self._ids[ref] = found if isinstance(found, str) else None
        return self._ids[ref]

    async def user_info(self, user_id: str) -> dict[str, Any]:
        """users.info (with locale), cached; {} when Slack does not know the user. Callers
        asking while it is being asked wait for that one call (a person's burst of clicks)."""
        cached = self._users.get(user_id)
        if cached is not None:
            return cached
        return await shared(self._infos, user_id, lambda: self._ask_user(user_id))

    async def _ask_user(self, user_id: str) -> dict[str, Any]:
        try:
            data = await self._run(
                "users.info", lambda: self.web.users_info(user=user_id, include_locale=True)
            )
        except CallFailure as exc:
            if exc.transient:
                raise
            return {}
        user = data.get("user")
        info = user if isinstance(user, dict) else {}
        self._users[user_id] = info
        return info

    def cached_locale(self, user_id: str) -> str:
        """The user's locale if already known, else the default, with no Web API call: for
        texts sent with ``ack()``. Callers look the user up after the ack when it matters."""
        info = self._users.get(user_id)
        return self.default_locale if info is None else _locale_of(info, self.default_locale)

    async def locale(self, user_id: str) -> str:
        """``zh-CN`` or ``en`` from the user's Slack locale; the default when unknown, or
        when Slack has not told within ``LOCALE_WAIT`` (a page does not wait out users.info's
        retries: the look-up goes on, and the person's later messages use its answer)."""
        try:
            info = await asyncio.wait_for(self.user_info(user_id), LOCALE_WAIT)
        except (CallFailure, TimeoutError):
            info = {}
        return _locale_of(info, self.default_locale)

    async def email(self, user_id: str) -> str | None:
        try:
            profile = (await self.user_info(user_id)).get("profile") or {}
        except CallFailure:
            return None
        value = profile.get("email") if isinstance(profile, dict) else None
        return value if isinstance(value, str) and value else None

    async def person_ref(self, user_id: str, known_refs: Sequence[str]) -> str:
        """The matrix ref for a clicking user: their id, or their email as the matrix spells it."""
        if user_id in known_refs:
            return user_id
        emails = {r.lower(): r for r in known_refs if "@" in r}
        if emails:
            email = await self.email(user_id)
            if email is not None and email.lower() in emails:
                return emails[email.lower()]
        return user_id


def _locale_of(info: dict[str, Any], default: str) -> str:
    value = str(info.get("locale") or "").lower()
    if value.startswith("zh"):
        return "zh-CN"
    if value.startswith("en"):
        return "en"
    return default
