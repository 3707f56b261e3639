"""alerts: monitoring alerts (Article 4 early warning) and their warnings

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-30 04:10:00
"""
from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import epbot.adapters.db.types

revision: str = '0004'
down_revision: str | None = '0003'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    utc = epbot.adapters.db.types.UTCDateTime
    op.create_table(
        'alert',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('source', sa.String(length=64), nullable=False),
        sa.Column('kind', sa.String(length=16), nullable=False),
        sa.Column('fingerprint', sa.String(length=200), nullable=False),
        sa.Column('live_key', sa.String(length=270), nullable=True),
        sa.Column('status', sa.String(length=16), nullable=False),
        sa.Column('summary', sa.Text(), nullable=False),
        sa.Column('details', sa.Text(), nullable=False),
        sa.Column('labels', sa.Text(), nullable=False),
        sa.Column('url', sa.Text(), nullable=True),
        sa.Column('starts_at', utc(), nullable=True),
        sa.Column('ends_at', utc(), nullable=True),
        sa.Column('first_seen_at', utc(), nullable=False),
        sa.Column('last_seen_at', utc(), nullable=False),
        sa.Column('count', sa.Integer(), nullable=False),
        sa.Column('playbook_id', sa.String(length=64), nullable=True),
        sa.Column('severity', sa.String(length=4), nullable=True),
        sa.Column('action', sa.String(length=16), nullable=False),
        sa.Column('rule', sa.String(length=64), nullable=True),
        sa.Column('incident_id', sa.Integer(), nullable=True),
        sa.Column('declared_by', sa.String(length=64), nullable=True),
        sa.Column('resolved_at', utc(), nullable=True),
        sa.Column('dismissed_at', utc(), nullable=True),
        sa.Column('dismissed_by', sa.String(length=64), nullable=True),
        sa.Column('dismiss_reason', sa.Text(), nullable=True),
        sa.Column('channel', sa.String(length=80), nullable=True),
        sa.Column('ts', sa.String(length=32), nullable=True),
        sa.Column('version', sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ['incident_id'], ['incident.id'], name=op.f('fk_alert_incident_id_incident')
        ),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_alert')),
        sa.UniqueConstraint('live_key', name=op.f('uq_alert_live_key')),
    )
    op.create_index(
        'ix_alert_source_fingerprint', 'alert', ['source', 'fingerprint'], unique=False
    )
    op.create_index(op.f('ix_alert_incident_id'), 'alert', ['incident_id'], unique=False)


def downgrade() -> None:
    op.drop_index(op.f('ix_alert_incident_id'), table_name='alert')
    op.drop_index('ix_alert_source_fingerprint', table_name='alert')
    op.drop_table('alert')
