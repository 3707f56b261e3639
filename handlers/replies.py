"""The one error route: whatever a listener (or a middleware) raises ends here.

A refusal (a domain error, an unknown playbook, a warning that is gone, a button epbot does
not know) becomes the person's ephemeral reply in their language, rendered from the
templates (:mod:`epbot.adapters.slack.refusals`). Anything else is a fault: it is logged
with its traceback (secrets are redacted by the log filter) and the person is told that
the action may not have gone through. The request is always acknowledged first.

Bolt calls it for middleware errors (``app.error``); listeners reach it through the guard
(:mod:`handlers.guard`), because Bolt 1.30 resets an ack already given when a listener
raises after it, and Slack would then see a 404.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any

from slack_bolt.context.async_context import AsyncBoltContext
from slack_bolt.request.async_request import AsyncBoltRequest
from slack_bolt.response import BoltResponse

from epbot.adapters.slack import render
from epbot.adapters.slack.interactions import Interactions
from epbot.adapters.slack.refusals import explain
from handlers.context import Person, Target

log = logging.getLogger("handlers")

ErrorRoute = Callable[[Exception, AsyncBoltRequest, BoltResponse | None], Awaitable[Any]]

# Requests a person is waiting on; an event (the Home tab opening) gets no reply.
_INTERACTIVE = frozenset({"block_actions", "view_submission"})


async def reply(ui: Interactions, context: AsyncBoltContext, text: str) -> None:
    """Answer the person privately: through the request's ``response_url`` when Slack gave
    one, else as an ephemeral in the channel they acted in (a DM when that fails)."""
    respond = context.respond if context.response_url else None
    if respond is not None:
        await respond(text=text, response_type="ephemeral", replace_original=False)
        return
    person: Person | None = context.get("person")
    target: Target | None = context.get("target")
    if person is not None:
        await ui.tell(user_id=person.user_id, channel=target.channel if target else None, text=text)


def error_route(ui: Interactions) -> ErrorRoute:
    """The handler for ``app.error`` and the guard: a refusal or a fault -> the reply."""

    async def on_error(
        error: Exception, request: AsyncBoltRequest, response: BoltResponse | None
    ) -> BoltResponse | None:
        context = request.context
        person: Person | None = context.get("person")
        if context.ack.response is None:  # raised before ack(): still answer Slack at once
            await context.ack()
        if person is not None:
            await person.resolve()
        locale = person.locale if person is not None else ui.client.default_locale
        text = explain(error, locale)
        if text is None:
            log.error("listener failed: %r", error, exc_info=error)
            text = render.label(locale, "error.internal")
        else:
            log.info("refused: %s", error)
        if context.response_url or request.body.get("type") in _INTERACTIVE:
            try:
                await reply(ui, context, text)
            except Exception:  # Slack unreachable: the log above has the error
                log.warning("could not tell the user why their request failed", exc_info=True)
        # Bolt answers 500 when a middleware raised; the person has their answer instead.
        return BoltResponse(status=200, body="") if response is not None else None

    return on_error
