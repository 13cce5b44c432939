"""Table definitions. Alembic migrations in store/migrations create and evolve them."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.types import TypeDecorator

# The domain's names for what state columns hold (SQLAlchemy reads the annotations at class creation).
from storyloom.domain.conversations import MessageState, Role, Status
from storyloom.domain.stories import AssetState, StoryState
from storyloom.domain.videos import VideoState

# Stable constraint names, so migrations can refer to them on every database.
NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class UtcDateTime(TypeDecorator[dt.datetime]):
    """Timezone-aware UTC datetimes on every backend (SQLite hands back naive values)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: dt.datetime | None, dialect: Any) -> dt.datetime | None:
        if value is not None and value.tzinfo is None:
            raise ValueError("naive datetime")
        return value.astimezone(dt.UTC) if value is not None else None

    def process_result_value(self, value: dt.datetime | None, dialect: Any) -> dt.datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=dt.UTC) if value.tzinfo is None else value.astimezone(dt.UTC)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


class UserRow(Base):
    __tablename__ = "users"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    display_name: Mapped[str] = mapped_column(String(200))
    create_time: Mapped[dt.datetime] = mapped_column(UtcDateTime)


class ApiKeyRow(Base):
    __tablename__ = "api_keys"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    # SHA-256 of the key: keys are 256-bit random secrets, so a fast hash is enough and the
    # plain key is never stored.
    key_hash: Mapped[str] = mapped_column(String(64), unique=True)
    create_time: Mapped[dt.datetime] = mapped_column(UtcDateTime)
    revoke_time: Mapped[dt.datetime | None] = mapped_column(UtcDateTime, nullable=True)


class IdentityRow(Base):
    """A person signed in by an identity provider (issuer + subject), and the user they are."""

    __tablename__ = "identities"

    issuer: Mapped[str] = mapped_column(String(255), primary_key=True)
    subject: Mapped[str] = mapped_column(String(255), primary_key=True)
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    # The token's profile claims when it had them ("" otherwise), as of the last sign-in that changed them.
    display_name: Mapped[str] = mapped_column(String(200))
    email: Mapped[str] = mapped_column(String(320))
    create_time: Mapped[dt.datetime] = mapped_column(UtcDateTime)


class TaskRow(Base):
    __tablename__ = "tasks"
    __table_args__ = (
        UniqueConstraint("user_id", "request_id", name="uq_tasks_user_id_request_id"),
        Index("ix_tasks_user_id_create_time", "user_id", "create_time", "id"),
        Index("ix_tasks_state", "state"),
        Index("ix_tasks_end_time", "end_time"),
    )

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    user_id: Mapped[str] = mapped_column(String(40))
    kind: Mapped[str] = mapped_column(String(100))
    state: Mapped[str] = mapped_column(String(16))
    stage: Mapped[str] = mapped_column(String(100), default="")
    percent: Mapped[int] = mapped_column(Integer, default=0)
    message: Mapped[str] = mapped_column(Text, default="")
    eta: Mapped[dt.datetime | None] = mapped_column(UtcDateTime, nullable=True)
    target: Mapped[str] = mapped_column(String(300), default="")
    params: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    checkpoint: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    result_type: Mapped[str | None] = mapped_column(String(200), nullable=True)
    result_payload: Mapped[bytes | None] = mapped_column(LargeBinary, nullable=True)
    error: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    last_sequence: Mapped[int] = mapped_column(Integer, default=0)
    attempt: Mapped[int] = mapped_column(Integer, default=0)
    # NULL when the caller sent none: NULLs never clash in the unique constraint.
    request_id: Mapped[str | None] = mapped_column(String(100), nullable=True)
    create_time: Mapped[dt.datetime] = mapped_column(UtcDateTime)
    update_time: Mapped[dt.datetime] = mapped_column(UtcDateTime)
    start_time: Mapped[dt.datetime | None] = mapped_column(UtcDateTime, nullable=True)
    end_time: Mapped[dt.datetime | None] = mapped_column(UtcDateTime, nullable=True)
    # The worker running the task and when it claimed it (NULL while PENDING); crashes counted. (heartbeat_time
    # kept its name from before procrastinate: its heartbeats are the workers', in procrastinate_workers.)
    owner: Mapped[str | None] = mapped_column(String(64), nullable=True)
    heartbeat_time: Mapped[dt.datetime | None] = mapped_column(UtcDateTime, nullable=True)
    interruptions: Mapped[int] = mapped_column(Integer, default=0, server_default="0")


