"""``/incident``: open the report form, list, help, and in-channel status/update/resolve."""

from __future__ import annotations

from typing import Any

from epbot.adapters.slack import render, report_render
from epbot.domain.errors import DomainError
from epbot.domain.playbook import Severity
from handlers.deps import Deps
from handlers.reports import share_after_action

_IN_CHANNEL = ("status", "update", "resolve", "severity", "cancel", "close", "report")


def register(app: Any, deps: Deps) -> None:
    async def incident(ack: Any, command: dict[str, Any], respond: Any) -> None:
        word, _, rest = str(command.get("text") or "").strip().partition(" ")
        word, rest = word.lower(), rest.strip()
        user = command["user_id"]
        if word in ("help", "帮助"):
            ctx = deps.ui.ctx(deps.ui.cached_locale(user))  # before ack(): no Web API call
            await ack(text=render.help_text(deps.ui.playbooks(), ctx))
            return
        await ack()
        if word in ("", "drill") or deps.ui.find_playbook(word) is not None:
            await _open_report(deps, command, word, rest)
        elif word == "list":
            ctx = deps.ui.ctx(await deps.ui.locale(user))
            await respond(text=render.incident_list(await deps.ui.open_incidents(), ctx))
        elif word in _IN_CHANNEL:
            await _in_channel(deps, respond, word, rest, command=command)
        else:
            ctx = deps.ui.ctx(await deps.ui.locale(user))
            await respond(text=render.unknown_type_text(word, deps.ui.playbooks(), ctx))

    app.command("/incident")(incident)


async def _open_report(deps: Deps, command: dict[str, Any], word: str, rest: str) -> None:
    drill = word == "drill"
    name = rest if drill else word
    playbook = deps.ui.find_playbook(name) if name else None
    await deps.ui.open_report(
        trigger_id=command["trigger_id"],
        user_id=command["user_id"],
        playbook=playbook,
        drill=drill,
        channel=command["channel_id"],
    )


async def _in_channel(
    deps: Deps, respond: Any, word: str, rest: str, *, command: dict[str, Any]
) -> None:
    user, channel = command["user_id"], command["channel_id"]
    locale = await deps.ui.locale(user)
    incident_id = await deps.ui.incident_in_channel(channel)
    if incident_id is None:
        # Not an incident type: an in-channel command typed elsewhere. Say where it works
        # and which incidents (with their channels) are open.
        ctx = deps.ui.ctx(locale)
        where = render.label(locale, "usage.in_channel").replace("{word}", word)
        listing = render.incident_list(await deps.ui.open_incidents(), ctx)
        await respond(text=f"{where}\n{listing}")
        return
    if word == "status":
        await respond(text=await deps.ui.incident_summary(incident_id, locale))
        return
    if word == "report":  # the after-action report as a PDF in the channel (issue 17)
        await share_after_action(deps, respond, channel=channel, locale=locale)
        return
    actor = await deps.ui.actor(user)
    key = f"command:{command['trigger_id']}"
    try:
        if word == "update":
            await deps.service.post_update(key=key, incident_id=incident_id, actor=actor, text=rest)
            text, blocks = report_render.progress_offer(deps.ui.ctx(locale), incident_id)
            await respond(text=text, blocks=blocks, response_type="ephemeral")
        elif word == "severity":
            level, _, reason = rest.partition(" ")
            if level.upper() not in Severity.__members__:
                await respond(text=render.label(locale, "usage.severity"))
                return
            await deps.service.change_severity(
                key=key,
                incident_id=incident_id,
                actor=actor,
                severity=Severity(level.upper()),
                reason=reason.strip(),
            )
        elif word == "cancel":
            await deps.service.cancel(key=key, incident_id=incident_id, actor=actor, reason=rest)
        elif word == "close":
            await deps.service.close(key=key, incident_id=incident_id, actor=actor)
        else:
            await deps.service.resolve(
                key=key, incident_id=incident_id, actor=actor, summary=rest or None
            )
    except DomainError as exc:
        await respond(text=exc.message(locale))
        return
    deps.ui.after_change()
