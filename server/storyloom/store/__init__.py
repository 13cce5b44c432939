"""Storage: SQLAlchemy models and repositories (SQLite by default, PostgreSQL by URL), the blob store."""
