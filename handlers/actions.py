"""Buttons, and the reason modals they open -> one use case each, through one table.

Every action id (``epbot.adapters.slack.ids.Action``) has one entry in :data:`ACTIONS`: a
service call (:class:`Call`), a reason modal (:class:`AskReason`) or another modal to open.
The context middleware has parsed the button's value into ``target`` and knows who clicked
(``person``); the idempotency key is the action, value, user and message, so a double click,
or Slack delivering the same click twice, changes nothing the second time. A refusal is
raised to the error route (:mod:`handlers.replies`), which tells the person why.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from epbot.adapters.slack.ids import Action, Callback
from epbot.adapters.slack.interactions import read_assignee, read_reason, required
from epbot.adapters.slack.refusals import Unsupported
from epbot.adapters.slack.render import ASSIGNEE_FIELD
from epbot.services.incidents import IncidentService
from handlers.context import Person, Target
from handlers.deps import Deps


@dataclass(frozen=True)
class Click:
    """One button click (or one submitted modal): who, on what, and the modal trigger."""

    person: Person
    target: Target
    trigger_id: str = ""


Route = Callable[[Deps, Click], Awaitable[None]]


def _incident(target: Target) -> int:
    """The incident a click acts on; a value without one is not a button epbot made."""
    if target.incident is None:
        raise Unsupported(f"no incident in {target.key}")
    return target.incident


@dataclass(frozen=True)
class Call:
    """One engine use case: ``use_case(key=, incident_id=, actor=, ...)`` where the click's
    target goes in as ``item``, a modal's answer as ``answer``, plus ``fixed`` arguments."""

    use_case: Callable[..., Awaitable[object]]  # an IncidentService method (unbound)
    item: str | None = None
    answer: str | None = None
    fixed: Mapping[str, object] = field(default_factory=dict)

    async def __call__(self, deps: Deps, click: Click, answer: str | None = None) -> None:
        target = click.target
        incident = _incident(target)
        arguments: dict[str, object] = dict(self.fixed)
        if self.item is not None:
            arguments[self.item] = target.item
        if self.answer is not None:
            arguments[self.answer] = answer
        await self.use_case(
            deps.service,
            key=target.key,
            incident_id=incident,
            actor=click.person.actor,
            **arguments,
        )


@dataclass(frozen=True)
class AskReason:
    """A button that first asks why: the reason modal ``callback`` (see :data:`SUBMISSIONS`)."""

    callback: Callback

    async def __call__(self, deps: Deps, click: Click) -> None:
        _incident(click.target)
        await deps.ui.open_reason(
            trigger_id=click.trigger_id,
            locale=click.person.locale,
            callback_id=self.callback.value,
            meta=click.target.modal_meta(),
        )


async def _ask_assignee(deps: Deps, click: Click) -> None:
    _incident(click.target)
    await deps.ui.open_reassign(
        trigger_id=click.trigger_id, locale=click.person.locale, meta=click.target.modal_meta()
    )


def _send_report(*, progress: bool) -> Route:
    """The report to send (a report step's, or a 续报), pre-filled; handlers/reports.py
    takes its submission."""

    async def open_report(deps: Deps, click: Click) -> None:
        _incident(click.target)
        await deps.ui.open_send_report(
            trigger_id=click.trigger_id,
            locale=click.person.locale,
            meta=click.target.modal_meta(),
            progress=progress,
        )

    return open_report


def _alert_modal(*, declare: bool) -> Route:
    """A warning's pre-filled report, or why it needs no incident (handlers/alerts.py)."""

    async def open_alert(deps: Deps, click: Click) -> None:
        target = click.target
        if target.alert is None:
            raise Unsupported(f"no warning in {target.key}")
        opener = deps.alert_ui.open_declare if declare else deps.alert_ui.open_dismiss
        await opener(
            trigger_id=click.trigger_id,
            user_id=click.person.user_id,
            alert_id=target.alert,
            channel=target.channel,
        )

    return open_alert


