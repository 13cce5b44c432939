"""messages sent: a sender's count of recent messages, taken in turn with the sender's other sends, for the statement
that stores a chat send on PostgreSQL

On PostgreSQL only (SQLite has one writer at a time: the send's claim orders the sends there). A send's quota was
two statements in a transaction (BEGIN, the sender's advisory lock, the claim that counts, COMMIT: four round trips),
because a statement counts what its snapshot, taken before it waited for the lock, holds. This function waits for
the same lock, then counts in a query of its own, which PL/pgSQL gives a snapshot of its own (a VOLATILE function's
queries each take a new one under READ COMMITTED): it sees every send that held the lock before. So the send is one
statement in autocommit, one round trip, and a replica of the version before, which takes the same lock, still
takes turns with it.

Revision ID: 0018_messages_sent
Revises: 0017_unattached_media
Create Date: 2026-12-06
"""

from __future__ import annotations

from alembic import op

revision = '0018_messages_sent'
down_revision = '0017_unattached_media'
branch_labels = None
depends_on = None

# The lock's key must match the one the version before takes (storyloom.store.conversations, up to 0017).
MESSAGES_SENT = """
CREATE FUNCTION storyloom_messages_sent(sender varchar, since timestamptz, OUT sent bigint,
                                        OUT oldest_sent timestamptz) VOLATILE LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_advisory_xact_lock(hashtextextended('storyloom.messages:' || sender, 0));
    SELECT count(*), min(create_time) INTO sent, oldest_sent FROM messages
        WHERE user_id = sender AND role = 'user' AND create_time > since;
END;
$$;
"""


def upgrade() -> None:
    if op.get_bind().dialect.name != 'postgresql':
        return
    op.execute(MESSAGES_SENT)


def downgrade() -> None:
    if op.get_bind().dialect.name != 'postgresql':
        return
    op.execute("DROP FUNCTION IF EXISTS storyloom_messages_sent(varchar, timestamptz)")
