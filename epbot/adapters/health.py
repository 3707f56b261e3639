"""Readiness: the database answers, the alarm clock runs, Slack accepts the token.

Readiness decides whether the load balancer sends this process Slack's requests (commands,
button clicks). Slack having a bad minute (5xx, 429, timeouts) is not a reason to stop
taking them: every replica reaches the same Slack, the outbox keeps what cannot be sent,
and a bot that is taken out of service cannot even acknowledge a click. So a transient
Slack failure makes the check ``degraded`` (still ready, named in the body); only a
refused token (``invalid_auth``, ``token_revoked``...) makes it fail.

The Slack check asks nothing when the bot's own calls answer: a call that succeeded
within ``slack_ttl`` proves the token works. Otherwise it asks ``auth.test``, cached, so
a load balancer probing every few seconds does not spend the bot's Web API budget.
Each check has a short timeout. Failures are reported by name and error class only:
never a URL, a token or a password.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from epbot.adapters.leader import Leadership
from epbot.adapters.slack.client import AUTH_ERRORS, CallFailure, SlackClient


@dataclass
class Check:
    ok: bool
    detail: dict[str, Any] = field(default_factory=dict)
    degraded: str | None = None  # still ok, but something is wrong (what)

    def body(self) -> dict[str, Any]:
        extra = {"degraded": self.degraded} if self.degraded else {}
        return {"ok": self.ok, **extra, **self.detail}


class Readiness:
    """The checks behind ``GET /readyz``."""

    def __init__(
        self,
        *,
        engine: AsyncEngine,
        client: SlackClient,
        timers_running: Callable[[], bool],
        leadership: Leadership,
        timeout: float = 2.0,
        slack_ttl: float = 60.0,
        slack_failure_ttl: float = 5.0,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.engine = engine
        self.client = client
        self.timers_running = timers_running
        self.leadership = leadership
        self.timeout = timeout
        self.slack_ttl = slack_ttl
        self.slack_failure_ttl = slack_failure_ttl
        self._monotonic = monotonic
        self._slack: tuple[float, Check] | None = None  # (expires, result)
        self._slack_lock = asyncio.Lock()

    async def check(self) -> tuple[bool, dict[str, Any]]:
        """(ready, JSON body naming every check and the failing ones)."""
        database, slack = await asyncio.gather(self.database(), self.slack())
        checks = {
            "database": database,
            "timers": Check(self.timers_running()),
            "slack": slack,
        }
        failing = sorted(name for name, c in checks.items() if not c.ok)
        degraded = sorted(name for name, c in checks.items() if c.ok and c.degraded)
        body: dict[str, Any] = {
            "status": "unavailable" if failing else "degraded" if degraded else "ok",
            "failing": failing,
            "degraded": degraded,
            "checks": {name: c.body() for name, c in checks.items()},
            "timers": self.leadership.describe(),
        }
        return not failing, body

    async def database(self) -> Check:
        return await _timed(self._select_one(), self.timeout)

    async def _select_one(self) -> Check:
        async with self.engine.connect() as conn:
            await conn.execute(sa.text("SELECT 1"))
        return Check(True)

    async def slack(self) -> Check:
        async with self._slack_lock:  # one auth.test at a time, whatever the probe rate
            now = self._monotonic()
            refused = self.client.auth_error is not None  # the bot's own last call was
            cached = self._slack[1] if self._slack is not None and self._slack[0] > now else None
            if cached is not None and not (cached.ok and refused):
                return cached
            last_ok = self.client.last_ok
            if not refused and last_ok is not None:
                ago = time.monotonic() - last_ok
                if ago < self.slack_ttl:  # the bot's own calls answer: nothing to ask
                    return Check(True, {"answered_seconds_ago": round(ago, 1)})
            result = await _timed(self._auth_test(), self.timeout)
            if not result.ok and result.detail.get("error") not in AUTH_ERRORS:
                # Slack is having trouble, not refusing us: degraded, still ready.
                result = Check(True, degraded=str(result.detail.get("error")))
            ttl = self.slack_ttl if result.ok and not result.degraded else self.slack_failure_ttl
            self._slack = (self._monotonic() + ttl, result)
            return result

    async def _auth_test(self) -> Check:
        try:
            data = await self.client.auth_test()
        except CallFailure as exc:
            return Check(False, {"error": exc.error})
        return Check(True, {"team_id": data.get("team_id"), "user_id": data.get("user_id")})


async def _timed(work: Awaitable[Check], within: float) -> Check:
    try:
        return await asyncio.wait_for(work, within)
    except TimeoutError:
        return Check(False, {"error": "timeout"})
    except Exception as exc:  # reported by class only: messages may carry addresses
        return Check(False, {"error": type(exc).__name__})