class TaskEventRow(Base):
    __tablename__ = "task_events"

    task_id: Mapped[str] = mapped_column(ForeignKey("tasks.id", ondelete="CASCADE"), primary_key=True)
    sequence: Mapped[int] = mapped_column(Integer, primary_key=True)
    create_time: Mapped[dt.datetime] = mapped_column(UtcDateTime)
    state: Mapped[str] = mapped_column(String(16))
    stage: Mapped[str] = mapped_column(String(100), default="")
    percent: Mapped[int] = mapped_column(Integer, default=0)
    message: Mapped[str] = mapped_column(Text, default="")
    eta: Mapped[dt.datetime | None] = mapped_column(UtcDateTime, nullable=True)
    error: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    # A finished part of the result the event announces (domain TaskPart: type and reference), or None.
    part: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)


class MediaRow(Base):
    __tablename__ = "media"
    __table_args__ = (UniqueConstraint("user_id", "request_id", name="uq_media_user_id_request_id"),)

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    user_id: Mapped[str] = mapped_column(String(40), index=True)
    # The blob's SHA-256 (hex): the file name in the blob store, shared by identical media.
    sha256: Mapped[str] = mapped_column(String(64), index=True)
    content_type: Mapped[str] = mapped_column(String(100))
    size_bytes: Mapped[int] = mapped_column(BigInteger)
    width: Mapped[int | None] = mapped_column(Integer, nullable=True)
    height: Mapped[int | None] = mapped_column(Integer, nullable=True)
    duration_ms: Mapped[int | None] = mapped_column(Integer, nullable=True)
    sample_rate_hertz: Mapped[int | None] = mapped_column(Integer, nullable=True)
    channel_count: Mapped[int | None] = mapped_column(Integer, nullable=True)
    # Renditions (a thumbnail...) point at the media they render.
    parent_id: Mapped[str | None] = mapped_column(ForeignKey("media.id", ondelete="CASCADE"), nullable=True, index=True)
    purpose: Mapped[str] = mapped_column(String(50), default="")
    request_id: Mapped[str | None] = mapped_column(String(100), nullable=True)
    create_time: Mapped[dt.datetime] = mapped_column(UtcDateTime)
    # The task that stored the item, until the write that attaches it to its story or video (in that write's
    # transaction): an item still marked once its task ended was left by a killed or cancelled attempt, and nothing
    # will ever refer to it (MediaLibrary.sweep_unattached). Uploads and renditions are never marked.
    made_by_task: Mapped[str | None] = mapped_column(String(40), nullable=True, index=True)


class BlobRefRow(Base):
    """How many references a blob has: media rows naming it, plus uploads under way. A blob is removed only at
    zero, by a transaction that holds this row (domain/media.py: MediaRepository)."""

    __tablename__ = "blob_refs"

    sha256: Mapped[str] = mapped_column(String(64), primary_key=True)
    ref_count: Mapped[int] = mapped_column(Integer)
    size_bytes: Mapped[int] = mapped_column(BigInteger)
    create_time: Mapped[dt.datetime] = mapped_column(UtcDateTime)
    # Changed by every pin, release and delete: a count untouched for long is recounted from the media rows.
    update_time: Mapped[dt.datetime] = mapped_column(UtcDateTime, index=True)


class ConversationRow(Base):
    __tablename__ = "conversations"
    __table_args__ = (
        UniqueConstraint("user_id", "request_id", name="uq_conversations_user_id_request_id"),
        Index("ix_conversations_user_id_update_time", "user_id", "update_time", "id"),
    )

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    user_id: Mapped[str] = mapped_column(String(40))
    title: Mapped[str] = mapped_column(String(200), default="")
    status: Mapped[Status] = mapped_column(String(16))
    message_count: Mapped[int] = mapped_column(Integer, default=0)
    requirements: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    summary: Mapped[str] = mapped_column(Text, default="")
    summary_covers: Mapped[int] = mapped_column(Integer, default=0)
    request_id: Mapped[str | None] = mapped_column(String(100), nullable=True)
    create_time: Mapped[dt.datetime] = mapped_column(UtcDateTime)
    update_time: Mapped[dt.datetime] = mapped_column(UtcDateTime)


