"""Conversations, messages and reply chunks in SQL."""

from __future__ import annotations

import builtins
import dataclasses
import datetime as dt
import uuid
from collections.abc import Sequence
from typing import Any

from sqlalchemy import case, delete, func, insert, select, text, update
from sqlalchemy.ext.asyncio import AsyncSession

from storyloom.domain.conversations import Conversation, Message, MessageQuota, MessageState, QuotaExceeded
from storyloom.domain.requirements import Character, StoryRequirements
from storyloom.domain.tasks import NewTask, TaskError
from storyloom.store.db import Database, changed_rows, completes_when_cancelled
from storyloom.store.faults import fault_point
from storyloom.store.models import ConversationRow, MessageRow, ReplyChunkRow
from storyloom.store.pages import newest_first
from storyloom.store.tasks import task_rows


@completes_when_cancelled
class SqlConversationRepository:
    def __init__(self, db: Database):
        self._db = db

    async def create(self, conversation: Conversation, request_id: str) -> Conversation:
        existing = await self._db.insert_once([ConversationRow(
            id=conversation.id, user_id=conversation.user_id, title=conversation.title,
            status=conversation.status, message_count=0, requirements=None, summary="", summary_covers=0,
            request_id=request_id or None, create_time=conversation.create_time,
            update_time=conversation.update_time)], request_id)
        if existing is None:
            return conversation
        found = await self.get(existing)
        assert found is not None
        return found

    async def get(self, conversation_id: str) -> Conversation | None:
        async with self._db.begin() as session:
            row = await session.get(ConversationRow, conversation_id)
            return _conversation(row) if row else None

    async def list(self, user_id: str, limit: int, after: tuple[dt.datetime, str] | None) -> list[Conversation]:
        query = select(ConversationRow).where(ConversationRow.user_id == user_id)
        query = newest_first(query, ConversationRow.update_time, ConversationRow.id, after, limit)
        async with self._db.begin() as session:
            return [_conversation(r) for r in await session.scalars(query)]

    async def update(self, conversation_id: str, **fields: Any) -> Conversation:
        if "requirements" in fields:
            fields["requirements"] = _requirements_json(fields["requirements"])
        async with self._db.write() as session:
            row = await session.get(ConversationRow, conversation_id)
            if row is None:
                raise LookupError(conversation_id)
            for key, value in fields.items():
                setattr(row, key, value)
            return _conversation(row)

    async def delete(self, conversation_id: str) -> None:
        async with self._db.write() as session:
            ids = select(MessageRow.id).where(MessageRow.conversation_id == conversation_id)
            await session.execute(delete(ReplyChunkRow).where(ReplyChunkRow.message_id.in_(ids)))
            await session.execute(delete(MessageRow).where(MessageRow.conversation_id == conversation_id))
            await session.execute(delete(ConversationRow).where(ConversationRow.id == conversation_id))

    async def add_exchange(
        self, conversation_id: str, user_text: str, task: NewTask, reply_id: str, request_id: str, now: dt.datetime,
        quota: MessageQuota | None = None, title: str = "",
    ) -> tuple[Message, Message]:
        async with self._db.write() as session:
            if quota is not None and not self._db.is_sqlite:
                # The user's sends take turns from here to the commit, on every replica, so each counts the ones
                # before it. (SQLite has one writer at a time: the UPDATE below already orders them.)
                await session.execute(text("SELECT pg_advisory_xact_lock(hashtextextended(:key, 0))"),
                                      {"key": f"storyloom.messages:{quota.user_id}"})
            # Claim two positions before reading: the UPDATE takes the row lock on PostgreSQL and
            # the write lock on SQLite, so concurrent sends to one conversation queue here.
            claimed = (await session.execute(
                update(ConversationRow).where(ConversationRow.id == conversation_id)
                .values(message_count=ConversationRow.message_count + 2, update_time=now,
                        title=case((ConversationRow.title == "", title), else_=ConversationRow.title))
                .returning(ConversationRow.user_id, ConversationRow.message_count)
                .execution_options(synchronize_session=False))).one_or_none()
            if claimed is None:
                raise LookupError(conversation_id)
            owner, message_count = claimed
            if quota is not None:
                count, oldest = await _count_user_messages(session, quota.user_id, quota.since)
                if count >= quota.limit:
                    raise QuotaExceeded(oldest)  # leaving the transaction rolls the claim back
            position = message_count - 2
            user = MessageRow(id=uuid.uuid4().hex, conversation_id=conversation_id, user_id=owner,
                              position=position + 1, role="user", text=user_text, state="COMPLETE",
                              finish_reason="", input_tokens=0, output_tokens=0, task_id="", chunk_count=0,
                              request_id=request_id or None, create_time=now)
            reply = MessageRow(id=reply_id, conversation_id=conversation_id, user_id=owner,
                               position=position + 2, role="assistant", text="", state="GENERATING",
                               finish_reason="", input_tokens=0, output_tokens=0, task_id=task.task.id, chunk_count=0,
                               request_id=None, create_time=now)
            session.add_all([user, reply])
            await session.flush()
            fault_point("message.create")
            task_row, *event_rows = task_rows(task)
            session.add(task_row)
            await session.flush()  # the task first, so it is there before its events refer to it
            session.add_all(event_rows)  # (its claim's event too, when it is stored claimed: one statement)
            await session.flush()
            return _message(user), _message(reply)

    async def find_by_request(self, user_id: str, request_id: str) -> tuple[Message, Message] | None:
        async with self._db.begin() as session:
            user = await session.scalar(
                select(MessageRow).where(MessageRow.user_id == user_id, MessageRow.request_id == request_id))
            if user is None:
                return None
            reply = await session.scalar(select(MessageRow).where(
                MessageRow.conversation_id == user.conversation_id, MessageRow.position == user.position + 1))
            return (_message(user), _message(reply)) if reply else None

    async def get_message(self, message_id: str, *, with_text: bool = True) -> Message | None:
        async with self._db.begin() as session:
            row = await session.get(MessageRow, message_id)
            if row is None:
                return None
            return (await _with_chunks(session, [_message(row)]))[0] if with_text else _message(row)

    async def messages(self, conversation_id: str, *, limit: int,
                       before_position: int | None) -> builtins.list[Message]:
        query = select(MessageRow).where(MessageRow.conversation_id == conversation_id)
        if before_position is not None:
            query = query.where(MessageRow.position < before_position)
        query = query.order_by(MessageRow.position.desc()).limit(limit)
        async with self._db.begin() as session:
            return await _with_chunks(session, [_message(r) for r in await session.scalars(query)])

    async def append_chunk(self, message_id: str, text: str) -> int:
        async with self._db.write() as session:
            # Claim the chunk's number first, as in add_exchange.
            claimed = await changed_rows(session, update(MessageRow).where(MessageRow.id == message_id)
                                         .values(chunk_count=MessageRow.chunk_count + 1, text=MessageRow.text + text)
                                         .execution_options(synchronize_session=False))
            if claimed != 1:
                raise LookupError(message_id)
            seq = await session.scalar(select(MessageRow.chunk_count).where(MessageRow.id == message_id))
            session.add(ReplyChunkRow(message_id=message_id, seq=seq, text=text))
            return int(seq or 0)

    async def append_chunks(self, chunks: Sequence[tuple[str, int, str]]) -> None:
        if not chunks:
            return
        async with self._db.write() as session:
            await session.execute(insert(ReplyChunkRow), [
                {"message_id": message_id, "seq": index, "text": text} for message_id, index, text in chunks])

    async def chunks(self, message_id: str, after_index: int) -> builtins.list[str]:
        async with self._db.begin() as session:
            rows = await session.scalars(select(ReplyChunkRow.text).where(
                ReplyChunkRow.message_id == message_id, ReplyChunkRow.seq > after_index).order_by(ReplyChunkRow.seq))
            return list(rows)

    async def finish_message(self, message_id: str, *, state: MessageState, finish_reason: str, input_tokens: int,
                             output_tokens: int, error: TaskError | None,
                             stored: Sequence[str] | None = None) -> Message:
        async with self._db.write() as session:
            # The text is assembled once, here, from the chunks (append-only while the reply was written), unless
            # the writer knows them.
            texts = list(stored) if stored is not None else list(await session.scalars(
                select(ReplyChunkRow.text).where(ReplyChunkRow.message_id == message_id).order_by(ReplyChunkRow.seq)))
            row = await session.scalar(update(MessageRow).where(MessageRow.id == message_id).values(
                state=state, finish_reason=finish_reason, input_tokens=input_tokens, output_tokens=output_tokens,
                error=dataclasses.asdict(error) if error else None, text="".join(texts), chunk_count=len(texts))
                .returning(MessageRow))
            if row is None:
                raise LookupError(message_id)
            return _message(row)

    async def cut_message(self, message_id: str, text: str) -> Message:
        async with self._db.write() as session:
            await session.execute(delete(ReplyChunkRow).where(ReplyChunkRow.message_id == message_id))
            if text:
                session.add(ReplyChunkRow(message_id=message_id, seq=1, text=text))
            await session.execute(update(MessageRow).where(MessageRow.id == message_id).values(
                text=text, chunk_count=1 if text else 0, state="CUT", finish_reason="CANCELLED", error=None))
            row = await session.get(MessageRow, message_id, populate_existing=True)
            if row is None:
                raise LookupError(message_id)
            return _message(row)

    async def generating(self) -> builtins.list[Message]:
        async with self._db.begin() as session:
            rows = await session.scalars(select(MessageRow).where(MessageRow.state == "GENERATING"))
            return [_message(r) for r in rows]


