"""stage timings: what each stage of a task kind costs, learned from finished tasks, for honest progress

Revision ID: 0014_stage_timings
Revises: 0009_identities
Create Date: 2026-12-03
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0014_stage_timings'
down_revision = '0011_story_videos'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('stage_timings',
    sa.Column('kind', sa.String(length=64), nullable=False),
    sa.Column('stage', sa.String(length=64), nullable=False),
    sa.Column('seconds_per_unit', sa.Float(), nullable=False),
    sa.Column('samples', sa.Integer(), nullable=False),
    sa.Column('update_time', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('kind', 'stage', name=op.f('pk_stage_timings'))
    )


def downgrade() -> None:
    op.drop_table('stage_timings')
