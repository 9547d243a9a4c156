"""Queries on the inbox (SQLAlchemy Core), behind one extension object."""

from __future__ import annotations

import contextlib
import datetime as dt
import logging
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from flask import Flask
from sqlalchemy import create_engine, event, func, insert, select, text, update
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.exc import IntegrityError, InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout

from common.errors import DatabaseUnavailable
from notify_app.schema import idempotency_keys, metadata, notifications

log = logging.getLogger(__name__)

IDEMPOTENCY_WINDOW = dt.timedelta(hours=24)
# What SQLAlchemy raises when the database is down, unreachable, locked or out of
# connections, as opposed to a bad query: the caller may retry, and nothing was committed.
UNAVAILABLE = (OperationalError, InterfaceError, PoolTimeout)


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC).replace(tzinfo=None)


@dataclass(frozen=True)
class Notification:
    id: int
    user: str
    title: str
    body: str
    data: dict
    created_at: dt.datetime
    read_at: dt.datetime | None
    # The user's previous notification id when this one was stored (only known at publish):
    # it lets a node see that a live notification overtook an earlier one from another node.
    prev_id: int | None = field(default=None, compare=False)

    def to_dict(self) -> dict[str, Any]:
        """The wire form used by REST and the `notification` event."""
        return {"id": self.id, "user": self.user, "title": self.title, "body": self.body,
                "data": self.data, "created_at": _iso(self.created_at),
                "read": self.read_at is not None}


@dataclass(frozen=True)
class PriorPublish:
    """What an idempotency key recorded: the request's hash and the notifications it made."""

    request_hash: str
    notifications: list[Notification]
    single: bool


class Store:
    """The inbox: notifications per user and publish idempotency keys."""

    def __init__(self) -> None:
        self.engine: Engine | None = None

    def init_app(self, app: Flask) -> None:
        self.engine = make_engine(app.config["DATABASE_URL"])
        metadata.create_all(self.engine)
        app.extensions["store"] = self

    # -- publishing ------------------------------------------------------------------------

    def publish(self, users: Sequence[str], title: str, body: str, data: dict, *,
                idempotency: tuple[str, str, str, bool] | None = None) -> list[Notification]:
        """Store one notification per user in one transaction and return them in id order.

        ``idempotency`` is ``(publisher, key, request_hash, single)``; the key is stored in the
        same transaction, so a retry either sees the whole first result or nothing.
        Raises :class:`IntegrityError` if another request stored the same key first.
        """
        now = utcnow()
        rows = [{"user_id": u, "title": title, "body": body, "data": data, "created_at": now,
                 "read_at": None} for u in users]
        with self.engine.begin() as conn:
            if conn.dialect.name == "postgresql":
                _lock_users(conn, users)
            previous = dict(conn.execute(
                select(notifications.c.user_id, func.max(notifications.c.id))
                .where(notifications.c.user_id.in_(list(users)))
                .group_by(notifications.c.user_id)).all())
            result = conn.execute(insert(notifications).returning(
                notifications.c.id, sort_by_parameter_order=True), rows)
            ids = [row.id for row in result]
            if idempotency is not None:
                publisher, key, request_hash, single = idempotency
                conn.execute(insert(idempotency_keys).values(
                    publisher=publisher, key=key, request_hash=request_hash,
                    notification_ids=ids, single=int(single), created_at=now))
        return [Notification(i, r["user_id"], title, body, data, now, None,
                             previous.get(r["user_id"], 0))
                for i, r in zip(ids, rows, strict=True)]

    def prior_publish(self, publisher: str, key: str) -> PriorPublish | None:
        """The result recorded for ``key`` within the idempotency window, if any."""
        since = utcnow() - IDEMPOTENCY_WINDOW
        with self.engine.connect() as conn:
            row = conn.execute(select(idempotency_keys).where(
                idempotency_keys.c.publisher == publisher, idempotency_keys.c.key == key,
                idempotency_keys.c.created_at > since)).first()
            if row is None:
                return None
            found = conn.execute(select(notifications).where(
                notifications.c.id.in_(row.notification_ids)).order_by(notifications.c.id))
            return PriorPublish(row.request_hash, [_notification(r) for r in found],
                                bool(row.single))

    def forget_expired_keys(self) -> None:
        """Drop expired keys, so an old key can be reused once its window has passed."""
        with self.engine.begin() as conn:
            conn.execute(idempotency_keys.delete().where(
                idempotency_keys.c.created_at <= utcnow() - IDEMPOTENCY_WINDOW))

    # -- reading ---------------------------------------------------------------------------

    def inbox(self, user: str, *, limit: int, before: int | None = None,
              unread_only: bool = False) -> list[Notification]:
        """The user's notifications, newest first."""
        query = select(notifications).where(notifications.c.user_id == user)
        if before is not None:
            query = query.where(notifications.c.id < before)
        if unread_only:
            query = query.where(notifications.c.read_at.is_(None))
        query = query.order_by(notifications.c.id.desc()).limit(limit)
        with self.engine.connect() as conn:
            return [_notification(r) for r in conn.execute(query)]

    def after(self, user: str, last_id: int, limit: int = 1000) -> list[Notification]:
        """The user's notifications with ids above ``last_id``, oldest first (recovery)."""
        query = (select(notifications)
                 .where(notifications.c.user_id == user, notifications.c.id > last_id)
                 .order_by(notifications.c.id).limit(limit))
        with self.engine.connect() as conn:
            return [_notification(r) for r in conn.execute(query)]

    def last_id(self, user: str) -> int:
        """The user's highest notification id, 0 if none."""
        query = select(func.max(notifications.c.id)).where(notifications.c.user_id == user)
        with self.engine.connect() as conn:
            return conn.execute(query).scalar_one() or 0

    def unread_count(self, user: str) -> int:
        query = select(func.count()).select_from(notifications).where(
            notifications.c.user_id == user, notifications.c.read_at.is_(None))
        with self.engine.connect() as conn:
            return conn.execute(query).scalar_one()

    # -- marking read ----------------------------------------------------------------------

    def mark_read(self, user: str, ids: Sequence[int]) -> list[Notification]:
        """Mark the user's own notifications among ``ids`` read; others' ids are ignored."""
        if not ids:
            return []
        owned = (notifications.c.user_id == user) & notifications.c.id.in_(list(ids))
        with self.engine.begin() as conn:
            conn.execute(update(notifications).where(
                owned, notifications.c.read_at.is_(None)).values(read_at=utcnow()))
            found = conn.execute(select(notifications).where(owned).order_by(notifications.c.id))
            return [_notification(r) for r in found]

    def mark_all_read(self, user: str) -> int:
        """Mark every unread notification of the user read; returns how many changed."""
        with self.engine.begin() as conn:
            result = conn.execute(update(notifications).where(
                notifications.c.user_id == user, notifications.c.read_at.is_(None),
            ).values(read_at=utcnow()))
            return result.rowcount

    def ping(self) -> None:
        """Raise if the database cannot be reached."""
        with self.engine.connect() as conn:
            conn.execute(select(1))


