"""What ``decide`` returns: the events that go on the timeline and to the notifier."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any


@dataclass
class Event:
    """Something that happened: it goes on the timeline and to the notifier."""

    kind: str
    actor: str
    at: datetime
    data: dict[str, Any] = field(default_factory=dict)
