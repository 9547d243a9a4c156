"""The inbox schema, in one place (SQLAlchemy Core); created on start."""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    BigInteger,
    Column,
    DateTime,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
)

metadata = MetaData()

# SQLite only autoincrements an INTEGER PRIMARY KEY; elsewhere ids are 64-bit.
_ID = BigInteger().with_variant(Integer, "sqlite")

notifications = Table(
    "notifications",
    metadata,
    Column("id", _ID, primary_key=True, autoincrement=True),
    Column("user_id", String(255), nullable=False),
    Column("title", String(200), nullable=False),
    Column("body", Text, nullable=False),
    Column("data", JSON, nullable=False),
    Column("created_at", DateTime, nullable=False),  # UTC
    Column("read_at", DateTime, nullable=True),  # UTC; NULL while unread
    Index("ix_notifications_user_id", "user_id", "id"),
    # AUTOINCREMENT keeps SQLite from reusing the ids of deleted rows: ids only grow,
    # which recovery (`last_id`) relies on.
    sqlite_autoincrement=True,
)

idempotency_keys = Table(
    "idempotency_keys",
    metadata,
    Column("publisher", String(255), primary_key=True),
    Column("key", String(255), primary_key=True),
    Column("request_hash", String(64), nullable=False),
    Column("notification_ids", JSON, nullable=False),
    Column("single", Integer, nullable=False),  # 1 when published with `user`, 0 with `users`
    Column("created_at", DateTime, nullable=False),
    Index("ix_idempotency_keys_created_at", "created_at"),
)
