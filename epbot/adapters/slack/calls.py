"""What a failed Web API call is (:class:`CallFailure`), and two ways of awaiting calls
side by side that the client and the effects share."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from typing import TypeVar

from slack_sdk.errors import SlackApiError

T = TypeVar("T")

# The token itself is refused: nothing will work until someone fixes it (readiness says so).
AUTH_ERRORS = frozenset(
    {"invalid_auth", "not_authed", "token_revoked", "token_expired", "account_inactive"}
)

# Slack answers these with HTTP 200 but they are still worth a later retry.
_TRANSIENT_ERRORS = frozenset(
    {"ratelimited", "internal_error", "fatal_error", "service_unavailable", "request_timeout"}
)


@dataclass(eq=False)  # not frozen: raising sets __traceback__, which frozen refuses
class CallFailure(Exception):
    """A Web API call failed; ``transient`` failures are retried later, never dropped."""

    method: str
    error: str
    transient: bool
    retry_after: float | None = None

    def __str__(self) -> str:
        kind = "transient" if self.transient else "permanent"
        return f"{self.method}: {self.error} ({kind})"


def failure_of(method: str, exc: BaseException) -> CallFailure:
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


def is_429(exc: BaseException) -> bool:
    return isinstance(exc, SlackApiError) and exc.response.status_code == 429


async def all_or_first_failure(calls: Iterable[Awaitable[T]]) -> list[T]:
    """Await calls side by side; their results, or the first failure once all have ended
    (none is left running behind a failure)."""
    done = await asyncio.gather(*calls, return_exceptions=True)
    for outcome in done:
        if isinstance(outcome, BaseException):
            raise outcome
    return list(done)  # type: ignore[arg-type]  # no exception is left in it


async def shared(
    pending: dict[str, asyncio.Future[T]], key: str, ask: Callable[[], Awaitable[T]]
) -> T:
    """``ask()`` once for ``key`` however many callers want it meanwhile: later callers wait
    for the call under way. One caller giving up (a cancelled delivery) does not cancel
    the others' call; when it ends, the next caller asks afresh (or reads the cache)."""
    call = pending.get(key)
    if call is None:
        call = asyncio.ensure_future(ask())
        pending[key] = call

        def forget(done: asyncio.Future[T]) -> None:
            pending.pop(key, None)
            if not done.cancelled():
                done.exception()  # its callers re-raise it; nobody left waiting is no error

        call.add_done_callback(forget)
    return await asyncio.shield(call)
