"""Conversations, messages and reply chunks in SQL."""

from __future__ import annotations

import builtins
import dataclasses
import datetime as dt
import functools
import types
import uuid
from collections.abc import Sequence
from typing import Any, cast

from sqlalchemy import (
    ARRAY,
    ColumnElement,
    CompoundSelect,
    Integer,
    Row,
    Select,
    Table,
    Update,
    and_,
    bindparam,
    case,
    delete,
    false,
    func,
    insert,
    select,
    text,
    true,
    union_all,
    update,
)
from sqlalchemy.engine import Connection
from sqlalchemy.sql.expression import CTE

from storyloom.domain.conversations import (
    REPLY,
    Conversation,
    Message,
    MessageQuota,
    MessageState,
    QuotaExceeded,
    Sendable,
)
from storyloom.domain.reply_chunks import ReplyEnding
from storyloom.domain.requirements import Character, StoryRequirements
from storyloom.domain.tasks import NewTask, Task, TaskError, TaskEvent
from storyloom.store.db import (
    Database,
    bound_values,
    changed_rows,
    completes_when_cancelled,
    insert_rows,
    one_fetch,
    one_transaction,
    rows_as_arrays,
    unnested,
)
from storyloom.store.faults import fault_point
from storyloom.store.models import ConversationRow, MessageRow, ReplyChunkRow
from storyloom.store.pages import newest_first
from storyloom.store.pg_notifier import CHANNEL, notice, payload_prefix
from storyloom.store.procrastinate_dispatch import claimed_job_insert, claimed_job_params
from storyloom.store.tasks import (
    ended_task,
    ending_parts,
    insert_task,
    store_ending,
    store_endings,
    task_inserts,
    task_params,
)

# The conversations and messages tables, for Core statements that return their rows.
CONVERSATIONS = cast("Table", ConversationRow.__table__)
MESSAGES = cast("Table", MessageRow.__table__)
REPLY_CHUNKS = cast("Table", ReplyChunkRow.__table__)


