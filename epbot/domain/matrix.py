"""Responsibility matrix (Article 3): units, roles, people, approvers, escalation.

Pure: stdlib + pydantic only.
"""

from __future__ import annotations

from datetime import timedelta
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

from epbot.domain.durations import parse_duration
from epbot.domain.playbook import Text

DEFAULT_ACK_TIMEOUT = timedelta(minutes=5)


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", populate_by_name=True)


class ApprovalKind(StrEnum):
    """What a role may approve."""

    ESCALATION = "escalation"  # Art. 5.3: enter emergency response
    GATED_STEP = "gated_step"  # a step with ``requires_approval`` (e.g. 8.1 stop the system)
    DECISION = "decision"  # an ``approval`` step (e.g. 8.4 report to the authorities)


class Person(_Frozen):
    """A person: ``ref`` is a Slack user id (``U012ABC``) or an email to resolve."""

    ref: str
    name: str | None = None
    phone: str | None = None


class Unit(_Frozen):
    id: str
    name: Text
    channel: str | None = None  # Slack channel id or name of the unit
    subordinate: bool = False  # a subordinate unit (Art. 9.8 notices)
    responsible: str | None = None  # role id of the unit's named responsible person


class Role(_Frozen):
    id: str
    name: Text
    unit: str
    people: tuple[str, ...] = Field(min_length=1)  # person refs: primary first, then backups
    ack_timeout: timedelta = DEFAULT_ACK_TIMEOUT
    escalate_to: str | None = None  # role paged when the list of people is exhausted
    may_approve: tuple[ApprovalKind, ...] = ()

    @field_validator("ack_timeout", mode="before")
    @classmethod
    def _parse_timeout(cls, value: Any) -> Any:
        # Bare numbers are refused, as in playbooks: the unit must be written.
        return value if isinstance(value, timedelta) else parse_duration(value)


class Matrix(_Frozen):
    units: tuple[Unit, ...]
    roles: tuple[Role, ...]
    people: tuple[Person, ...] = ()  # optional directory: display names, phones
    leadership_group: str  # role id: 应急领导小组
    leadership_leader: str  # role id: its 组长
    emergency_office: str  # role id: 应急办公室, receives reports

    def role(self, role_id: str) -> Role:
        for role in self.roles:
            if role.id == role_id:
                return role
        raise KeyError(role_id)

    def unit(self, unit_id: str) -> Unit:
        for unit in self.units:
            if unit.id == unit_id:
                return unit
        raise KeyError(unit_id)

    def person(self, ref: str) -> Person:
        for person in self.people:
            if person.ref == ref:
                return person
        return Person(ref=ref)

    def may_approve(self, role_id: str, kind: ApprovalKind) -> bool:
        return kind in self.role(role_id).may_approve

    def refs(self) -> tuple[str, ...]:
        """Every person ref of every role, once each, in matrix order."""
        return tuple(dict.fromkeys(p for role in self.roles for p in role.people))

    def people_of(self, role_id: str) -> tuple[Person, ...]:
        """The people of a role in paging order (primary first), with directory details."""
        return tuple(self.person(ref) for ref in self.role(role_id).people)