async def _with_chunks(session: AsyncSession, messages: builtins.list[Message]) -> builtins.list[Message]:
    """The messages, each reply still GENERATING with its text and chunk count so far from its stored chunks
    (its row's text is only written when it finishes), in one more statement if there is any."""
    generating = [m.id for m in messages if m.state == "GENERATING"]
    if not generating:
        return messages
    texts: dict[str, builtins.list[str]] = {}
    for message_id, chunk in await session.execute(
            select(ReplyChunkRow.message_id, ReplyChunkRow.text).where(ReplyChunkRow.message_id.in_(generating))
            .order_by(ReplyChunkRow.message_id, ReplyChunkRow.seq)):
        texts.setdefault(message_id, []).append(chunk)
    return [dataclasses.replace(m, text="".join(texts.get(m.id, ())), chunk_count=len(texts.get(m.id, ())))
            if m.state == "GENERATING" else m for m in messages]


async def _count_user_messages(session: AsyncSession, user_id: str,
                               since: dt.datetime) -> tuple[int, dt.datetime | None]:
    """How many messages the user sent since `since`, and when the oldest of them was sent."""
    count, oldest = (await session.execute(
        select(func.count(), func.min(MessageRow.create_time)).where(
            MessageRow.user_id == user_id, MessageRow.role == "user", MessageRow.create_time > since))).one()
    if oldest is not None and oldest.tzinfo is None:  # aggregates bypass the column type on SQLite
        oldest = dt.datetime.fromisoformat(str(oldest)).replace(tzinfo=dt.UTC)
    return int(count), oldest


