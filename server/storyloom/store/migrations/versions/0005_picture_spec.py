"""scenes keep their picture spec (characters, key objects, setting, time of day)

Revision ID: 0005_picture_spec
Revises: 0005_embeddings
Create Date: 2026-12-03
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005_picture_spec"
down_revision = "0005_embeddings"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("scenes") as batch:
        batch.add_column(sa.Column("picture_spec", sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("scenes") as batch:
        batch.drop_column("picture_spec")
