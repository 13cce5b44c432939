"""scene units: a task event may announce a finished part of the result (a story's scene, SCENE_READY)

Revision ID: 0016_scene_units
Revises: 0015_procrastinate
Create Date: 2026-12-04
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0016_scene_units'
down_revision = '0015_procrastinate'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('task_events') as batch:
        batch.add_column(sa.Column('part', sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('task_events') as batch:
        batch.drop_column('part')
