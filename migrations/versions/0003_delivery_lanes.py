"""delivery lanes: outbox rows per audience with a priority, and a lease per lane

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-30 04:10:00
"""
from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import epbot.adapters.db.types

revision: str = '0003'
down_revision: str | None = '0002'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('outbox', schema=None) as batch_op:
        batch_op.add_column(
            sa.Column('priority', sa.Integer(), nullable=False, server_default='0')
        )
        batch_op.alter_column(
            'ordering_key',
            existing_type=sa.String(length=80),
            type_=sa.String(length=200),
            existing_nullable=False,
        )
    op.create_table(
        'outbox_lane',
        sa.Column('key', sa.String(length=200), nullable=False),
        sa.Column('holder', sa.String(length=120), nullable=True),
        sa.Column('leased_until', epbot.adapters.db.types.UTCDateTime(), nullable=True),
        sa.PrimaryKeyConstraint('key', name=op.f('pk_outbox_lane')),
    )


def downgrade() -> None:
    op.drop_table('outbox_lane')
    with op.batch_alter_table('outbox', schema=None) as batch_op:
        batch_op.alter_column(
            'ordering_key',
            existing_type=sa.String(length=200),
            type_=sa.String(length=80),
            existing_nullable=False,
        )
        batch_op.drop_column('priority')