@completes_when_cancelled
class SqlConversationRepository:
    def __init__(self, db: Database):
        self._db = db
        # On PostgreSQL a reply's chunks and its end announce the reply to every replica in the statement that
        # stores them (a NOTIFY, heard when it commits): a round trip and a statement fewer per chunk.
        self.announces_replies = not db.is_sqlite

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

    @one_fetch
    async def get(self, conversation_id: str) -> Conversation | None:
        rows = await self._db.fetch(_GET_CONVERSATION, {"conversation_id": conversation_id})
        return _conversation(rows[0]) if rows else None

    async def list(self, user_id: str, limit: int, after: tuple[dt.datetime, str] | None) -> list[Conversation]:
        query = select(ConversationRow).where(ConversationRow.user_id == user_id)
        query = newest_first(query, ConversationRow.update_time, ConversationRow.id, after, limit)
        async with self._db.begin() as session:
            return [_conversation(r) for r in await session.scalars(query)]

    @one_transaction
    async def update(self, conversation_id: str, **fields: Any) -> Conversation:
        if "requirements" in fields:
            fields["requirements"] = _requirements_json(fields["requirements"])
        params = {f"set_{name}": value for name, value in fields.items()}
        params["conversation_id"] = conversation_id
        statement = _update_statement(tuple(sorted(fields)))

        def write(connection: Connection) -> Conversation:
            row = connection.execute(statement, params).one_or_none()
            if row is None:
                raise LookupError(conversation_id)
            return _conversation(row)

        # One statement: on PostgreSQL its own transaction, one round trip where a session's BEGIN, read, UPDATE and
        # COMMIT were four (a reply restating the requirements, every few turns, waits for it before its first text).
        return await self._db.transaction(write, one_statement=True)

    async def delete(self, conversation_id: str) -> None:
        async with self._db.write() as session:
            ids = select(MessageRow.id).where(MessageRow.conversation_id == conversation_id)
            await session.execute(delete(ReplyChunkRow).where(ReplyChunkRow.message_id.in_(ids)))
            await session.execute(delete(MessageRow).where(MessageRow.conversation_id == conversation_id))
            await session.execute(delete(ConversationRow).where(ConversationRow.id == conversation_id))

    @one_transaction
    async def add_exchange(
        self, conversation_id: str, user_text: str, task: NewTask, reply_id: str, request_id: str, now: dt.datetime,
        quota: MessageQuota | None = None, title: str = "", accept: Sendable | None = None,
    ) -> tuple[Conversation, Message, Message]:
        # The messages as they will be stored, but for their user and positions, which the claim says.
        user = Message(id=uuid.uuid4().hex, conversation_id=conversation_id, user_id="", position=0,
                       role="user", text=user_text, state="COMPLETE", create_time=now)
        reply = Message(id=reply_id, conversation_id=conversation_id, user_id="", position=0, role="assistant",
                        text="", state="GENERATING", create_time=now, task_id=task.task.id)
        params: dict[str, Any] = {"conversation_id": conversation_id, "set_update_time": now, "set_title": title}
        if quota is not None:
            params.update(quota_user=quota.user_id, quota_since=quota.since)
        if not self._db.is_sqlite:
            conversation = await self._send(params, user, reply, request_id, task, quota, accept)
        else:
            def store(connection: Connection) -> Conversation:
                # Claim two positions before anything else: the UPDATE takes the write lock, so concurrent sends
                # queue here, each counting the ones before it. It returns the conversation and the user's count of
                # recent messages too: one statement where a read, a claim and a count were three.
                claimed = connection.execute(_claim_statement(quota is not None), params).one_or_none()
                if claimed is None:
                    raise LookupError(conversation_id)
                conversation = _conversation(claimed)
                if accept is not None:
                    accept(conversation)  # a refusal rolls the claim back
                if quota is not None and claimed.sent >= quota.limit:
                    raise QuotaExceeded(_utc(claimed.oldest_sent))  # leaving the transaction rolls the claim back
                position = conversation.message_count - 2
                insert_rows(connection, _INSERT_MESSAGES, [
                    _message_values(dataclasses.replace(user, user_id=conversation.user_id, position=position + 1),
                                    request_id),
                    _message_values(dataclasses.replace(reply, user_id=conversation.user_id,
                                                        position=position + 2), "")])
                fault_point("message.create")
                insert_task(connection, task)  # (its claim's event too, when it is stored claimed: one statement)
                return conversation

            conversation = await self._db.transaction(store)
        position = conversation.message_count - 2
        user = dataclasses.replace(user, user_id=conversation.user_id, position=position + 1)
        reply = dataclasses.replace(reply, user_id=conversation.user_id, position=position + 2)
        return conversation, user, reply

    async def _send(self, params: dict[str, Any], user: Message, reply: Message, request_id: str, task: NewTask,
                    quota: MessageQuota | None, accept: Sendable | None) -> Conversation:
        """add_exchange on PostgreSQL: one statement in autocommit (`_send_statement`), one round trip where BEGIN,
        the sender's lock, the exchange and COMMIT were four. It stores nothing unless the conversation takes the
        message (`accept`, checked in SQL) within `quota`, and then says why from what it returns."""
        events, task_values = task_params(task)
        params.update(task_values)
        if quota is not None:
            params["quota_limit"] = quota.limit
        if accept is not None:
            params.update(sendable_user=accept.user_id, sendable_closed=accept.closed)
        if task.reservation is not None:  # its job, running here (`ProcrastinateDispatcher.reserve`)
            params.update(claimed_job_params(task.task, task.reservation))
        for kind, message, message_request_id in (("user", user, request_id), ("reply", reply, "")):
            params.update({f"{kind}_message_{name}": value for name, value in
                           _message_values(message, message_request_id).items()})
        statement = _send_statement(quota is not None, accept is not None, events, task.reservation is not None)

        for last_try in (False, True):
            fault_point("message.create")  # (before the one statement that stores all of it, or nothing)
            rows = await self._db.direct(statement, params)
            stored = [row for row in rows if row.stored]
            if stored:
                return _conversation(stored[0])
            if not rows:
                break
            # Refused: why, as the conversation was when the statement began.
            found = rows[0]
            if accept is not None:
                accept(_conversation(found))
            if quota is not None and found.sent >= quota.limit:
                raise QuotaExceeded(_utc(found.oldest_sent))
            # The conversation changed meanwhile (archived, deleted, ...): once more, to see it as it is now.
            if last_try:
                break
        raise LookupError(params["conversation_id"])

    @one_fetch
    async def find_by_request(self, user_id: str, request_id: str) -> tuple[Message, Message] | None:
        rows = await self._db.fetch(_FIND_BY_REQUEST, {"user_id": user_id, "request_id": request_id})
        return (_message(rows[0]), _message(rows[1])) if len(rows) == 2 else None

    async def get_message(self, message_id: str, *, with_text: bool = True) -> Message | None:
        rows = await self._db.fetch(_GET_MESSAGE, {"message_id": message_id})
        if not rows:
            return None
        return (await self._with_chunks([_message(rows[0])]))[0] if with_text else _message(rows[0])

    async def messages(self, conversation_id: str, *, limit: int,
                       before_position: int | None) -> builtins.list[Message]:
        # (Each read on its own, as `fetch` does it: one round trip on PostgreSQL, where a session's took three.)
        rows = await self._db.fetch(_MESSAGES if before_position is None else _MESSAGES_BEFORE, {
            "conversation_id": conversation_id, "limit": limit, "before_position": before_position})
        return await self._with_chunks([_message(row) for row in rows])

    async def _with_chunks(self, messages: builtins.list[Message]) -> builtins.list[Message]:
        """The messages, each reply still GENERATING with its text and chunk count so far from its stored chunks
        (its row's text is only written when it finishes), in one more read if there is any."""
        generating = [m.id for m in messages if m.state == "GENERATING"]
        if not generating:
            return messages
        texts: dict[str, builtins.list[str]] = {}
        for row in await self._db.fetch(_CHUNKS_OF, {"message_ids": generating}):
            texts.setdefault(row.message_id, []).append(row.text)
        return [dataclasses.replace(m, text="".join(texts.get(m.id, ())), chunk_count=len(texts.get(m.id, ())))
                if m.state == "GENERATING" else m for m in messages]

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

    @one_transaction
    async def append_chunks(self, chunks: Sequence[tuple[str, int, str]],
                            endings: Sequence[ReplyEnding] = ()) -> builtins.list[Message]:
        if not chunks and not endings:
            return []
        announced = self.announces_replies
        if announced and len(endings) == 1:
            return [await self._end_with_chunks(chunks, endings[0])]
        if announced and not endings:  # one INSERT ... SELECT FROM unnest, with the notice of each reply
            message_ids, indexes, texts = (list(column) for column in zip(*chunks, strict=True))
            await self._db.direct(_INSERT_CHUNKS_ANNOUNCED_UNFLUSHED,
                                  {"message_ids": message_ids, "indexes": indexes, "texts": texts})
            return []
        task_ends = [ending.task for ending in endings if ending.task is not None]

        def append(connection: Connection) -> tuple[builtins.list[Message],
                                                    builtins.list[tuple[Task, TaskEvent] | None]]:
            if chunks and announced:  # one INSERT ... SELECT FROM unnest, with the notice of each reply
                message_ids, indexes, texts = (list(column) for column in zip(*chunks, strict=True))
                connection.execute(_INSERT_CHUNKS_ANNOUNCED,
                                   {"message_ids": message_ids, "indexes": indexes, "texts": texts})
            elif chunks:
                insert_rows(connection, _INSERT_CHUNKS, [{"message_id": message_id, "seq": index, "text": text}
                                                         for message_id, index, text in chunks])
            if len(endings) > 1:  # a burst: the replies' ends in one statement, their tasks' in one a shape
                return _finish_all(connection, endings, announced), store_endings(connection, task_ends, announced)
            # At most one reply's end is left, and only on SQLite (PostgreSQL's lone end is `_end_with_chunks`). Its
            # task's end is fenced by its claim (refused, it refuses nothing else), told after the commit.
            finals = [_finish(connection, ending, announced=announced) for ending in endings]
            return finals, [store_ending(connection, ending.task, with_event=announced)
                            for ending in endings if ending.task is not None]

        finals, outcomes = await self._db.transaction(append, one_statement=not endings)
        for task_end, outcome in zip(task_ends, outcomes, strict=True):
            task_end.settle(outcome)
        return finals

    async def _end_with_chunks(self, chunks: Sequence[tuple[str, int, str]], ending: ReplyEnding) -> Message:
        """append_chunks of one ending on PostgreSQL: the chunks, the reply's end and its task's, their events and
        notices in one statement (`_end_reply`) in autocommit, one round trip where BEGIN, the chunks, the ends and
        COMMIT were four. All of it or nothing, as in a transaction: nothing is stored if the reply is gone
        (LookupError); the task's end is refused alone (its fence: settled None)."""
        final, outcome = await self._db.transaction(lambda connection: _end_reply(connection, ending, chunks),
                                                    one_statement=True)
        if ending.task is not None:
            ending.task.settle(outcome)
        return final

    async def chunks(self, message_id: str, after_index: int) -> builtins.list[str]:
        async with self._db.begin() as session:
            rows = await session.scalars(select(ReplyChunkRow.text).where(
                ReplyChunkRow.message_id == message_id, ReplyChunkRow.seq > after_index).order_by(ReplyChunkRow.seq))
            return list(rows)

    @one_transaction
    async def finish_message(self, message_id: str, *, state: MessageState, finish_reason: str, input_tokens: int,
                             output_tokens: int, error: TaskError | None,
                             stored: Sequence[str] | None = None) -> Message:
        def finish(connection: Connection) -> Message:
            # The text is assembled once, here, from the chunks (append-only while the reply was written), unless
            # the writer knows them.
            texts = list(stored) if stored is not None else list(connection.scalars(
                select(ReplyChunkRow.text).where(ReplyChunkRow.message_id == message_id).order_by(ReplyChunkRow.seq)))
            return _finish(connection, ReplyEnding(message_id, state, finish_reason, input_tokens, output_tokens,
                                                   error, chunks=tuple(texts)), announced=self.announces_replies)

        # With the chunks known, the end is one statement: on PostgreSQL its own transaction, one round trip.
        return await self._db.transaction(finish, one_statement=stored is not None)

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


