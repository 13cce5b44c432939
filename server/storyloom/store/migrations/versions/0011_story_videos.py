"""story videos: a story's rendered video, its scene clips (the checkpoint) and options

Revision ID: 0011_story_videos
Revises: 0009_identities
Create Date: 2026-12-03
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op


revision = '0011_story_videos'
down_revision = '0010_task_jobs'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('story_videos',
    sa.Column('id', sa.String(length=40), nullable=False),
    sa.Column('user_id', sa.String(length=40), nullable=False),
    sa.Column('story_id', sa.String(length=40), nullable=False),
    sa.Column('state', sa.String(length=16), nullable=False),
    sa.Column('options', sa.JSON(), nullable=False),
    sa.Column('task_id', sa.String(length=40), nullable=False),
    sa.Column('clips', sa.JSON(), nullable=False),
    sa.Column('media_id', sa.String(length=40), nullable=False),
    sa.Column('poster_id', sa.String(length=40), nullable=False),
    sa.Column('captions_id', sa.String(length=40), nullable=False),
    sa.Column('duration_ms', sa.Integer(), nullable=False),
    sa.Column('request_id', sa.String(length=100), nullable=True),
    sa.Column('create_time', sa.DateTime(timezone=True), nullable=False),
    sa.Column('update_time', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['story_id'], ['stories.id'], name=op.f('fk_story_videos_story_id_stories'),
                            ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_story_videos')),
    sa.UniqueConstraint('user_id', 'request_id', name='uq_story_videos_user_id_request_id')
    )
    with op.batch_alter_table('story_videos', schema=None) as batch_op:
        batch_op.create_index('ix_story_videos_story_id_create_time', ['story_id', 'create_time', 'id'],
                              unique=False)


def downgrade() -> None:
    with op.batch_alter_table('story_videos', schema=None) as batch_op:
        batch_op.drop_index('ix_story_videos_story_id_create_time')
    op.drop_table('story_videos')