class MessageRow(Base):
    __tablename__ = "messages"
    __table_args__ = (
        UniqueConstraint("conversation_id", "position", name="uq_messages_conversation_id_position"),
        UniqueConstraint("user_id", "request_id", name="uq_messages_user_id_request_id"),
        # The per-user rate limit counts a user's recent messages.
        Index("ix_messages_user_id_role_create_time", "user_id", "role", "create_time"),
        Index("ix_messages_state", "state"),
    )

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    conversation_id: Mapped[str] = mapped_column(ForeignKey("conversations.id", ondelete="CASCADE"))
    user_id: Mapped[str] = mapped_column(String(40))
    position: Mapped[int] = mapped_column(Integer)
    role: Mapped[Role] = mapped_column(String(16))
    text: Mapped[str] = mapped_column(Text, default="")
    state: Mapped[MessageState] = mapped_column(String(16))
    finish_reason: Mapped[str] = mapped_column(String(16), default="")
    input_tokens: Mapped[int] = mapped_column(Integer, default=0)
    output_tokens: Mapped[int] = mapped_column(Integer, default=0)
    task_id: Mapped[str] = mapped_column(String(40), default="")
    chunk_count: Mapped[int] = mapped_column(Integer, default=0)
    error: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    request_id: Mapped[str | None] = mapped_column(String(100), nullable=True)
    create_time: Mapped[dt.datetime] = mapped_column(UtcDateTime)


class ReplyChunkRow(Base):
    """Reply text in the pieces it was streamed in, so any reconnect replays exactly those pieces."""

    __tablename__ = "reply_chunks"

    message_id: Mapped[str] = mapped_column(ForeignKey("messages.id", ondelete="CASCADE"), primary_key=True)
    seq: Mapped[int] = mapped_column(Integer, primary_key=True)
    text: Mapped[str] = mapped_column(Text)


class StoryRow(Base):
    __tablename__ = "stories"
    __table_args__ = (
        UniqueConstraint("user_id", "request_id", name="uq_stories_user_id_request_id"),
        Index("ix_stories_user_id_create_time", "user_id", "create_time", "id"),
        Index("ix_stories_user_id_fingerprint", "user_id", "fingerprint"),
    )

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    user_id: Mapped[str] = mapped_column(String(40))
    state: Mapped[StoryState] = mapped_column(String(16))
    title: Mapped[str] = mapped_column(String(300), default="")
    requirements: Mapped[dict[str, Any]] = mapped_column(JSON)
    options: Mapped[dict[str, Any]] = mapped_column(JSON)
    premise: Mapped[str] = mapped_column(Text, default="")
    outline: Mapped[list[Any]] = mapped_column(JSON, default=list)
    planned_scene_count: Mapped[int] = mapped_column(Integer, default=0)
    task_id: Mapped[str] = mapped_column(String(40))
    conversation_id: Mapped[str] = mapped_column(String(40), default="")
    source_text: Mapped[str] = mapped_column(Text, default="")
    # SHA-256 of the request (source and options): an identical request soon after reuses the story.
    fingerprint: Mapped[str] = mapped_column(String(64))
    request_id: Mapped[str | None] = mapped_column(String(100), nullable=True)
    create_time: Mapped[dt.datetime] = mapped_column(UtcDateTime)
    update_time: Mapped[dt.datetime] = mapped_column(UtcDateTime)
    # Why the story is not READY (FAILED or CANCELLED): its task's error.
    error: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)


class SceneRow(Base):
    __tablename__ = "scenes"

    story_id: Mapped[str] = mapped_column(ForeignKey("stories.id", ondelete="CASCADE"), primary_key=True)
    index: Mapped[int] = mapped_column("scene_index", Integer, primary_key=True)
    title: Mapped[str] = mapped_column(String(300), default="")
    text: Mapped[str] = mapped_column(Text)
    mood: Mapped[str] = mapped_column(String(50), default="")
    illustration_prompt: Mapped[str] = mapped_column(Text, default="")
    picture_id: Mapped[str | None] = mapped_column(String(40), nullable=True)
    picture_state: Mapped[AssetState] = mapped_column(String(16))
    narration_id: Mapped[str | None] = mapped_column(String(40), nullable=True)
    narration_state: Mapped[AssetState] = mapped_column(String(16))
    # What the picture shows (domain.picture_spec.PictureSpec as a dict); None for scenes stored before it.
    picture_spec: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)


