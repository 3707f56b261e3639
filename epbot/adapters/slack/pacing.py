"""Pacing of Web API calls: stay inside Slack's rate tiers before Slack has to say 429.

One :class:`Pacer` per process, shared by every delivery worker. Each method is limited
by its rate tier (Slack's reference data, vendored with the fake Web API), with a moving
window like Slack's own accounting; ``chat.postMessage`` is limited per channel instead
("about one message a second per channel, short bursts allowed"). A 429's ``Retry-After``
pauses only what it names: that method, or that channel for posting.

The moving-window counting is the ``limits`` library's (MovingWindowRateLimiter on its
in-memory storage): a well-kept implementation of exactly this strategy, the same one
Flask-Limiter and SlowAPI build on, rather than a hand-written log of timestamps.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from functools import cache

from limits import RateLimitItem, RateLimitItemPerSecond
from limits.storage import MemoryStorage
from limits.strategies import MovingWindowRateLimiter

log = logging.getLogger(__name__)

# Calls per window (seconds) for each tier of Slack's rate-limit documentation. The windows
# are a second longer than Slack's minute: our clock starts counting when a call leaves,
# Slack's when it arrives, and a window that ends early costs a 429 and a pause.
TIER_WINDOWS: dict[str, tuple[int, int]] = {
    "t1": (1, 61),
    "t2": (20, 61),
    "t3": (50, 61),
    "t4": (100, 61),
    "t5": (600, 61),
}
# chat.postMessage: about one a second per channel with a short burst. Slack counts a call
# when it arrives and we when it leaves: 3 in any 4 seconds leaves room for uneven latency.
POST_PER_CHANNEL = (3, 4)
PER_CHANNEL_METHODS = frozenset({"chat.postMessage"})


@cache
def _reference_tiers() -> dict[str, str]:
    """Method name -> rate tier, from the vendored method reference (read once)."""
    try:
        from epbot.fakeslack.reference import Reference

        ref = Reference.load()
    except (FileNotFoundError, OSError, ValueError) as exc:  # pragma: no cover - packaging
        log.warning("Slack method reference unavailable (%s); assuming tier 3", exc)
        return {}
    return {name: ref.get(name).rate_tier for name in ref.names if ref.get(name) is not None}  # type: ignore[union-attr]


def tier_of(method: str) -> str:
    """The rate tier of a Web API method (tier 3, Slack's most common, when unknown)."""
    return _reference_tiers().get(method, "t3")


class Deferred(Exception):
    """The call cannot go for a while (a long pause or a full window): try again at
    ``until`` (monotonic seconds) instead of holding a worker."""

    def __init__(self, method: str, wait: float) -> None:
        super().__init__(f"{method}: paced for {wait:.1f}s")
        self.method = method
        self.wait = wait


class Pacer:
    """Per-method (and per-channel for posting) moving windows plus 429 pauses."""

    def __init__(
        self,
        *,
        enabled: bool = True,
        tiers: Callable[[str], str] = tier_of,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.enabled = enabled
        self._tiers = tiers
        self._clock = clock
        self._limiter = MovingWindowRateLimiter(MemoryStorage())
        self._items: dict[str, RateLimitItem] = {}
        self._paused: dict[str, float] = {}  # key -> wall time the pause ends
        self.waited = 0.0  # seconds spent waiting for a window or a pause (metrics, tests)

    @staticmethod
    def key(method: str, channel: str | None) -> str:
        if method in PER_CHANNEL_METHODS and channel:
            return f"{method}:{channel}"
        return method

    def _item(self, method: str) -> RateLimitItem:
        item = self._items.get(method)
        if item is None:
            if method in PER_CHANNEL_METHODS:
                amount, seconds = POST_PER_CHANNEL
            else:
                amount, seconds = TIER_WINDOWS.get(self._tiers(method), TIER_WINDOWS["t3"])
            item = RateLimitItemPerSecond(amount, seconds)
            self._items[method] = item
        return item

    def pause(self, method: str, channel: str | None, seconds: float) -> None:
        """Slack said 429: nothing more for this method (or channel) for ``seconds``."""
        key = self.key(method, channel)
        until = self._clock() + max(seconds, 0.0)
        self._paused[key] = max(self._paused.get(key, 0.0), until)
        log.info("Slack rate limit on %s: paused %.1fs", key, seconds)

    def wait_needed(self, method: str, channel: str | None) -> float:
        """Seconds until a call may go (0: now), without taking a slot."""
        if not self.enabled:
            return 0.0
        key = self.key(method, channel)
        now = self._clock()
        paused = self._paused.get(key, 0.0) - now
        item = self._item(method)
        ident = (method, channel or "-") if method in PER_CHANNEL_METHODS else (method,)
        if self._limiter.test(item, *ident):
            return max(paused, 0.0)
        stats = self._limiter.get_window_stats(item, *ident)
        return max(paused, stats.reset_time - now, 0.01)

    async def acquire(self, method: str, channel: str | None, *, longest: float) -> None:
        """Wait for a slot; raise :class:`Deferred` rather than wait more than ``longest``."""
        if not self.enabled:
            return
        item = self._item(method)
        ident = (method, channel or "-") if method in PER_CHANNEL_METHODS else (method,)
        while True:
            wait = self.wait_needed(method, channel)
            if wait <= 0 and self._limiter.hit(item, *ident):
                return
            wait = max(wait, 0.01)
            if wait > longest:
                raise Deferred(method, wait)
            self.waited += wait
            await asyncio.sleep(wait)
