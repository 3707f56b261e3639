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
from epbot.adapters.slack.interactions import read_assignee, read_reason, required
from epbot.adapters.slack.render import ASSIGNEE_FIELD
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


async def _receipt(deps: Deps, key: str, incident: int, target: str, actor: str) -> object:
    return await deps.service.confirm_receipt(
        key=key, incident_id=incident, target=target, actor=actor
    )


USE_CASES: dict[Action, UseCase] = {
    Action.BROADCAST_RECEIPT: _receipt,
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
    Action.STEP_SKIP: Callback.SKIP_REASON,
    Action.APPROVAL_ASK_AGAIN: Callback.ASK_AGAIN_REASON,
}

# A submitted modal -> one use case: (deps, key, incident, target, actor, answer).
Submitted = Callable[[Deps, str, int, str, str, str], Awaitable[object]]


async def _reject(
    deps: Deps, key: str, incident: int, target: str, actor: str, reason: str
) -> object:
    return await deps.service.decide_approval(
        key=key, incident_id=incident, approval=target, actor=actor, approve=False, reason=reason
    )


async def _escalate(
    deps: Deps, key: str, incident: int, _target: str, actor: str, reason: str
) -> object:
    return await deps.service.request_escalation(
        key=key, incident_id=incident, actor=actor, reason=reason
    )


async def _skip(
    deps: Deps, key: str, incident: int, target: str, actor: str, reason: str
) -> object:
    return await deps.service.skip_step(
        key=key, incident_id=incident, step=target, actor=actor, reason=reason
    )


async def _reassign(
    deps: Deps, key: str, incident: int, target: str, actor: str, assignee: str
) -> object:
    return await deps.service.reassign_step(
        key=key, incident_id=incident, step=target, actor=actor, assignee=assignee
    )


async def _ask_again(
    deps: Deps, key: str, incident: int, target: str, actor: str, reason: str
) -> object:
    return await deps.service.ask_again(
        key=key, incident_id=incident, step=target, actor=actor, reason=reason
    )


SUBMISSIONS: dict[Callback, Submitted] = {
    Callback.REJECT_REASON: _reject,
    Callback.ESCALATION_REASON: _escalate,
    Callback.SKIP_REASON: _skip,
    Callback.ASK_AGAIN_REASON: _ask_again,
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
    for callback, submitted in SUBMISSIONS.items():
        app.view(callback.value)(_reason_submitted(deps, submitted))
    app.action(Action.STEP_REASSIGN.value)(_ask_assignee(deps))
    app.view(Callback.REASSIGN.value)(_assignee_submitted(deps))


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


def _modal_meta(body: dict[str, Any]) -> dict[str, Any]:
    """What a modal opened by a button must remember: the target and where it was clicked."""
    user, action_id, value, ts = _clicked(body)
    incident, target = parse_value(value)
    return {
        "incident": incident,
        "target": target,
        "channel": (body.get("channel") or {}).get("id"),
        "key": f"action:{action_id}:{value}:{user}:{ts}",
    }


def _ask_reason(deps: Deps, callback: Callback) -> Callable[..., Awaitable[None]]:
    async def clicked(ack: Any, body: dict[str, Any]) -> None:
        await ack()
        await deps.ui.open_reason(
            trigger_id=body["trigger_id"],
            user_id=body["user"]["id"],
            callback_id=callback.value,
            meta=_modal_meta(body),
        )

    return clicked


def _ask_assignee(deps: Deps) -> Callable[..., Awaitable[None]]:
    async def clicked(ack: Any, body: dict[str, Any]) -> None:
        await ack()
        await deps.ui.open_reassign(
            trigger_id=body["trigger_id"], user_id=body["user"]["id"], meta=_modal_meta(body)
        )

    return clicked


async def _submit(
    deps: Deps, body: dict[str, Any], view: dict[str, Any], use_case: Submitted, answer: str
) -> None:
    """Run the modal's use case; a refusal is told to the user where they clicked."""
    user = body["user"]["id"]
    meta = json.loads(view.get("private_metadata") or "{}")
    actor, key = await deps.ui.actor(user), f"view:{view['id']}"
    try:
        await use_case(
            deps, key, int(meta["incident"]), str(meta.get("target") or ""), actor, answer
        )
    except DomainError as exc:
        text = exc.message(await deps.ui.locale(user))
        await deps.ui.tell(user_id=user, channel=meta.get("channel"), text=text)
        return
    deps.ui.after_change()


def _reason_submitted(deps: Deps, use_case: Submitted) -> Callable[..., Awaitable[None]]:
    async def submitted(ack: Any, body: dict[str, Any], view: dict[str, Any]) -> None:
        await ack()
        await _submit(deps, body, view, use_case, read_reason(view))

    return submitted


def _assignee_submitted(deps: Deps) -> Callable[..., Awaitable[None]]:
    async def submitted(ack: Any, body: dict[str, Any], view: dict[str, Any]) -> None:
        picked = read_assignee(view)
        if picked is None:
            locale = deps.ui.cached_locale(body["user"]["id"])  # before ack(): no Web API call
            await ack(response_action="errors", errors={ASSIGNEE_FIELD: required(locale)})
            return
        await ack()
        await _submit(deps, body, view, _reassign, await deps.ui.actor(picked))

    return submitted
