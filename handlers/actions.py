"""Buttons on cards, checklists, pages and approvals -> one engine use case each.

A button's value is ``<incident id>:<target>`` (``epbot.adapters.slack.ids``). The
idempotency key is the action, value, user and message: a double click, or Slack
delivering the same click twice, changes nothing the second time.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from typing import Any

from epbot.adapters.slack.ids import Action, Callback, parse_value
from epbot.domain.errors import DomainError
from handlers.deps import Deps

UseCase = Callable[[Deps, str, int, str, str], Awaitable[object]]


async def _ack_page(deps: Deps, key: str, incident: int, target: str, actor: str) -> object:
    return await deps.service.acknowledge_page(
        key=key, incident_id=incident, page=target, actor=actor
    )


async def _done(deps: Deps, key: str, incident: int, target: str, actor: str) -> object:
    return await deps.service.complete_step(key=key, incident_id=incident, step=target, actor=actor)


async def _checkin(deps: Deps, key: str, incident: int, target: str, actor: str) -> object:
    return await deps.service.check_in(key=key, incident_id=incident, step=target, actor=actor)


async def _approve(deps: Deps, key: str, incident: int, target: str, actor: str) -> object:
    return await deps.service.decide_approval(
        key=key, incident_id=incident, approval=target, actor=actor, approve=True
    )


async def _resolve(deps: Deps, key: str, incident: int, _target: str, actor: str) -> object:
    return await deps.service.resolve(key=key, incident_id=incident, actor=actor)


USE_CASES: dict[Action, UseCase] = {
    Action.INCIDENT_ACK: _ack_page,
    Action.STEP_DONE: _done,
    Action.STEP_CHECKIN: _checkin,
    Action.APPROVAL_APPROVE: _approve,
    Action.INCIDENT_RESOLVE: _resolve,
}

# Buttons that first ask for a reason, and the callback id of the reason modal they open.
REASONS: dict[Action, Callback] = {
    Action.APPROVAL_REJECT: Callback.REJECT_REASON,
    Action.ESCALATION_REQUEST: Callback.ESCALATION_REASON,
}


def _clicked(body: dict[str, Any]) -> tuple[str, str, str, str | None]:
    """(user, action id, value, message ts) of a block_actions payload."""
    action = body["actions"][0]
    container = body.get("container") or {}
    ts = container.get("message_ts") or (body.get("message") or {}).get("ts")
    return body["user"]["id"], action["action_id"], str(action.get("value") or ""), ts


async def _refuse(deps: Deps, body: dict[str, Any], respond: Any, text: str) -> None:
    if body.get("response_url"):
        await respond(text=text, response_type="ephemeral", replace_original=False)
        return
    channel = (body.get("channel") or {}).get("id")
    await deps.ui.tell(user_id=body["user"]["id"], channel=channel, text=text)


def register(app: Any, deps: Deps) -> None:
    for action, use_case in USE_CASES.items():
        app.action(action.value)(_button(deps, use_case))
    for action, callback in REASONS.items():
        app.action(action.value)(_ask_reason(deps, callback))
    app.view(Callback.REJECT_REASON.value)(_reason_submitted(deps, reject=True))
    app.view(Callback.ESCALATION_REASON.value)(_reason_submitted(deps, reject=False))


def _button(deps: Deps, use_case: UseCase) -> Callable[..., Awaitable[None]]:
    async def clicked(ack: Any, body: dict[str, Any], respond: Any) -> None:
        await ack()
        user, action_id, value, ts = _clicked(body)
        incident, target = parse_value(value)
        key = f"action:{action_id}:{value}:{user}:{ts}"
        try:
            await use_case(deps, key, incident, target, await deps.ui.actor(user))
        except DomainError as exc:
            await _refuse(deps, body, respond, exc.message(await deps.ui.locale(user)))
            return
        deps.ui.after_change()

    return clicked


def _ask_reason(deps: Deps, callback: Callback) -> Callable[..., Awaitable[None]]:
    async def clicked(ack: Any, body: dict[str, Any]) -> None:
        await ack()
        user, action_id, value, ts = _clicked(body)
        incident, target = parse_value(value)
        meta = {
            "incident": incident,
            "target": target,
            "channel": (body.get("channel") or {}).get("id"),
            "key": f"action:{action_id}:{value}:{user}:{ts}",
        }
        await deps.ui.open_reason(
            trigger_id=body["trigger_id"], user_id=user, callback_id=callback.value, meta=meta
        )

    return clicked


def _reason_submitted(deps: Deps, *, reject: bool) -> Callable[..., Awaitable[None]]:
    async def submitted(ack: Any, body: dict[str, Any], view: dict[str, Any]) -> None:
        await ack()
        user = body["user"]["id"]
        meta = json.loads(view.get("private_metadata") or "{}")
        values = (view.get("state") or {}).get("values") or {}
        reason = str(((values.get("reason") or {}).get("reason") or {}).get("value") or "")
        actor, key, incident = await deps.ui.actor(user), f"view:{view['id']}", meta["incident"]
        try:
            if reject:
                await deps.service.decide_approval(
                    key=key,
                    incident_id=incident,
                    approval=meta["target"],
                    actor=actor,
                    approve=False,
                    reason=reason,
                )
            else:
                await deps.service.request_escalation(
                    key=key, incident_id=incident, actor=actor, reason=reason
                )
        except DomainError as exc:
            text = exc.message(await deps.ui.locale(user))
            await deps.ui.tell(user_id=user, channel=meta.get("channel"), text=text)
            return
        deps.ui.after_change()

    return submitted