S = IncidentService
ACTIONS: dict[Action, Route] = {
    Action.INCIDENT_ACK: Call(S.acknowledge_page, item="page"),
    Action.STEP_DONE: Call(S.complete_step, item="step"),
    Action.STEP_CHECKIN: Call(S.check_in, item="step"),
    Action.APPROVAL_APPROVE: Call(S.decide_approval, item="approval", fixed={"approve": True}),
    Action.INCIDENT_RESOLVE: Call(S.resolve),
    Action.BROADCAST_RECEIPT: Call(S.confirm_receipt, item="target"),
    Action.STEP_SNOOZE_10: Call(S.snooze_step, item="step", fixed={"minutes": 10}),
    Action.STEP_SNOOZE_30: Call(S.snooze_step, item="step", fixed={"minutes": 30}),
    Action.STEP_SNOOZE_60: Call(S.snooze_step, item="step", fixed={"minutes": 60}),
    Action.STEP_ON_IT: Call(S.on_it, item="step"),
    Action.APPROVAL_REJECT: AskReason(Callback.REJECT_REASON),
    Action.ESCALATION_REQUEST: AskReason(Callback.ESCALATION_REASON),
    Action.STEP_SKIP: AskReason(Callback.SKIP_REASON),
    Action.APPROVAL_ASK_AGAIN: AskReason(Callback.ASK_AGAIN_REASON),
    Action.STEP_REASSIGN: _ask_assignee,
    Action.STEP_REPORT: _send_report(progress=False),
    Action.REPORT_PROGRESS: _send_report(progress=True),
    Action.ALERT_DECLARE: _alert_modal(declare=True),
    Action.ALERT_DISMISS: _alert_modal(declare=False),
}

# A submitted reason modal -> its use case, the reason as the answer.
SUBMISSIONS: dict[Callback, Call] = {
    Callback.REJECT_REASON: Call(
        S.decide_approval, item="approval", answer="reason", fixed={"approve": False}
    ),
    Callback.ESCALATION_REASON: Call(S.request_escalation, answer="reason"),
    Callback.SKIP_REASON: Call(S.skip_step, item="step", answer="reason"),
    Callback.ASK_AGAIN_REASON: Call(S.ask_again, item="step", answer="reason"),
}
REASSIGN = Call(S.reassign_step, item="step", answer="assignee")


def register(app: Any, deps: Deps) -> None:
    for action, route in ACTIONS.items():
        app.action(action.value)(_clicked(deps, route))
    for callback, call in SUBMISSIONS.items():
        app.view(callback.value)(_reason_submitted(deps, call))
    app.view(Callback.REASSIGN.value)(_assignee_submitted(deps))
    app.action(re.compile(".*"))(_unknown)  # last: a button from an older epbot, say


def _clicked(deps: Deps, route: Route) -> Callable[..., Awaitable[None]]:
    async def clicked(ack: Any, person: Person, target: Target, body: dict[str, Any]) -> None:
        await ack()
        await route(deps, Click(person, target, str(body.get("trigger_id") or "")))

    return clicked


async def _unknown(ack: Any, action: dict[str, Any]) -> None:
    await ack()
    raise Unsupported(f"unknown action {action.get('action_id')!r}")


def _reason_submitted(deps: Deps, call: Call) -> Callable[..., Awaitable[None]]:
    async def submitted(ack: Any, person: Person, target: Target, view: dict[str, Any]) -> None:
        await ack()
        await call(deps, Click(person, target), answer=read_reason(view))

    return submitted


def _assignee_submitted(deps: Deps) -> Callable[..., Awaitable[None]]:
    async def submitted(ack: Any, person: Person, target: Target, view: dict[str, Any]) -> None:
        picked = read_assignee(view)
        if picked is None:
            await ack(response_action="errors", errors={ASSIGNEE_FIELD: required(person.locale)})
            return
        await ack()
        await REASSIGN(deps, Click(person, target), answer=await deps.ui.actor(picked))

    return submitted