@contextlib.contextmanager
def unavailable() -> Iterator[None]:
    """Turn the database being unavailable into :class:`DatabaseUnavailable` (503)."""
    try:
        yield
    except UNAVAILABLE as exc:
        # One line, no traceback and no URL: the cause's class says enough to an operator.
        cause = type(getattr(exc, "orig", None) or exc).__name__
        log.warning("database unavailable: %s", cause)
        raise DatabaseUnavailable() from None


def make_engine(url: str) -> Engine:
    """An engine for ``url``; SQLite gets its directory made, WAL and a busy timeout."""
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite":
        engine = create_engine(url, pool_pre_ping=True, pool_size=10, max_overflow=20)
        event.listen(engine, "handle_error", _server_refusal_is_unavailable)
        return engine
    if parsed.database and parsed.database != ":memory:":
        from pathlib import Path

        Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(url, connect_args={"check_same_thread": False})

    @event.listens_for(engine, "connect")
    def _pragmas(dbapi_connection, _record) -> None:
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")  # readers don't block the writer
        cursor.execute("PRAGMA busy_timeout=5000")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()

    return engine


# SQLSTATEs of a server that cannot take work now: connection exceptions (class 08),
# shutting down or starting up (57P01-57P03), too many connections (53300).
_UNAVAILABLE_STATES = ("08", "57P01", "57P02", "57P03", "53300")


def sqlstate(error: BaseException | None) -> str | None:
    """The SQLSTATE a pg8000 error carries (its first argument is the server's fields)."""
    fields = error.args[0] if error is not None and error.args else None
    return fields.get("C") if isinstance(fields, dict) else None


def _server_refusal_is_unavailable(context: Any) -> None:
    """pg8000 reports a server refusing connections ("the database system is starting up")
    as a ProgrammingError; make it the OperationalError it is, so it is a 503, not a 500."""
    code = sqlstate(context.original_exception)
    if code and code.startswith(_UNAVAILABLE_STATES) \
            and not isinstance(context.sqlalchemy_exception, OperationalError):
        raise OperationalError(context.statement, context.parameters,
                               context.original_exception) from context.original_exception


def _lock_users(conn: Any, users: Sequence[str]) -> None:
    """Serialise publishes per user until commit (PostgreSQL).

    Sequence values are handed out before commit, so two nodes publishing to one user could
    commit ids out of order, and a client replaying ``after last_id`` would skip the late one.
    Holding a per-user lock from id to commit keeps each user's ids in commit order. Locks are
    taken in sorted order so that two batches cannot deadlock.
    """
    conn.execute(text(
        "SELECT pg_advisory_xact_lock(hashtextextended(u, 0)) "
        "FROM (SELECT DISTINCT u FROM unnest(CAST(:users AS text[])) AS u ORDER BY u) AS s"
    ), {"users": list(users)})


def _notification(row: Any) -> Notification:
    return Notification(row.id, row.user_id, row.title, row.body, row.data, row.created_at,
                        row.read_at)


def _iso(moment: dt.datetime) -> str:
    return moment.isoformat(timespec="milliseconds") + "Z"


__all__ = ["UNAVAILABLE", "IntegrityError", "Notification", "PriorPublish", "Store",
           "make_engine", "unavailable"]
