"""The context middleware: who sent a request and what it acts on, before any listener runs.

Like Dispatch's ``button_context_middleware``, it parses once what every listener needs and
puts it into Bolt's context, where listeners receive it by name:

- ``person``: the Slack user, with their locale and matrix ref. Before ``ack()`` only what is
  known without Slack is there (the cached locale, else the default; the user id): a Web API
  call must never delay the acknowledgement. Once the request is acknowledged the guard
  (:mod:`handlers.guard`) looks the person up, so after ``await ack()`` both are theirs.
- ``target``: the incident and the page, step, approval or receipt a button's value names
  (``<incident id>:<target>``), or a modal's private metadata, or a warning's id; the
  channel to answer in; and the request's idempotency key.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from slack_bolt.context.async_context import AsyncBoltContext

from epbot.adapters.slack.ids import Action, parse_value
from epbot.adapters.slack.interactions import Interactions

# Buttons whose value is a warning's id rather than ``<incident>:<target>``.
ALERT_ACTIONS = frozenset({Action.ALERT_DECLARE.value, Action.ALERT_DISMISS.value})


@dataclass
class Person:
    """Who sent the request: Slack user id, locale and matrix ref (see the module doc)."""

    user_id: str
    locale: str  # the cached locale (or the default) until resolved
    actor: str  # the user id until resolved; then the ref the matrix knows them by
    ui: Interactions | None = field(default=None, repr=False, compare=False)
    resolved: bool = False

    async def resolve(self) -> None:
        """Look the person up (users.info, cached): only after the request is acknowledged."""
        if self.resolved or self.ui is None:
            return
        self.resolved = True
        self.locale = await self.ui.locale(self.user_id)
        self.actor = await self.ui.actor(self.user_id)


@dataclass(frozen=True)
class Target:
    """What a request acts on, and where its answer goes."""

    key: str = ""  # one click, one submitted view, one command: the idempotency key
    incident: int | None = None
    item: str = ""  # the page key, step id, approval key or receipt target
    alert: int | None = None  # a warning (``alert.*`` buttons and modals)
    channel: str | None = None  # where the person clicked or typed
    meta: Mapping[str, Any] = field(default_factory=dict)  # a submitted modal's metadata

    def modal_meta(self) -> dict[str, Any]:
        """What a modal opened from this click must remember (its ``private_metadata``)."""
        return {
            "incident": self.incident,
            "target": self.item,
            "channel": self.channel,
            "key": self.key,
        }


def _int(value: Any) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def _clicked(body: dict[str, Any], user: str) -> Target:
    action = (body.get("actions") or [{}])[0]
    action_id, value = str(action.get("action_id") or ""), str(action.get("value") or "")
    container = body.get("container") or {}
    ts = container.get("message_ts") or (body.get("message") or {}).get("ts")
    key = f"action:{action_id}:{value}:{user}:{ts}"
    channel = (body.get("channel") or {}).get("id")
    if action_id in ALERT_ACTIONS:
        return Target(key=key, alert=_int(value), channel=channel)
    try:
        incident, item = parse_value(value)
    except ValueError:
        return Target(key=key, channel=channel)  # a malformed value: no incident
    return Target(key=key, incident=incident, item=item, channel=channel)


def _submitted(body: dict[str, Any]) -> Target:
    view = body.get("view") or {}
    try:
        meta = json.loads(view.get("private_metadata") or "{}")
    except ValueError:
        meta = {}
    meta = meta if isinstance(meta, dict) else {}
    return Target(
        key=f"view:{view.get('id')}",
        incident=_int(meta.get("incident")),
        item=str(meta.get("target") or ""),
        alert=_int(meta.get("alert")),
        channel=meta.get("channel") or None,
        meta=meta,
    )


def target_of(body: dict[str, Any], user: str) -> Target:
    """The target of a Slack request body (any kind; empty when it names none)."""
    kind = body.get("type")
    if kind == "block_actions":
        return _clicked(body, user)
    if kind == "view_submission":
        return _submitted(body)
    if body.get("command"):
        return Target(key=f"command:{body.get('trigger_id')}", channel=body.get("channel_id"))
    event = body.get("event") or {}
    return Target(key=f"event:{body.get('event_id')}", channel=event.get("channel"))


def context_middleware(ui: Interactions) -> Callable[..., Awaitable[None]]:
    """A global Bolt middleware filling ``person`` and ``target`` (no I/O: it runs before
    the listener can ``ack()``)."""

    async def fill_context(
        context: AsyncBoltContext, body: dict[str, Any], next: Callable[[], Awaitable[None]]
    ) -> None:
        user = context.user_id
        if user:
            context["person"] = Person(user, ui.cached_locale(user), user, ui)
        context["target"] = target_of(body, user or "")
        await next()

    return fill_context
