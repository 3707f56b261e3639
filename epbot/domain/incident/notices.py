"""Who a notice or report reaches: a role's people, a unit's channel; a broadcast
step's notice and the receipts (回执) it asks of each unit.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from epbot.domain.errors import DomainError, ErrorCode
from epbot.domain.incident.events import Event, EventKind
from epbot.domain.incident.state import IncidentState, ReceiptState, TimerKind
from epbot.domain.incident.timers import add_timer
from epbot.domain.playbook import BroadcastTarget, Recipient, Step


def recipients(state: IncidentState, to: tuple[Recipient, ...]) -> dict[str, Any]:
    """Who a report reaches: the people of each role (DMs) and each unit's channel."""
    people: list[str] = []
    channels: list[str] = []
    units: list[str] = []
    for r in to:
        if r.role is not None:
            people += [p for p in state.members(r.role) if p not in people]
        elif r.unit is not None:
            try:
                unit = state.matrix.unit(r.unit)
            except KeyError:
                continue
            if unit.channel and unit.channel not in channels:
                channels.append(unit.channel)
                units.append(unit.id)
    return {
        "roles": [r.role for r in to if r.role],
        "units": units,
        "people": people,
        "channels": channels,
    }


def progress_recipients(state: IncidentState) -> tuple[Recipient, ...]:
    """Where progress and final reports go: the playbook's, else the leadership group."""
    if state.playbook.progress_reports is not None and state.playbook.progress_reports.to:
        return state.playbook.progress_reports.to
    return (Recipient(role=state.matrix.leadership_group),)


def broadcast(state: IncidentState, spec: Step, actor: str, now: datetime) -> Event:
    subordinate_only = spec.broadcast_to is BroadcastTarget.SUBORDINATE_UNITS
    units = [u for u in state.matrix.units if u.channel and (u.subordinate or not subordinate_only)]
    receipts = []
    if spec.receipt_within is not None:
        for unit in units:
            assert unit.channel is not None
            receipt = ReceiptState(
                step_id=spec.id,
                unit_id=unit.id,
                channel=unit.channel,
                requested_at=now,
                responsible_role=unit.responsible,
                due_at=now + spec.receipt_within,
            )
            state.receipts.append(receipt)
            add_timer(state, TimerKind.RECEIPT_DUE, receipt.key, now + spec.receipt_within)
            receipts.append(
                {
                    "unit": unit.id,
                    "channel": unit.channel,
                    "responsible_role": unit.responsible,
                    "responsible": list(state.members(unit.responsible or "")),
                    "due_at": receipt.due_at.isoformat() if receipt.due_at else None,
                }
            )
    return Event(
        EventKind.BROADCAST,
        actor,
        now,
        {
            "step": spec.id,
            "target": spec.broadcast_to.value if spec.broadcast_to else None,
            "units": [u.id for u in units],
            "channels": [u.channel for u in units],
            "message_zh": spec.message.zh_CN if spec.message else spec.title.zh_CN,
            "message_en": spec.message.en if spec.message else spec.title.en,
            "receipts": receipts,
        },
    )


def receipt(state: IncidentState, target: str) -> ReceiptState:
    found = next((r for r in state.receipts if r.key == target), None)
    if found is None:
        raise DomainError(ErrorCode.UNKNOWN, what=f"receipt {target!r}")
    return found


def receipt_counts(state: IncidentState, step_id: str) -> tuple[int, int]:
    """(units confirmed, units asked) for one notice."""
    asked = [r for r in state.receipts if r.step_id == step_id]
    return sum(r.confirmed_at is not None for r in asked), len(asked)
