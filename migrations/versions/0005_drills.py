"""drills: one row per scheduled drill run, unique per (drill, time), so it starts once

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-30 04:10:00
"""
from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import epbot.adapters.db.types

revision: str = '0005'
down_revision: str | None = '0004'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        'drill_run',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('drill_id', sa.String(length=64), nullable=False),
        sa.Column('scheduled_for', epbot.adapters.db.types.UTCDateTime(), nullable=False),
        sa.Column('claimed_by', sa.String(length=120), nullable=False),
        sa.Column('claimed_at', epbot.adapters.db.types.UTCDateTime(), nullable=False),
        sa.Column('incident_id', sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ['incident_id'], ['incident.id'], name=op.f('fk_drill_run_incident_id_incident')
        ),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_drill_run')),
        sa.UniqueConstraint(
            'drill_id', 'scheduled_for', name=op.f('uq_drill_run_drill_id_scheduled_for')
        ),
    )
    with op.batch_alter_table('drill_run', schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f('ix_drill_run_incident_id'), ['incident_id'], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table('drill_run', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_drill_run_incident_id'))
    op.drop_table('drill_run')
