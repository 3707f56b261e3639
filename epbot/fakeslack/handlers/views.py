"""views.open / update / push / publish."""

from __future__ import annotations

from typing import Any

from epbot.fakeslack.args import SlackError, get_str, invalid_arguments
from epbot.fakeslack.blocks import view_problems
from epbot.fakeslack.handlers.common import Ctx, Handler, Json, ok
from epbot.fakeslack.shapes import view_json
from epbot.fakeslack.workspace import View

MAX_STACK = 3  # a modal stack holds at most three views
_MODAL_TYPES = frozenset({"modal", "workflow_step"})


def _payload(ctx: Ctx, types: frozenset[str]) -> dict[str, Any]:
    view = ctx.args.get("view")
    problems = view_problems(view, expected_types=types)
    if problems:
        raise invalid_arguments(*problems)
    assert isinstance(view, dict)  # view_problems rejects anything else
    return view


def _exchange_trigger(ctx: Ctx) -> str:
    """The user the trigger belongs to; each issued trigger works once."""
    ws = ctx.ws
    trigger = get_str(ctx.args, "trigger_id") or get_str(ctx.args, "interactivity_pointer")
    if not trigger:
        raise invalid_arguments("[ERROR] missing required field: trigger_id")
    if trigger in ws.used_triggers:
        raise SlackError("exchanged_trigger_id")
    if trigger not in ws.triggers and ws.strict_triggers:
        raise SlackError("invalid_trigger_id")
    ws.used_triggers.add(trigger)
    return ws.triggers.get(trigger, "")


def _check_external_id(ctx: Ctx, payload: dict[str, Any], own_id: str | None = None) -> str:
    external_id = str(payload.get("external_id") or "")
    if external_id and any(
        v.external_id == external_id and v.id != own_id and not v.closed
        for v in ctx.ws.views.values()
    ):
        raise SlackError("duplicate_external_id")
    return external_id


def _new_hash(ctx: Ctx) -> str:
    return f"{ctx.ws.now()}.{ctx.ws.new_id('h').lower()}"


def _create(ctx: Ctx, payload: dict[str, Any], user_id: str, root: View | None) -> View:
    ws = ctx.ws
    view_id = ws.new_id("V")
    view = View(
        id=view_id,
        type=str(payload["type"]),
        user_id=user_id,
        payload=payload,
        hash=_new_hash(ctx),
        root_view_id=root.root_view_id if root is not None else view_id,
        previous_view_id=root.id if root is not None else None,
        external_id=_check_external_id(ctx, payload),
    )
    ws.views[view.id] = view
    return view


def open_(ctx: Ctx) -> Json:
    """views.open: a new modal for the trigger's user."""
    payload = _payload(ctx, _MODAL_TYPES)
    view = _create(ctx, payload, _exchange_trigger(ctx), None)
    ctx.ws.emit(
        "view_opened",
        view_id=view.id,
        user=view.user_id,
        callback_id=payload.get("callback_id", ""),
    )
    return ok(view=view_json(ctx.ws, view))


def push(ctx: Ctx) -> Json:
    """views.push: on top of the user's open modal stack (at most three views)."""
    payload = _payload(ctx, _MODAL_TYPES)
    user_id = _exchange_trigger(ctx)
    open_views = [
        v
        for v in ctx.ws.views.values()
        if v.user_id == user_id and v.type != "home" and not v.closed
    ]
    top = open_views[-1] if open_views else None
    if top is not None and sum(v.root_view_id == top.root_view_id for v in open_views) >= MAX_STACK:
        raise SlackError("push_limit_reached")
    view = _create(ctx, payload, user_id, top)
    ctx.ws.emit(
        "view_pushed", view_id=view.id, user=user_id, callback_id=payload.get("callback_id", "")
    )
    return ok(view=view_json(ctx.ws, view))


def _replace(ctx: Ctx, view: View, payload: dict[str, Any]) -> View:
    expected = get_str(ctx.args, "hash")
    if expected and expected != view.hash:
        raise SlackError("hash_conflict")
    view.external_id = _check_external_id(ctx, payload, view.id)
    view.payload = payload
    view.hash = _new_hash(ctx)
    return view


def update(ctx: Ctx) -> Json:
    """views.update by ``view_id`` or ``external_id``."""
    view_id, external_id = get_str(ctx.args, "view_id"), get_str(ctx.args, "external_id")
    if not view_id and not external_id:
        raise invalid_arguments("[ERROR] missing required field: view_id")
    found = [
        v
        for v in ctx.ws.views.values()
        if (view_id and v.id == view_id) or (external_id and v.external_id == external_id)
    ]
    if not found:
        raise SlackError("not_found")
    view = found[0]
    payload = _payload(ctx, frozenset({view.type}))
    _replace(ctx, view, payload)
    ctx.ws.emit(
        "view_updated",
        view_id=view.id,
        user=view.user_id,
        callback_id=payload.get("callback_id", ""),
    )
    return ok(view=view_json(ctx.ws, view))


def publish(ctx: Ctx) -> Json:
    """views.publish: one Home tab per user, same view id on every publish."""
    ws = ctx.ws
    user_id = get_str(ctx.args, "user_id")
    if user_id not in ws.users:
        raise invalid_arguments("[ERROR] invalid user_id [json-pointer:/user_id]")
    payload = _payload(ctx, frozenset({"home"}))
    existing = ws.views.get(ws.home_views.get(user_id, ""))
    if existing is None:
        view = _create(ctx, payload, user_id, None)
        ws.home_views[user_id] = view.id
    else:
        view = _replace(ctx, existing, payload)
    ws.emit("view_published", view_id=view.id, user=user_id)
    return ok(view=view_json(ws, view))


HANDLERS: dict[str, Handler] = {
    "views.open": open_,
    "views.update": update,
    "views.push": push,
    "views.publish": publish,
}
