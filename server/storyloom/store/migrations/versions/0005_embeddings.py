"""memory vectors from an embedding model (semantic memory search when Gemini is the engine)

Revision ID: 0005_embeddings
Revises: 0004
Create Date: 2026-12-03
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0005_embeddings'
down_revision = '0004'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('memory_embeddings',
    sa.Column('memory_id', sa.String(length=40), nullable=False),
    sa.Column('model', sa.String(length=100), nullable=False),
    sa.Column('user_id', sa.String(length=40), nullable=False),
    sa.Column('vector', sa.LargeBinary(), nullable=False),
    sa.ForeignKeyConstraint(['memory_id'], ['memories.id'],
                            name=op.f('fk_memory_embeddings_memory_id_memories'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('memory_id', 'model', name=op.f('pk_memory_embeddings'))
    )
    with op.batch_alter_table('memory_embeddings', schema=None) as batch_op:
        batch_op.create_index('ix_memory_embeddings_user_id_model', ['user_id', 'model'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('memory_embeddings', schema=None) as batch_op:
        batch_op.drop_index('ix_memory_embeddings_user_id_model')

    op.drop_table('memory_embeddings')
