"""SQLModel tables: the durable state of every incident.

Timestamps are timezone-aware UTC (``UTCDateTime``). Enumerated values are stored as short
strings (the domain's StrEnum values) rather than database enum types, so adding a status
is a code change, not a migration. Every table has an integer or natural primary key and
constraints follow the naming convention below, so Alembic migrations stay stable.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Index, MetaData, Text, UniqueConstraint
from sqlmodel import Field, SQLModel

from epbot.adapters.db.types import UTCDateTime

NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}
SQLModel.metadata = MetaData(naming_convention=NAMING_CONVENTION)


def _ts() -> Any:
    """A nullable UTC timestamp column."""
    return Field(default=None, sa_type=UTCDateTime, nullable=True)


class IncidentCounter(SQLModel, table=True):
    """Per-year sequence numbers; drills are numbered apart from real incidents."""

    __tablename__ = "incident_counter"
    year: int = Field(primary_key=True)
    drill: bool = Field(primary_key=True)
    last: int = 0


class PlaybookSnapshot(SQLModel, table=True):
    """The exact playbook an incident runs, keyed by its content hash (deduplicated)."""

    __tablename__ = "playbook_snapshot"
    hash: str = Field(primary_key=True, max_length=64)
    playbook_id: str = Field(max_length=64)
    content: str = Field(sa_type=Text)
    created_at: datetime = Field(sa_type=UTCDateTime)


class Incident(SQLModel, table=True):
    __tablename__ = "incident"
    __table_args__ = (
        UniqueConstraint("year", "drill", "seq"),
        Index("ix_incident_status_declared_at", "status", "declared_at"),
    )
    id: int | None = Field(default=None, primary_key=True)
    year: int
    seq: int
    drill: bool = False
    playbook_id: str = Field(max_length=64)
    playbook_hash: str = Field(max_length=64, foreign_key="playbook_snapshot.hash")
    severity: str = Field(max_length=4)
    status: str = Field(max_length=32)
    title: str = Field(max_length=200)
    reporter: str = Field(max_length=64)
    commander_role: str = Field(max_length=64)
    commander: str | None = Field(default=None, max_length=64)
    channel_id: str | None = Field(default=None, max_length=32, unique=True)
    channel_name: str | None = Field(default=None, max_length=80)
    card_ts: str | None = Field(default=None, max_length=32)
    declared_at: datetime = Field(sa_type=UTCDateTime)
    resolved_at: datetime | None = _ts()
    closed_at: datetime | None = _ts()
    cancelled_at: datetime | None = _ts()
    cancel_reason: str | None = Field(default=None, sa_type=Text)
    version: int = 1


class Report(SQLModel, table=True):
    """A version of the Article 5.1 report; the latest version is current."""

    __tablename__ = "report"
    __table_args__ = (UniqueConstraint("incident_id", "version"),)
    id: int | None = Field(default=None, primary_key=True)
    incident_id: int = Field(foreign_key="incident.id", index=True)
    version: int
    occurred_at: datetime = Field(sa_type=UTCDateTime)
    place: str = Field(sa_type=Text)
    nature: str = Field(sa_type=Text)
    scope: str = Field(sa_type=Text)
    trend: str = Field(sa_type=Text)
    measures: str = Field(sa_type=Text)
    unit_id: str = Field(max_length=64)
    contact_phone: str = Field(max_length=40)
    title: str = Field(max_length=200)
    submitted_by: str = Field(max_length=64)
    submitted_at: datetime = Field(sa_type=UTCDateTime)


class StageInstance(SQLModel, table=True):
    __tablename__ = "stage"
    __table_args__ = (UniqueConstraint("incident_id", "stage_id"),)
    id: int | None = Field(default=None, primary_key=True)
    incident_id: int = Field(foreign_key="incident.id")
    stage_id: str = Field(max_length=32)
    started_at: datetime = Field(sa_type=UTCDateTime)
    completed_at: datetime | None = _ts()


class StepInstance(SQLModel, table=True):
    __tablename__ = "step"
    __table_args__ = (
        UniqueConstraint("incident_id", "step_id"),
        Index("ix_step_assignee_status", "assignee", "status"),
    )
    id: int | None = Field(default=None, primary_key=True)
    incident_id: int = Field(foreign_key="incident.id")
    step_id: str = Field(max_length=64)
    stage_id: str = Field(max_length=32)
    kind: str = Field(max_length=16)
    role: str = Field(max_length=64)
    assignee: str | None = Field(default=None, max_length=64)
    status: str = Field(max_length=24)
    due_at: datetime | None = _ts()
    overdue_at: datetime | None = _ts()
    done_at: datetime | None = _ts()
    done_by: str | None = Field(default=None, max_length=64)
    note: str | None = Field(default=None, sa_type=Text)
    approval_id: int | None = Field(default=None, foreign_key="approval.id")


class Page(SQLModel, table=True):
    """One attempt to reach one person for one role."""

    __tablename__ = "page"
    __table_args__ = (UniqueConstraint("incident_id", "role", "attempt"),)
    id: int | None = Field(default=None, primary_key=True)
    incident_id: int = Field(foreign_key="incident.id")
    role: str = Field(max_length=64)
    person: str = Field(max_length=64)
    attempt: int
    reason: str = Field(max_length=32)
    step_id: str | None = Field(default=None, max_length=64)
    sent_at: datetime = Field(sa_type=UTCDateTime)
    acked_at: datetime | None = _ts()
    acked_by: str | None = Field(default=None, max_length=64)
    timed_out_at: datetime | None = _ts()


class Approval(SQLModel, table=True):
    __tablename__ = "approval"
    __table_args__ = (
        Index("ix_approval_incident_id_status", "incident_id", "status"),
        UniqueConstraint("incident_id", "key"),
    )
    id: int | None = Field(default=None, primary_key=True)
    incident_id: int = Field(foreign_key="incident.id")
    key: str = Field(max_length=80)
    kind: str = Field(max_length=16)
    step_id: str | None = Field(default=None, max_length=64)
    approver_role: str = Field(max_length=64)
    status: str = Field(max_length=16)
    requested_by: str = Field(max_length=64)
    requested_at: datetime = Field(sa_type=UTCDateTime)
    due_at: datetime | None = _ts()
    expired: bool = False
    decided_by: str | None = Field(default=None, max_length=64)
    decided_at: datetime | None = _ts()
    reason: str | None = Field(default=None, sa_type=Text)


class Receipt(SQLModel, table=True):
    """A unit's receipt (回执) of a notice: asked when the notice is posted, confirmed by the
    unit's responsible person; nudged (then paged) when late."""

    __tablename__ = "receipt"
    __table_args__ = (UniqueConstraint("incident_id", "step_id", "unit_id"),)
    id: int | None = Field(default=None, primary_key=True)
    incident_id: int = Field(foreign_key="incident.id", index=True)
    step_id: str = Field(max_length=64)
    unit_id: str = Field(max_length=64)
    channel: str = Field(max_length=80)
    responsible_role: str | None = Field(default=None, max_length=64)
    requested_at: datetime = Field(sa_type=UTCDateTime)
    due_at: datetime | None = _ts()
    nudged_at: datetime | None = _ts()
    confirmed_at: datetime | None = _ts()
    confirmed_by: str | None = Field(default=None, max_length=64)


