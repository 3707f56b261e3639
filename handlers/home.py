"""The App Home tab: your steps, your approvals, open incidents."""

from __future__ import annotations

from typing import Any

from handlers.context import Person
from handlers.deps import Deps


def register(app: Any, deps: Deps) -> None:
    async def home_opened(event: dict[str, Any], person: Person) -> None:
        if event.get("tab", "home") == "home":
            await deps.ui.publish_home(person.user_id, actor=person.actor, locale=person.locale)

    app.event("app_home_opened")(home_opened)