def _finish(connection: Connection, ending: ReplyEnding, *, announced: bool) -> Message:
    """Ends the reply (but not its task), its text and chunk count those of `ending.chunks` (all its chunks), with
    its notice when `announced` (the repository's `announces_replies`); LookupError if it is gone."""
    statement = _ending_statement(None, False) if announced else _FINISH_MESSAGE
    row = connection.execute(statement, _finished_params(ending)).one_or_none()
    if row is None:
        raise LookupError(ending.message_id)
    return _message(row)


def _finish_all(connection: Connection, endings: Sequence[ReplyEnding], announced: bool) -> builtins.list[Message]:
    """`_finish` of several replies, in order, where each was an UPDATE ... RETURNING of its own (about 0.1 ms of
    SQLAlchemy's execution on the event loop each, and on PostgreSQL a round trip): under a burst a transaction of
    the chunk writer ends tens of replies. `announced` (PostgreSQL): one UPDATE of them all, from arrays, returning
    them with their notices; else (SQLite) one UPDATE run for each (an executemany) and one read back. LookupError if
    any is gone (the caller's transaction then stores nothing, as with `_finish`)."""
    params = [_finished_params(ending) for ending in endings]
    if announced:
        rows = {row.id: row for row in connection.execute(
            _FINISH_ALL_ANNOUNCED, rows_as_arrays("ended", params, ("message_id", *_FINISHED_PARAMS)))}
    elif connection.execute(_FINISH_MESSAGES, params).rowcount == len(endings):
        rows = {row.id: row for row in connection.execute(
            _MESSAGES_BY_ID, {"message_ids": [ending.message_id for ending in endings]})}
    else:
        rows = {}
    if len(rows) != len(endings):
        raise LookupError(", ".join(ending.message_id for ending in endings if ending.message_id not in rows))
    return [_message(rows[ending.message_id]) for ending in endings]


