"""Pacing of Web API calls: stay inside Slack's rate tiers before Slack has to say 429.

One :class:`Pacer` per process, shared by every delivery worker. Each method is limited
by its rate tier (Slack's reference data, vendored with the fake Web API), with a moving
window like Slack's own accounting; ``chat.postMessage`` is limited per channel instead
("about one message a second per channel, short bursts allowed"). A 429's ``Retry-After``
pauses only what it names: that method, or that channel for posting.

The window is a small log of send times per key (:class:`MovingWindow`), not a library's:
a call that Slack did not count (answered 429 or 5xx, or never answered) gives its slot
back, and the rate-limit libraries at hand (``limits``, ``aiolimiter``) have no way to
return a slot. Without it, a channel whose calls fail 30% of the time loses 30% of its
capacity exactly when it is needed most.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache

log = logging.getLogger(__name__)

# Calls per window (seconds) for each tier of Slack's rate-limit documentation. The windows
# are a second longer than Slack's minute: our clock starts counting when a call leaves,
# Slack's when it arrives, and a window that ends early costs a 429 and a pause.
TIER_WINDOWS: dict[str, tuple[int, float]] = {
    "t1": (1, 61),
    "t2": (20, 61),
    "t3": (50, 61),
    "t4": (100, 61),
    "t5": (600, 61),
}
# chat.postMessage: about one a second per channel with a short burst. Slack counts a call
# when it arrives and we when it leaves: 3 in any 3.3 seconds leaves 0.3 s for uneven
# latency (3 in 4 s left a whole second, a quarter of the channel's pace, unused when a
# busy channel most needs it; a rare 429 from jitter costs one Retry-After and is paced).
POST_PER_CHANNEL = (3, 3.3)
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
    """The call cannot go for a while (a long pause or a full window): try again in
    ``wait`` seconds instead of holding a worker."""

    def __init__(self, method: str, wait: float) -> None:
        super().__init__(f"{method}: paced for {wait:.1f}s")
        self.method = method
        self.wait = wait


@dataclass(frozen=True)
class Slot:
    """A taken place in a window; give it back with :meth:`Pacer.refund`."""

    key: str
    at: float


class MovingWindow:
    """At most ``amount`` calls in any ``window`` seconds, per key."""

    def __init__(self) -> None:
        self._sent: dict[str, deque[float]] = {}

    def wait(self, key: str, amount: int, window: float, now: float) -> float:
        """Seconds until a call under ``key`` fits (0: now)."""
        sent = self._sent.get(key)
        if sent is None:
            return 0.0
        while sent and sent[0] <= now - window:
            sent.popleft()
        if len(sent) < amount:
            return 0.0
        return sent[-amount] + window - now

    def take(self, key: str, now: float) -> None:
        self._sent.setdefault(key, deque()).append(now)

    def give_back(self, key: str, at: float) -> None:
        sent = self._sent.get(key)
        if sent is not None:
            with contextlib.suppress(ValueError):  # already out of the window
                sent.remove(at)


class Pacer:
    """Per-method (and per-channel for posting) moving windows plus 429 pauses."""

    def __init__(
        self,
        *,
        enabled: bool = True,
        tiers: Callable[[str], str] = tier_of,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.enabled = enabled
        self._tiers = tiers
        self._clock = clock
        self._windows = MovingWindow()
        self._paused: dict[str, float] = {}  # key -> clock time the pause ends
        self.waited = 0.0  # seconds spent waiting for a window or a pause (metrics, tests)

    @staticmethod
    def key(method: str, channel: str | None) -> str:
        if method in PER_CHANNEL_METHODS and channel:
            return f"{method}:{channel}"
        return method

    def _limit(self, method: str) -> tuple[int, float]:
        if method in PER_CHANNEL_METHODS:
            return POST_PER_CHANNEL
        return TIER_WINDOWS.get(self._tiers(method), TIER_WINDOWS["t3"])

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
        amount, window = self._limit(method)
        paused = self._paused.get(key, 0.0) - now
        return max(paused, self._windows.wait(key, amount, window, now), 0.0)

    async def acquire(self, method: str, channel: str | None, *, longest: float) -> Slot | None:
        """Wait for a slot and take it; raise :class:`Deferred` rather than wait more than
        ``longest``. The slot is given back with :meth:`refund` if Slack did not count the
        call."""
        if not self.enabled:
            return None
        key = self.key(method, channel)
        while True:
            wait = self.wait_needed(method, channel)
            if wait <= 0:
                now = self._clock()
                self._windows.take(key, now)
                return Slot(key, now)
            if wait > longest:
                raise Deferred(method, wait)
            self.waited += wait
            await asyncio.sleep(wait)

    def refund(self, slot: Slot | None) -> None:
        """Slack did not count the call (429, 5xx, no answer): its slot is free again."""
        if slot is not None:
            self._windows.give_back(slot.key, slot.at)
