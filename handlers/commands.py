"""``/incident``: open the report form, list, help, and in-channel status/update/resolve.

The in-channel words are a table (:data:`IN_CHANNEL`): each is one service call (or a read)
on the incident whose channel the command was typed in. A refusal goes to the error route.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from epbot.adapters.slack import render, report_render
from epbot.domain.playbook import Severity
from handlers.context import Person, Target
from handlers.deps import Deps
from handlers.reports import share_after_action


@dataclass(frozen=True)
class Typed:
    """An in-channel command: who typed it, on which incident, and the words after it."""

    person: Person
    incident: int
    key: str
    rest: str
    channel: str
    respond: Any  # Bolt's respond, for a word that answers more than once


Answer = dict[str, Any] | None  # keyword arguments for ``respond``, or nothing to say
InChannel = Callable[[Deps, Typed], Awaitable[Answer]]


async def _status(deps: Deps, typed: Typed) -> Answer:
    return {"text": await deps.ui.incident_summary(typed.incident, typed.person.locale)}


async def _update(deps: Deps, typed: Typed) -> Answer:
    await deps.service.post_update(
        key=typed.key, incident_id=typed.incident, actor=typed.person.actor, text=typed.rest
    )
    ctx = deps.ui.ctx(typed.person.locale)
    text, blocks = report_render.progress_offer(ctx, typed.incident)
    return {"text": text, "blocks": blocks, "response_type": "ephemeral"}


async def _severity(deps: Deps, typed: Typed) -> Answer:
    level, _, reason = typed.rest.partition(" ")
    if level.upper() not in Severity.__members__:
        return {"text": render.label(typed.person.locale, "usage.severity")}
    await deps.service.change_severity(
        key=typed.key,
        incident_id=typed.incident,
        actor=typed.person.actor,
        severity=Severity(level.upper()),
        reason=reason.strip(),
    )
    return None


async def _cancel(deps: Deps, typed: Typed) -> Answer:
    await deps.service.cancel(
        key=typed.key, incident_id=typed.incident, actor=typed.person.actor, reason=typed.rest
    )
    return None


async def _close(deps: Deps, typed: Typed) -> Answer:
    await deps.service.close(key=typed.key, incident_id=typed.incident, actor=typed.person.actor)
    return None


async def _resolve(deps: Deps, typed: Typed) -> Answer:
    await deps.service.resolve(
        key=typed.key,
        incident_id=typed.incident,
        actor=typed.person.actor,
        summary=typed.rest or None,
    )
    return None


async def _report(deps: Deps, typed: Typed) -> Answer:
    # The after-action report as a PDF in the channel (issue 17): "coming", then the upload.
    await share_after_action(
        deps, typed.respond, channel=typed.channel, locale=typed.person.locale
    )
    return None


IN_CHANNEL: dict[str, InChannel] = {
    "report": _report,
    "status": _status,
    "update": _update,
    "severity": _severity,
    "cancel": _cancel,
    "close": _close,
    "resolve": _resolve,
}


def register(app: Any, deps: Deps) -> None:
    async def incident(
        ack: Any, person: Person, target: Target, command: dict[str, Any], respond: Any
    ) -> None:
        word, _, rest = str(command.get("text") or "").strip().partition(" ")
        word, rest = word.lower(), rest.strip()
        if word in ("help", "帮助"):  # answered with the ack: the cached locale
            await ack(text=render.help_text(deps.ui.playbooks(), deps.ui.ctx(person.locale)))
            return
        await ack()
        ctx = deps.ui.ctx(person.locale)
        if word in ("", "drill") or deps.ui.find_playbook(word) is not None:
            name = rest if word == "drill" else word
            await deps.ui.open_report(
                trigger_id=command["trigger_id"],
                locale=person.locale,
                playbook=deps.ui.find_playbook(name) if name else None,
                drill=word == "drill",
                channel=command["channel_id"],
            )
        elif word == "list":
            await respond(text=render.incident_list(await deps.ui.open_incidents(), ctx))
        elif word in IN_CHANNEL:
            await _in_channel(deps, respond, IN_CHANNEL[word], word, rest, person, target)
        else:
            await respond(text=render.unknown_type_text(word, deps.ui.playbooks(), ctx))

    app.command("/incident")(incident)


async def _in_channel(
    deps: Deps,
    respond: Any,
    run: InChannel,
    word: str,
    rest: str,
    person: Person,
    target: Target,
) -> None:
    incident_id = await deps.ui.incident_in_channel(target.channel or "")
    if incident_id is None:
        # Typed outside an incident channel: say where it works and which incidents (with
        # their channels) are open.
        where = render.label(person.locale, "usage.in_channel").replace("{word}", word)
        listing = render.incident_list(await deps.ui.open_incidents(), deps.ui.ctx(person.locale))
        await respond(text=f"{where}\n{listing}")
        return
    typed = Typed(person, incident_id, target.key, rest, target.channel or "", respond)
    answer = await run(deps, typed)
    if answer is not None:
        await respond(**answer)