def _end_reply(connection: Connection, ending: ReplyEnding, chunks: Sequence[tuple[str, int, str]] = (),
               ) -> tuple[Message, tuple[Task, TaskEvent] | None]:
    """On PostgreSQL, one statement (`_ending_statement`) with its notices: the reply's end, its task's end with its
    event, and the chunks due (any replies'), all of it only if the reply is there (else LookupError, nothing
    stored). The task's end is refused alone (its fence, or no such task: then the outcome is None)."""
    task_parts = None
    params: dict[str, Any] = {}
    if ending.task is not None:
        updated, event, params = ending_parts(ending.task, only_if=_REPLY_FOUND)
        task_parts = (updated, event)
    params.update(_finished_params(ending))
    if chunks:
        message_ids, indexes, texts = (list(column) for column in zip(*chunks, strict=True))
        params.update(chunk_message_ids=message_ids, chunk_indexes=indexes, chunk_texts=texts)
    row = connection.execute(_ending_statement(task_parts, bool(chunks)), params).one_or_none()
    if row is None:
        raise LookupError(ending.message_id)
    outcome = ended_task(ending.task, _ended_row(row)) if ending.task is not None else None
    return _message(row), outcome


def _finished_params(ending: ReplyEnding) -> dict[str, Any]:
    """The parameters of `_FINISH_MESSAGE` (and `_FINISHED`)."""
    return {"message_id": ending.message_id, "reply_state": ending.state,
            "reply_finish_reason": ending.finish_reason, "reply_input_tokens": ending.input_tokens,
            "reply_output_tokens": ending.output_tokens,
            "reply_error": dataclasses.asdict(ending.error) if ending.error else None,
            "reply_text": "".join(ending.chunks), "reply_chunk_count": len(ending.chunks)}