class Timer(SQLModel, table=True):
    """A reminder, deadline, ack timeout or approval expiry: the database is the truth."""

    __tablename__ = "timer"
    __table_args__ = (
        Index("ix_timer_fired_at_due_at", "fired_at", "due_at"),
        Index("ix_timer_incident_id", "incident_id"),
    )
    id: int | None = Field(default=None, primary_key=True)
    incident_id: int = Field(foreign_key="incident.id")
    kind: str = Field(max_length=24)
    target: str = Field(max_length=64)
    due_at: datetime = Field(sa_type=UTCDateTime)
    fired_at: datetime | None = _ts()
    cancelled: bool = False
    claimed_by: str | None = Field(default=None, max_length=64)
    # Firing failures: a timer whose effect keeps raising is retried at later ticks and set
    # aside (fired_at set, last_error kept) after a few, so it cannot block the others.
    attempts: int = 0
    last_error: str | None = Field(default=None, sa_type=Text)


class TimelineEvent(SQLModel, table=True):
    """The audit timeline; each row carries the hash of the previous one."""

    __tablename__ = "timeline_event"
    __table_args__ = (UniqueConstraint("incident_id", "seq"),)
    id: int | None = Field(default=None, primary_key=True)
    incident_id: int = Field(foreign_key="incident.id")
    seq: int
    at: datetime = Field(sa_type=UTCDateTime)
    actor: str = Field(max_length=64)
    kind: str = Field(max_length=48)
    payload: str = Field(sa_type=Text)
    prev_hash: str = Field(max_length=64)
    hash: str = Field(max_length=64)


class OutboxMessage(SQLModel, table=True):
    """One engine event for one audience (the incident channel, a person, a unit channel).

    Rows of one ``ordering_key`` (a lane: one Slack conversation) are delivered in ``id``
    order by whichever worker holds the lane's lease; lanes are drained in parallel, the
    most urgent (``priority``) first.
    """

    __tablename__ = "outbox"
    __table_args__ = (
        Index("ix_outbox_status_next_attempt_at", "status", "next_attempt_at"),
        Index("ix_outbox_ordering_key_id", "ordering_key", "id"),
    )
    id: int | None = Field(default=None, primary_key=True)
    incident_id: int | None = Field(default=None, foreign_key="incident.id")
    ordering_key: str = Field(max_length=200)
    priority: int = Field(default=0, sa_column_kwargs={"server_default": "0"})
    method: str = Field(max_length=64)
    payload: str = Field(sa_type=Text)
    ref_key: str | None = Field(default=None, max_length=120)
    status: str = Field(max_length=16)
    attempts: int = 0
    next_attempt_at: datetime = Field(sa_type=UTCDateTime)
    last_error: str | None = Field(default=None, sa_type=Text)
    created_at: datetime = Field(sa_type=UTCDateTime)
    sent_at: datetime | None = _ts()
    response: str | None = Field(default=None, sa_type=Text)


