"""Alembic environment: runs on the connection Database.migrate passes in."""

from __future__ import annotations

from alembic import context

from storyloom.store.models import Base

connection = context.config.attributes.get("connection")
if connection is None:
    raise RuntimeError("run migrations through storyloom.store.db.Database.migrate (or `storyloom migrate`)")

context.configure(connection=connection, target_metadata=Base.metadata, render_as_batch=True)
with context.begin_transaction():
    context.run_migrations()
