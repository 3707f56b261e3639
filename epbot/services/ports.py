"""What the services need from the outside world, as protocols."""

from __future__ import annotations

from datetime import datetime
from typing import Protocol

from epbot.domain.matrix import Matrix
from epbot.domain.playbook import Playbook


class Clock(Protocol):
    def now(self) -> datetime:
        """The current time, timezone-aware UTC."""
        ...


class PlaybookSet(Protocol):
    @property
    def matrix(self) -> Matrix: ...

    def get(self, name: str) -> Playbook | None: ...


class PlaybookSource(Protocol):
    """The latest valid playbooks and matrix (re-read when files change)."""

    @property
    def current(self) -> PlaybookSet: ...


class Timers(Protocol):
    """The alarm clock: wake the service at ``when`` (None: nothing is due)."""

    def wake_at(self, when: datetime | None) -> None: ...


class NoTimers:
    """Timers for callers that tick by hand (tests, CLI)."""

    def wake_at(self, when: datetime | None) -> None:
        self.last = when
