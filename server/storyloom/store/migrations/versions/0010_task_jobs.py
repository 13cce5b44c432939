"""task jobs: the worker holding a task, its heartbeat and crash count; why a story ended

Revision ID: 0010_task_jobs
Revises: 0009_identities
Create Date: 2026-12-03
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op


revision = '0010_task_jobs'
down_revision = '0009_identities'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('tasks', schema=None) as batch_op:
        batch_op.add_column(sa.Column('owner', sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column('heartbeat_time', sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('interruptions', sa.Integer(), server_default='0', nullable=False))
    with op.batch_alter_table('stories', schema=None) as batch_op:
        batch_op.add_column(sa.Column('error', sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('stories', schema=None) as batch_op:
        batch_op.drop_column('error')
    with op.batch_alter_table('tasks', schema=None) as batch_op:
        batch_op.drop_column('interruptions')
        batch_op.drop_column('heartbeat_time')
        batch_op.drop_column('owner')
