"""The only Slack Web API caller: one ``AsyncWebClient`` with retries, plus cached look-ups.

Every Web API method epbot uses is called here, by name, so the manifest's scopes can be
checked against the code (tests/adapters/slack/test_manifest.py scans this package).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import aiohttp
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry.async_handler import AsyncRetryHandler
from slack_sdk.http_retry.builtin_async_handlers import (
    AsyncConnectionErrorRetryHandler,
    AsyncRateLimitErrorRetryHandler,
    AsyncServerErrorRetryHandler,
)
from slack_sdk.http_retry.request import HttpRequest
from slack_sdk.http_retry.response import HttpResponse
from slack_sdk.http_retry.state import RetryState
from slack_sdk.web.async_client import AsyncWebClient

from epbot.adapters.metrics import SlackMetrics

log = logging.getLogger(__name__)

Blocks = Sequence[dict[str, Any]]

# Slack answers these with HTTP 200 but they are still worth a later retry.
_TRANSIENT_ERRORS = frozenset(
    {"ratelimited", "internal_error", "fatal_error", "service_unavailable", "request_timeout"}
)


@dataclass(frozen=True)
class CallFailure(Exception):
    """A Web API call failed; ``transient`` failures are retried later, never dropped."""

    method: str
    error: str
    transient: bool
    retry_after: float | None = None

    def __str__(self) -> str:
        kind = "transient" if self.transient else "permanent"
        return f"{self.method}: {self.error} ({kind})"


def _failure(method: str, exc: BaseException) -> CallFailure:
    if isinstance(exc, SlackApiError):
        status = exc.response.status_code
        error = str(exc.response.get("error") or f"http_{status}")
        retry_after: float | None = None
        header = exc.response.headers.get("Retry-After") or exc.response.headers.get("retry-after")
        if isinstance(header, list):
            header = header[0] if header else None
        if header is not None:
            try:
                retry_after = float(header)
            except ValueError:
                retry_after = None
        transient = status == 429 or status >= 500 or error in _TRANSIENT_ERRORS
        return CallFailure(method, error, transient, retry_after)
    # Timeouts and connection errors: Slack may or may not have acted, so retry.
    return CallFailure(method, type(exc).__name__, True)


class _RateLimitCounter(AsyncRetryHandler):
    """First in the retry chain: counts every 429 (retried or not), never retries itself."""

    def __init__(self, metrics: SlackMetrics) -> None:
        super().__init__(max_retry_count=0)
        self._metrics = metrics

    async def can_retry_async(
        self,
        *,
        state: RetryState,  # noqa: ARG002
        request: HttpRequest,
        response: HttpResponse | None = None,
        error: Exception | None = None,  # noqa: ARG002
    ) -> bool:
        if response is not None and response.status_code == 429:
            method = request.url.rstrip("/").rsplit("/", 1)[-1]
            self._metrics.rate_limited.labels(method=method).inc()
        return False


class SlackClient:
    """Web API calls epbot makes, each raising :class:`CallFailure` on failure."""

    def __init__(
        self,
        token: str,
        *,
        base_url: str,
        timeout: int = 30,
        rate_limit_retries: int = 1,
        server_error_retries: int = 1,
        default_locale: str = "zh-CN",
        metrics: SlackMetrics | None = None,
    ) -> None:
        self.metrics = metrics
        handlers: list[AsyncRetryHandler] = [] if metrics is None else [_RateLimitCounter(metrics)]
        handlers += [
            AsyncRateLimitErrorRetryHandler(max_retry_count=rate_limit_retries),
            AsyncServerErrorRetryHandler(max_retry_count=server_error_retries),
            AsyncConnectionErrorRetryHandler(max_retry_count=1),
        ]
        self.web = AsyncWebClient(
            token=token, base_url=base_url, timeout=timeout, retry_handlers=handlers
        )
        self.default_locale = default_locale
        self._ids: dict[str, str | None] = {}  # person ref -> user id
        self._users: dict[str, dict[str, Any]] = {}  # user id -> users.info "user"

    async def _run(self, method: str, call: Any) -> dict[str, Any]:
        started = time.monotonic()
        try:
            response = await call
        except (TimeoutError, SlackApiError, aiohttp.ClientError) as exc:
            failure = _failure(method, exc)
            self._observe(method, failure.error, started)
            raise failure from exc
        self._observe(method, "ok", started)
        data = response.data
        return data if isinstance(data, dict) else {}

    def _observe(self, method: str, outcome: str, started: float) -> None:
        if self.metrics is not None:
            self.metrics.observe(method, outcome, time.monotonic() - started)

    # --- health ------------------------------------------------------------------------

    async def auth_test(self) -> dict[str, Any]:
        """auth.test: is the token valid and Slack reachable? (readiness)"""
        return await self._run("auth.test", self.web.auth_test())

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
            self.web.chat_postMessage(
                channel=channel,
                text=text,
                blocks=list(blocks) if blocks else None,
                thread_ts=thread_ts,
                unfurl_links=False,
            ),
        )

    async def update_message(
        self, channel: str, ts: str, text: str, blocks: Blocks | None = None
    ) -> dict[str, Any]:
        return await self._run(
            "chat.update",
            self.web.chat_update(
                channel=channel, ts=ts, text=text, blocks=list(blocks) if blocks else []
            ),
        )

    async def post_ephemeral(
        self, channel: str, user: str, text: str, blocks: Blocks | None = None
    ) -> dict[str, Any]:
        return await self._run(
            "chat.postEphemeral",
            self.web.chat_postEphemeral(
                channel=channel, user=user, text=text, blocks=list(blocks) if blocks else None
            ),
        )

    async def pin(self, channel: str, ts: str) -> None:
        try:
            await self._run("pins.add", self.web.pins_add(channel=channel, timestamp=ts))
        except CallFailure as exc:
            if exc.error != "already_pinned":
                raise

    # --- channels ----------------------------------------------------------------------

    async def create_channel(self, name: str) -> dict[str, Any]:
        data = await self._run("conversations.create", self.web.conversations_create(name=name))
        channel = data.get("channel")
        return channel if isinstance(channel, dict) else {}

    async def set_topic(self, channel: str, topic: str) -> None:
        await self._run(
            "conversations.setTopic",
            self.web.conversations_setTopic(channel=channel, topic=topic[:250]),
        )

    async def invite(self, channel: str, users: Sequence[str]) -> None:
        """Invite people; those already in the channel are not an error."""
        if not users:
            return
        try:
            await self._run(
                "conversations.invite",
                self.web.conversations_invite(channel=channel, users=list(users), force=True),
            )
        except CallFailure as exc:
            if exc.error not in ("already_in_channel", "cant_invite_self"):
                raise

    # --- views -------------------------------------------------------------------------

    async def open_view(self, trigger_id: str, view: dict[str, Any]) -> dict[str, Any]:
        return await self._run("views.open", self.web.views_open(trigger_id=trigger_id, view=view))

    async def publish_home(self, user_id: str, view: dict[str, Any]) -> None:
        await self._run("views.publish", self.web.views_publish(user_id=user_id, view=view))

    # --- people ------------------------------------------------------------------------

    async def user_id(self, ref: str) -> str | None:
        """The Slack user id of a person ref (a user id, or an email looked up once)."""
        if "@" not in ref:
            return ref
        if ref in self._ids:
            return self._ids[ref]
        try:
            data = await self._run("users.lookupByEmail", self.web.users_lookupByEmail(email=ref))
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
        """users.info (with locale), cached; {} when Slack does not know the user."""
        cached = self._users.get(user_id)
        if cached is not None:
            return cached
        try:
            data = await self._run(
                "users.info", self.web.users_info(user=user_id, include_locale=True)
            )
        except CallFailure as exc:
            if exc.transient:
                raise
            return {}
        user = data.get("user")
        info = user if isinstance(user, dict) else {}
        self._users[user_id] = info
        return info

    async def locale(self, user_id: str) -> str:
        """``zh-CN`` or ``en`` from the user's Slack locale; the default when unknown."""
        try:
            value = str((await self.user_info(user_id)).get("locale") or "")
        except CallFailure:
            value = ""
        if value.lower().startswith("zh"):
            return "zh-CN"
        if value.lower().startswith("en"):
            return "en"
        return self.default_locale

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
