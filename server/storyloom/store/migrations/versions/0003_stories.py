"""stories and scenes

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-22
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op



revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('stories',
    sa.Column('id', sa.String(length=40), nullable=False),
    sa.Column('user_id', sa.String(length=40), nullable=False),
    sa.Column('state', sa.String(length=16), nullable=False),
    sa.Column('title', sa.String(length=300), nullable=False),
    sa.Column('requirements', sa.JSON(), nullable=False),
    sa.Column('options', sa.JSON(), nullable=False),
    sa.Column('premise', sa.Text(), nullable=False),
    sa.Column('outline', sa.JSON(), nullable=False),
    sa.Column('planned_scene_count', sa.Integer(), nullable=False),
    sa.Column('task_id', sa.String(length=40), nullable=False),
    sa.Column('conversation_id', sa.String(length=40), nullable=False),
    sa.Column('source_text', sa.Text(), nullable=False),
    sa.Column('fingerprint', sa.String(length=64), nullable=False),
    sa.Column('request_id', sa.String(length=100), nullable=True),
    sa.Column('create_time', sa.DateTime(timezone=True), nullable=False),
    sa.Column('update_time', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_stories')),
    sa.UniqueConstraint('user_id', 'request_id', name='uq_stories_user_id_request_id')
    )
    with op.batch_alter_table('stories', schema=None) as batch_op:
        batch_op.create_index('ix_stories_user_id_create_time', ['user_id', 'create_time', 'id'], unique=False)
        batch_op.create_index('ix_stories_user_id_fingerprint', ['user_id', 'fingerprint'], unique=False)

    op.create_table('scenes',
    sa.Column('story_id', sa.String(length=40), nullable=False),
    sa.Column('scene_index', sa.Integer(), nullable=False),
    sa.Column('title', sa.String(length=300), nullable=False),
    sa.Column('text', sa.Text(), nullable=False),
    sa.Column('mood', sa.String(length=50), nullable=False),
    sa.Column('illustration_prompt', sa.Text(), nullable=False),
    sa.Column('picture_id', sa.String(length=40), nullable=True),
    sa.Column('picture_state', sa.String(length=16), nullable=False),
    sa.Column('narration_id', sa.String(length=40), nullable=True),
    sa.Column('narration_state', sa.String(length=16), nullable=False),
    sa.ForeignKeyConstraint(['story_id'], ['stories.id'], name=op.f('fk_scenes_story_id_stories'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('story_id', 'scene_index', name=op.f('pk_scenes'))
    )


def downgrade() -> None:
    op.drop_table('scenes')
    with op.batch_alter_table('stories', schema=None) as batch_op:
        batch_op.drop_index('ix_stories_user_id_fingerprint')
        batch_op.drop_index('ix_stories_user_id_create_time')

    op.drop_table('stories')