def _ended_row(row: Row[Any]) -> Any:
    """The task's row as a statement of `_ended_columns` returned it (attributes of its columns), None if its end
    was refused."""
    fields = row._mapping
    return (None if fields["ended_id"] is None else
            types.SimpleNamespace(**{key.removeprefix("ended_"): value for key, value in fields.items()
                                     if key.startswith("ended_")}))


def _ended_columns(updated: CTE) -> list[ColumnElement[Any]]:
    """The columns of a task's row as `ending_parts` ended it (`ended_...`, null if refused), and its notice if it
    ended."""
    task_notice = select(notice("task", updated.c.id)).scalar_subquery()
    return [*(column.label(f"ended_{column.key}") for column in updated.c), task_notice.label("task_notice")]


@functools.cache
def _ending_statement(task_end: tuple[CTE, CTE] | None, with_chunks: bool) -> Select[Any]:
    """`_end_reply`'s statement, built once per shape of the task's end (`ending_parts` under `_REPLY_FOUND`, or
    none) and whether there are chunks: the chunks (`chunk_message_ids`, `chunk_indexes`, `chunk_texts`: any
    replies') and the task's end stored only if the reply's row is there to end (`_FINISHED`). It returns the
    reply's row as finished, and the task's (`_ended_columns`), and the notices in the order a transaction sent
    them: the chunks' replies (a column first), the reply's, the task's."""
    columns: list[ColumnElement[Any]] = []
    if with_chunks:
        chunk = func.unnest(
            bindparam("chunk_message_ids", type_=ARRAY(REPLY_CHUNKS.c.message_id.type)),
            bindparam("chunk_indexes", type_=ARRAY(REPLY_CHUNKS.c.seq.type)),
            bindparam("chunk_texts", type_=ARRAY(REPLY_CHUNKS.c.text.type)),
        ).table_valued("message_id", "seq", "text").render_derived("chunk")
        # (A notice per chunk: a batch holds one chunk a reply, and a transaction sends a notice once anyway.)
        stored = (insert(REPLY_CHUNKS).from_select(["message_id", "seq", "text"], select(chunk).where(_REPLY_FOUND))
                  .returning(notice(REPLY, REPLY_CHUNKS.c.message_id)).cte("stored_chunks"))
        columns.append(select(func.count()).select_from(stored).scalar_subquery().label("chunk_notices"))
    columns += [*_FINISHED.c, notice(REPLY, _FINISHED.c.id).label("reply_notice")]
    if task_end is None:
        return select(*columns)
    updated, event = task_end
    return (select(*columns, *_ended_columns(updated))
            .select_from(_FINISHED.outerjoin(updated, true())).add_cte(event))


@functools.cache
def _update_statement(columns: tuple[str, ...]) -> Update:
    """`update`'s UPDATE of these columns (from `set_<column>`), returning the row, built once per set of columns."""
    return (update(CONVERSATIONS).where(CONVERSATIONS.c.id == bindparam("conversation_id"))
            .values(bound_values(CONVERSATIONS, *columns)).returning(*CONVERSATIONS.c))


