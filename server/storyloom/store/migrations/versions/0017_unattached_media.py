"""unattached media: media a task stored name that task until the write that attaches them, so that what a killed or
cancelled task left can be found and deleted once the task has ended

Revision ID: 0017_unattached_media
Revises: 0016_scene_units
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0017_unattached_media'
down_revision = '0016_scene_units'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('media') as batch:
        batch.add_column(sa.Column('made_by_task', sa.String(length=40), nullable=True))
        batch.create_index(batch.f('ix_media_made_by_task'), ['made_by_task'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('media') as batch:
        batch.drop_index(batch.f('ix_media_made_by_task'))
        batch.drop_column('made_by_task')