class MessageRef(SQLModel, table=True):
    """Where a message the bot posted lives (card, checklist, page DM...), for updates."""

    __tablename__ = "message_ref"
    key: str = Field(primary_key=True, max_length=120)
    incident_id: int | None = Field(default=None, foreign_key="incident.id", index=True)
    channel: str = Field(max_length=32)
    ts: str = Field(max_length=32)


class IdempotencyKey(SQLModel, table=True):
    """A use case already carried out under a caller-supplied key, and what it answered."""

    __tablename__ = "idempotency_key"
    key: str = Field(primary_key=True, max_length=200)
    created_at: datetime = Field(sa_type=UTCDateTime)
    result: str = Field(sa_type=Text)


class OutboxLane(SQLModel, table=True):
    """A lease on one delivery lane: while ``leased_until`` is ahead, only ``holder`` sends
    that lane's rows, so its order holds across workers and processes."""

    __tablename__ = "outbox_lane"
    key: str = Field(primary_key=True, max_length=200)
    holder: str | None = Field(default=None, max_length=120)
    leased_until: datetime | None = _ts()


class SchedulerLease(SQLModel, table=True):
    """Which process runs the timers (one row per lease name) and until when."""

    __tablename__ = "scheduler_lease"
    name: str = Field(primary_key=True, max_length=32)
    holder: str = Field(max_length=64)
    expires_at: datetime = Field(sa_type=UTCDateTime)


class DrillRun(SQLModel, table=True):
    """One scheduled run of a drill; whoever inserts the row first starts the drill."""

    __tablename__ = "drill_run"
    __table_args__ = (UniqueConstraint("drill_id", "scheduled_for"),)
    id: int | None = Field(default=None, primary_key=True)
    drill_id: str = Field(max_length=64)
    scheduled_for: datetime = Field(sa_type=UTCDateTime)
    claimed_by: str = Field(max_length=120)
    claimed_at: datetime = Field(sa_type=UTCDateTime)
    incident_id: int | None = Field(default=None, foreign_key="incident.id", index=True)


class Alert(SQLModel, table=True):
    """A monitoring alert (Article 4 early warning) and the warning posted for it.

    ``live_key`` (``source:fingerprint``) is set while the alert is open and cleared when
    the source resolves it: the unique constraint makes a repeat update the open alert,
    never open a second one, and lets a later new firing open a new one.
    """

    __tablename__ = "alert"
    __table_args__ = (
        UniqueConstraint("live_key"),
        Index("ix_alert_source_fingerprint", "source", "fingerprint"),
    )
    id: int | None = Field(default=None, primary_key=True)
    source: str = Field(max_length=64)
    kind: str = Field(max_length=16)
    fingerprint: str = Field(max_length=200)
    live_key: str | None = Field(default=None, max_length=270)
    status: str = Field(max_length=16)
    summary: str = Field(sa_type=Text)
    details: str = Field(sa_type=Text)
    labels: str = Field(sa_type=Text)
    url: str | None = Field(default=None, sa_type=Text)
    starts_at: datetime | None = _ts()
    ends_at: datetime | None = _ts()
    first_seen_at: datetime = Field(sa_type=UTCDateTime)
    last_seen_at: datetime = Field(sa_type=UTCDateTime)
    count: int = 1
    playbook_id: str | None = Field(default=None, max_length=64)
    severity: str | None = Field(default=None, max_length=4)
    action: str = Field(max_length=16)
    rule: str | None = Field(default=None, max_length=64)
    incident_id: int | None = Field(default=None, foreign_key="incident.id", index=True)
    declared_by: str | None = Field(default=None, max_length=64)
    resolved_at: datetime | None = _ts()
    dismissed_at: datetime | None = _ts()
    dismissed_by: str | None = Field(default=None, max_length=64)
    dismiss_reason: str | None = Field(default=None, sa_type=Text)
    channel: str | None = Field(default=None, max_length=80)
    ts: str | None = Field(default=None, max_length=32)
    version: int = 1


ALL_TABLES = (
    IncidentCounter,
    PlaybookSnapshot,
    Incident,
    Report,
    StageInstance,
    StepInstance,
    Page,
    Approval,
    Timer,
    TimelineEvent,
    OutboxMessage,
    MessageRef,
    IdempotencyKey,
    OutboxLane,
    SchedulerLease,
    DrillRun,
    Alert,
    Receipt,
)
