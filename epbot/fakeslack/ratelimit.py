"""Sliding-window rate limits by Slack tier, on an injectable clock."""

from __future__ import annotations

import math
import time
from collections import deque
from collections.abc import Callable

Clock = Callable[[], float]

# (calls, window seconds) per tier, from Slack's rate-limit documentation. "t5" is what the
# reference calls the "special" tier; chat.postMessage's special rule is per channel below.
TIER_LIMITS: dict[str, tuple[tuple[int, float], ...]] = {
    "t1": ((1, 60.0),),
    "t2": ((20, 60.0),),
    "t3": ((50, 60.0),),
    "t4": ((100, 60.0),),
    "t5": ((600, 60.0),),
}
# chat.postMessage: about one message a second per channel, with a small burst allowance:
# up to POST_MESSAGE_BURST messages in any POST_MESSAGE_BURST seconds.
POST_MESSAGE_BURST = 3
POST_MESSAGE_LIMITS: tuple[tuple[int, float], ...] = (
    (POST_MESSAGE_BURST, float(POST_MESSAGE_BURST)),
)


class ManualClock:
    """A monotonic clock that only moves when told to (for tests that must not sleep)."""

    def __init__(self, start: float = 1000.0) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        """Move time forward."""
        self.now += seconds


class RateLimiter:
    """Counts calls per key in sliding windows; ``scale`` multiplies every allowance."""

    def __init__(
        self, *, clock: Clock = time.monotonic, enabled: bool = True, scale: float = 1.0
    ) -> None:
        if scale <= 0:
            raise ValueError("scale must be positive")
        self.clock = clock
        self.enabled = enabled
        self.scale = scale
        self._calls: dict[str, deque[float]] = {}

    def limits_for(self, method: str, tier: str) -> tuple[tuple[int, float], ...]:
        """The windows that apply to a method."""
        if method == "chat.postMessage":
            return POST_MESSAGE_LIMITS
        return TIER_LIMITS.get(tier, TIER_LIMITS["t3"])

    def hit(self, method: str, tier: str, *, channel: str | None = None) -> int | None:
        """Count one call; None if allowed, else the seconds to wait (``Retry-After``)."""
        if not self.enabled:
            return None
        key = f"{method}:{channel}" if method == "chat.postMessage" else method
        limits = self.limits_for(method, tier)
        longest = max(window for _, window in limits)
        now = self.clock()
        calls = self._calls.setdefault(key, deque())
        while calls and calls[0] <= now - longest:
            calls.popleft()
        wait = 0.0
        for count, window in limits:
            allowed = max(1, math.ceil(count * self.scale))
            recent = [t for t in calls if t > now - window]
            if len(recent) >= allowed:
                # The call that frees a slot is the oldest one still counted.
                wait = max(wait, recent[-allowed] + window - now)
        if wait > 0:
            return max(1, math.ceil(wait))
        calls.append(now)
        return None

    def reset(self) -> None:
        """Forget every counted call."""
        self._calls.clear()
