"""reference counts of media blobs, so a delete never removes bytes an upload is about to use

Revision ID: 0007_blob_refs
Revises: 0005_picture_spec
Create Date: 2026-12-03
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op



revision = '0007_blob_refs'
down_revision = '0005_picture_spec'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('blob_refs',
    sa.Column('sha256', sa.String(length=64), nullable=False),
    sa.Column('ref_count', sa.Integer(), nullable=False),
    sa.Column('size_bytes', sa.BigInteger(), nullable=False),
    sa.Column('create_time', sa.DateTime(timezone=True), nullable=False),
    sa.Column('update_time', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('sha256', name=op.f('pk_blob_refs'))
    )
    with op.batch_alter_table('blob_refs', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_blob_refs_update_time'), ['update_time'], unique=False)
    # Every blob the media already name: one reference per media row.
    op.execute("INSERT INTO blob_refs (sha256, ref_count, size_bytes, create_time, update_time) "
               "SELECT sha256, count(*), max(size_bytes), min(create_time), max(create_time) FROM media "
               "GROUP BY sha256")


def downgrade() -> None:
    with op.batch_alter_table('blob_refs', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_blob_refs_update_time'))
    op.drop_table('blob_refs')