@functools.cache
def _claim_statement(with_quota: bool) -> Update:
    """add_exchange's claim of two positions on SQLite, built once: it returns the conversation and, `with_quota`, how
    many messages the quota's user sent since its start and when the oldest of them was sent (scalar subqueries).
    (On PostgreSQL a statement's subqueries count what its snapshot holds, taken before it waited for the claim:
    `_send_statement`.)"""
    returned: list[ColumnElement[Any]] = [*CONVERSATIONS.c]
    if with_quota:
        recent = (MESSAGES.c.user_id == bindparam("quota_user"), MESSAGES.c.role == "user",
                  MESSAGES.c.create_time > bindparam("quota_since", type_=MESSAGES.c.create_time.type))
        returned += [select(func.count()).where(*recent).scalar_subquery().label("sent"),
                     select(func.min(MESSAGES.c.create_time)).where(*recent).scalar_subquery().label("oldest_sent")]
    title = CONVERSATIONS.c.title
    return (update(CONVERSATIONS).where(CONVERSATIONS.c.id == bindparam("conversation_id"))
            .values(message_count=CONVERSATIONS.c.message_count + 2,
                    **bound_values(CONVERSATIONS, "update_time"),
                    title=case((title == "", bindparam("set_title", type_=title.type)), else_=title))
            .returning(*returned))


@functools.cache
def _send_statement(with_quota: bool, with_sendable: bool, events: int,
                    claimed_job: bool) -> CompoundSelect[Any]:
    """add_exchange in one statement, for PostgreSQL in autocommit: the claim of two positions (as
    `_claim_statement`) and the inserts, all of them only if the conversation takes the message (its user's and not
    closed: `sendable_user`, `sendable_closed`, `with_sendable`) and, `with_quota`, the quota's user sent fewer than
    `quota_limit` messages since `quota_since`, counted after the sends before it of that user, whichever replica
    took them (`storyloom_messages_sent`, migration 0018: it waits for them). The inserts: the user's message and the
    empty reply (`_message_values` but for the columns the claim gives: the conversation, its user and the two
    positions claimed), the reply's task with its `events` first events (`task_inserts`), and with `claimed_job` the
    job of a task stored claimed (`claimed_job_insert`).

    It returns the claimed conversation (`stored` true) if stored, and the conversation as it was when the statement
    began (`stored` false), each with the quota's count (`sent`, `oldest_sent`) `with_quota`: no row if there is no
    such conversation."""
    conditions: list[ColumnElement[bool]] = []
    counts: list[ColumnElement[Any]] = []
    quota = None
    if with_quota:
        counted = func.storyloom_messages_sent(
            bindparam("quota_user", type_=MESSAGES.c.user_id.type),
            bindparam("quota_since", type_=MESSAGES.c.create_time.type)).table_valued("sent", "oldest_sent")
        quota = select(counted.c.sent, counted.c.oldest_sent).cte("quota")
        conditions.append(select(quota.c.sent).scalar_subquery() < bindparam("quota_limit", type_=Integer))
        counts = [quota.c.sent, quota.c.oldest_sent]
    if with_sendable:
        conditions += [CONVERSATIONS.c.user_id == bindparam("sendable_user", type_=CONVERSATIONS.c.user_id.type),
                       CONVERSATIONS.c.status != bindparam("sendable_closed", type_=CONVERSATIONS.c.status.type)]
    claimed = _claim_statement(False).where(*conditions).cte("claimed")
    columns = [column for column in MESSAGES.c if column.key in _MESSAGE_COLUMNS]

    def message(kind: str, position: ColumnElement[Any]) -> Select[Any]:
        from_claim = {"conversation_id": claimed.c.id, "user_id": claimed.c.user_id, "position": position}
        return select(*(from_claim.get(column.key, bindparam(f"{kind}_message_{column.key}", type_=column.type))
                        for column in columns))

    messages = insert(MESSAGES).from_select([column.key for column in columns], union_all(
        message("user", claimed.c.message_count - 1), message("reply", claimed.c.message_count)))
    was_claimed = select(claimed.c.id).exists()
    task, first_events = task_inserts(events, was_claimed)
    inserts = [messages.cte("messages"), task.cte("task"), first_events.cte("first_events")]
    if claimed_job:
        inserts.append(claimed_job_insert(was_claimed).cte("job"))
    stored = select(true().label("stored"), *claimed.c, *counts)
    found = select(false().label("stored"), *CONVERSATIONS.c, *counts).where(
        CONVERSATIONS.c.id == bindparam("conversation_id"))
    if quota is not None:
        stored = stored.select_from(claimed.join(quota, true()))
        found = found.select_from(CONVERSATIONS.join(quota, true()))
    return union_all(stored, found).add_cte(*inserts)