def _requirements_json(requirements: StoryRequirements | None) -> dict[str, Any] | None:
    return dataclasses.asdict(requirements) if requirements is not None else None


def requirements_from_json(data: dict[str, Any]) -> StoryRequirements:
    values = dict(data)
    values["characters"] = tuple(Character(**c) for c in values.get("characters", ()))
    known = {f.name for f in dataclasses.fields(StoryRequirements)}
    return StoryRequirements(**{k: v for k, v in values.items() if k in known})


def _conversation(row: ConversationRow) -> Conversation:
    return Conversation(
        id=row.id, user_id=row.user_id, title=row.title, status=row.status,
        message_count=row.message_count, create_time=row.create_time, update_time=row.update_time,
        requirements=requirements_from_json(row.requirements) if row.requirements is not None else None,
        summary=row.summary, summary_covers=row.summary_covers)


def _message(row: MessageRow) -> Message:
    return Message(
        id=row.id, conversation_id=row.conversation_id, user_id=row.user_id, position=row.position,
        role=row.role, text=row.text, state=row.state, create_time=row.create_time,
        finish_reason=row.finish_reason, input_tokens=row.input_tokens, output_tokens=row.output_tokens,
        task_id=row.task_id, chunk_count=row.chunk_count, error=TaskError(**row.error) if row.error else None)