class VoiceSessionRow(Base):
    __tablename__ = "voice_sessions"
    __table_args__ = (
        UniqueConstraint("user_id", "request_id", name="uq_voice_sessions_user_id_request_id"),
        Index("ix_voice_sessions_user_id_create_time", "user_id", "create_time"),
    )

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    user_id: Mapped[str] = mapped_column(String(40))
    # The session's turns live in this conversation; it outlives the session.
    conversation_id: Mapped[str] = mapped_column(String(40))
    language_code: Mapped[str] = mapped_column(String(35), default="")
    voice: Mapped[str] = mapped_column(String(100), default="")
    turn_count: Mapped[int] = mapped_column(Integer, default=0)
    request_id: Mapped[str | None] = mapped_column(String(100), nullable=True)
    create_time: Mapped[dt.datetime] = mapped_column(UtcDateTime)
    last_use_time: Mapped[dt.datetime] = mapped_column(UtcDateTime)


class MemoryRow(Base):
    """One remembered exchange. Searched through `memories_fts` (an FTS5 table the migration creates on SQLite)
    or an expression GIN index on the text (PostgreSQL)."""

    __tablename__ = "memories"
    __table_args__ = (Index("ix_memories_user_id_create_time", "user_id", "create_time"),)

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    user_id: Mapped[str] = mapped_column(String(40))
    session_id: Mapped[str] = mapped_column(String(40), default="")
    user_text: Mapped[str] = mapped_column(Text)
    assistant_text: Mapped[str] = mapped_column(Text, default="")
    create_time: Mapped[dt.datetime] = mapped_column(UtcDateTime)


class MemoryEmbeddingRow(Base):
    """A memory's vector from one embedding model, as little-endian float32s. `user_id` is copied from the memory
    so that a user's vectors are read without a join."""

    __tablename__ = "memory_embeddings"
    __table_args__ = (Index("ix_memory_embeddings_user_id_model", "user_id", "model"),)

    memory_id: Mapped[str] = mapped_column(ForeignKey("memories.id", ondelete="CASCADE"), primary_key=True)
    model: Mapped[str] = mapped_column(String(100), primary_key=True)
    user_id: Mapped[str] = mapped_column(String(40))
    vector: Mapped[bytes] = mapped_column(LargeBinary)


class StageTimingRow(Base):
    """What one stage of a task kind costs, learned from finished tasks (domain/progress.py)."""

    __tablename__ = "stage_timings"

    kind: Mapped[str] = mapped_column(String(64), primary_key=True)
    stage: Mapped[str] = mapped_column(String(64), primary_key=True)
    seconds_per_unit: Mapped[float] = mapped_column(Float)
    samples: Mapped[int] = mapped_column(Integer)
    update_time: Mapped[dt.datetime] = mapped_column(UtcDateTime)


class StoryVideoRow(Base):
    """A story's video: its options, its scene clips as they are rendered (the checkpoint) and the joined video."""

    __tablename__ = "story_videos"
    __table_args__ = (
        UniqueConstraint("user_id", "request_id", name="uq_story_videos_user_id_request_id"),
        Index("ix_story_videos_story_id_create_time", "story_id", "create_time", "id"),
    )

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    user_id: Mapped[str] = mapped_column(String(40))
    story_id: Mapped[str] = mapped_column(ForeignKey("stories.id", ondelete="CASCADE"))
    state: Mapped[VideoState] = mapped_column(String(16))
    options: Mapped[dict[str, Any]] = mapped_column(JSON)
    task_id: Mapped[str] = mapped_column(String(40))
    # [{scene_index, media_id, duration_ms, poster_id, captions_id}], in scene order.
    clips: Mapped[list[Any]] = mapped_column(JSON, default=list)
    media_id: Mapped[str] = mapped_column(String(40), default="")
    poster_id: Mapped[str] = mapped_column(String(40), default="")
    captions_id: Mapped[str] = mapped_column(String(40), default="")
    duration_ms: Mapped[int] = mapped_column(Integer, default=0)
    request_id: Mapped[str | None] = mapped_column(String(100), nullable=True)
    create_time: Mapped[dt.datetime] = mapped_column(UtcDateTime)
    update_time: Mapped[dt.datetime] = mapped_column(UtcDateTime)