# The reads of a send with a request id, built once (see `Database.fetch`): the conversation, and the message sent
# with that request id with the reply after it (the two, in order, or fewer: then there is no such exchange).
_GET_CONVERSATION = select(CONVERSATIONS).where(CONVERSATIONS.c.id == bindparam("conversation_id"))
_SENT = (select(MESSAGES.c.conversation_id, MESSAGES.c.position)
         .where(MESSAGES.c.user_id == bindparam("user_id"), MESSAGES.c.request_id == bindparam("request_id"))
         .subquery("sent"))
_FIND_BY_REQUEST = (select(MESSAGES).join(_SENT, and_(MESSAGES.c.conversation_id == _SENT.c.conversation_id,
                                                       MESSAGES.c.position.in_((_SENT.c.position,
                                                                                _SENT.c.position + 1))))
                    .order_by(MESSAGES.c.position))


# The reads of messages, built once: one, a conversation's newest (before a position), and the chunks of replies.
_GET_MESSAGE = select(MESSAGES).where(MESSAGES.c.id == bindparam("message_id"))
_MESSAGES = (select(MESSAGES).where(MESSAGES.c.conversation_id == bindparam("conversation_id"))
             .order_by(MESSAGES.c.position.desc()).limit(bindparam("limit", type_=Integer)))
_MESSAGES_BEFORE = _MESSAGES.where(MESSAGES.c.position < bindparam("before_position", type_=MESSAGES.c.position.type))
_CHUNKS_OF = (select(REPLY_CHUNKS.c.message_id, REPLY_CHUNKS.c.text)
              .where(REPLY_CHUNKS.c.message_id.in_(bindparam("message_ids", expanding=True)))
              .order_by(REPLY_CHUNKS.c.message_id, REPLY_CHUNKS.c.seq))


# The other writes of a chat reply, built once (see `bound_values`; the inserts run by `insert_rows`).
_INSERT_MESSAGES = insert(MESSAGES)
_INSERT_CHUNKS = insert(REPLY_CHUNKS)
_FINISHED_COLUMNS = ("state", "finish_reason", "input_tokens", "output_tokens", "error", "text", "chunk_count")
# A reply's end (`_finished_params`: its values from `reply_<column>`, for a task's end in the same statement sets
# columns of the same names), and as a CTE for statements that end more with it, with whether there is one. Several
# replies' ends (`_finish_all`): the UPDATE without RETURNING (run for many at once), and the read back.
_FINISH_MESSAGES = (update(MESSAGES).where(MESSAGES.c.id == bindparam("message_id"))
                    .values({name: bindparam(f"reply_{name}", type_=MESSAGES.c[name].type)
                             for name in _FINISHED_COLUMNS}))
_FINISH_MESSAGE = _FINISH_MESSAGES.returning(*MESSAGES.c)
_MESSAGES_BY_ID = select(MESSAGES).where(MESSAGES.c.id.in_(bindparam("message_ids", expanding=True)))
# PostgreSQL: several replies' ends from arrays (`unnested`), with their notices.
_FINISHED_PARAMS = tuple(f"reply_{name}" for name in _FINISHED_COLUMNS)
_ENDED = unnested("ended", [("message_id", MESSAGES.c.id.type),
                            *((f"reply_{name}", MESSAGES.c[name].type) for name in _FINISHED_COLUMNS)])
_FINISH_ALL_ANNOUNCED = (update(MESSAGES).where(MESSAGES.c.id == _ENDED.c.message_id)
                         .values({name: _ENDED.c[f"reply_{name}"] for name in _FINISHED_COLUMNS})
                         .returning(*MESSAGES.c, notice(REPLY, MESSAGES.c.id)))
