"""reports: a unit's receipt (回执) of a notice, per incident, step and unit

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-30 04:50:00
"""
from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import epbot.adapters.db.types

revision: str = '0006'
down_revision: str | None = '0005'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        'receipt',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('incident_id', sa.Integer(), nullable=False),
        sa.Column('step_id', sa.String(length=64), nullable=False),
        sa.Column('unit_id', sa.String(length=64), nullable=False),
        sa.Column('channel', sa.String(length=80), nullable=False),
        sa.Column('responsible_role', sa.String(length=64), nullable=True),
        sa.Column('requested_at', epbot.adapters.db.types.UTCDateTime(), nullable=False),
        sa.Column('due_at', epbot.adapters.db.types.UTCDateTime(), nullable=True),
        sa.Column('nudged_at', epbot.adapters.db.types.UTCDateTime(), nullable=True),
        sa.Column('confirmed_at', epbot.adapters.db.types.UTCDateTime(), nullable=True),
        sa.Column('confirmed_by', sa.String(length=64), nullable=True),
        sa.ForeignKeyConstraint(
            ['incident_id'], ['incident.id'], name=op.f('fk_receipt_incident_id_incident')
        ),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_receipt')),
        sa.UniqueConstraint(
            'incident_id', 'step_id', 'unit_id', name=op.f('uq_receipt_incident_id_step_id_unit_id')
        ),
    )
    with op.batch_alter_table('receipt', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_receipt_incident_id'), ['incident_id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('receipt', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_receipt_incident_id'))
    op.drop_table('receipt')