# PostgreSQL: the chunks of every reply due, and a notice of each reply, in one statement.
_CHUNKS_ANNOUNCED = (
    "WITH stored AS (INSERT INTO reply_chunks (message_id, seq, text) "
    "SELECT * FROM unnest(CAST(:message_ids AS varchar[]), CAST(:indexes AS integer[]), CAST(:texts AS text[])) "
    "{unflushed}RETURNING message_id) "
    "SELECT pg_notify(:channel, :prefix || message_id) FROM (SELECT DISTINCT message_id FROM stored) AS replies")
_INSERT_CHUNKS_ANNOUNCED = text(_CHUNKS_ANNOUNCED.format(unflushed="")).bindparams(
    channel=CHANNEL, prefix=payload_prefix(REPLY))
# The same as a transaction of its own (autocommit) that commits without waiting for the WAL's flush
# (`synchronous_commit` off for this transaction only: `set_config`'s local setting, read at its commit): committed,
# so seen by every replica and kept through a crash of ours before it is announced, but lost if the PostgreSQL server
# itself crashes within ~0.6 s (3 x wal_writer_delay), as SQLite's `synchronous=NORMAL` loses its last commits to a
# power loss. Only chunks of a reply still being written: its end, its send and everything else wait for the flush
# (and a later flush covers these). The flush was most of a chunk's statement: p50 0.71-1.22 -> 0.37-0.54 ms.
_INSERT_CHUNKS_ANNOUNCED_UNFLUSHED = text(_CHUNKS_ANNOUNCED.format(
    unflushed="WHERE set_config('synchronous_commit', 'off', true) IS NOT NULL ")).bindparams(
    channel=CHANNEL, prefix=payload_prefix(REPLY))
_FINISHED = _FINISH_MESSAGE.cte("finished")
_REPLY_FOUND = select(_FINISHED.c.id).exists()


def _utc(value: Any) -> dt.datetime | None:
    """A time read outside its column's type (an aggregate, on SQLite: text)."""
    if value is None or isinstance(value, dt.datetime):
        return value
    return dt.datetime.fromisoformat(str(value)).replace(tzinfo=dt.UTC)


# The fields of a Message stored in the column of the same name; with `request_id`, the columns `_message_values` sets.
_MESSAGE_FIELDS = ("id", "conversation_id", "user_id", "position", "role", "text", "state", "finish_reason",
                   "input_tokens", "output_tokens", "task_id", "chunk_count", "create_time")
_MESSAGE_COLUMNS = (*_MESSAGE_FIELDS, "request_id")


def _message_values(message: Message, request_id: str) -> dict[str, Any]:
    """A message's columns for a Core insert, mapped from the domain object as `tasks._task_values` maps a task. Not
    `db._insert_values`, which reads the columns off an ORM row (what `insert_once` takes): a MessageRow made only to
    be read back would need this same mapping for its arguments, and cost the send an ORM object per message."""
    return {**{name: getattr(message, name) for name in _MESSAGE_FIELDS}, "request_id": request_id or None}


def _requirements_json(requirements: StoryRequirements | None) -> dict[str, Any] | None:
    return dataclasses.asdict(requirements) if requirements is not None else None


def requirements_from_json(data: dict[str, Any]) -> StoryRequirements:
    values = dict(data)
    values["characters"] = tuple(Character(**c) for c in values.get("characters", ()))
    known = {f.name for f in dataclasses.fields(StoryRequirements)}
    return StoryRequirements(**{k: v for k, v in values.items() if k in known})


def _conversation(row: ConversationRow | Row[Any]) -> Conversation:
    return Conversation(
        id=row.id, user_id=row.user_id, title=row.title, status=row.status,
        message_count=row.message_count, create_time=row.create_time, update_time=row.update_time,
        requirements=requirements_from_json(row.requirements) if row.requirements is not None else None,
        summary=row.summary, summary_covers=row.summary_covers)


def _message(row: MessageRow | Row[Any]) -> Message:
    return Message(
        id=row.id, conversation_id=row.conversation_id, user_id=row.user_id, position=row.position,
        role=row.role, text=row.text, state=row.state, create_time=row.create_time,
        finish_reason=row.finish_reason, input_tokens=row.input_tokens, output_tokens=row.output_tokens,
        task_id=row.task_id, chunk_count=row.chunk_count, error=TaskError(**row.error) if row.error else None)
