"""Store queries on a real SQLite file."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import update

from notify_app.schema import idempotency_keys
from notify_app.store import IntegrityError, Store, make_engine


@pytest.fixture(params=["sqlite", "postgresql"])
def store(request, tmp_path):
    from notify_app.schema import metadata

    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path}/sub/dir/inbox.db"
    else:
        url = request.getfixturevalue("postgres_server").url
    store = Store()
    store.engine = make_engine(url)
    metadata.drop_all(store.engine)
    metadata.create_all(store.engine)
    yield store
    store.engine.dispose()


def test_ids_grow_and_queries_are_per_user(store):
    a1, b1 = store.publish(["ann", "bob"], "t", "", {})
    (a2,) = store.publish(["ann"], "t2", "body", {"k": [1]})
    assert a1.id < b1.id < a2.id
    assert [n.id for n in store.inbox("ann", limit=10)] == [a2.id, a1.id]
    assert [n.id for n in store.after("ann", a1.id)] == [a2.id]
    assert store.after("ann", a1.id)[0].data == {"k": [1]}
    assert store.unread_count("bob") == 1


def test_mark_read_only_touches_the_owners_rows(store):
    a, b = store.publish(["ann", "bob"], "t", "", {})
    assert store.mark_read("ann", [a.id, b.id])[0].id == a.id
    assert store.unread_count("bob") == 1
    assert store.mark_all_read("bob") == 1
    assert store.mark_all_read("bob") == 0


def test_idempotency_key_is_stored_with_the_notifications(store):
    created = store.publish(["ann"], "t", "", {}, idempotency=("svc", "k1", "h", True))
    prior = store.prior_publish("svc", "k1")
    assert prior.notifications == created and prior.request_hash == "h" and prior.single
    assert store.prior_publish("other-svc", "k1") is None
    with pytest.raises(IntegrityError):
        store.publish(["ann"], "t", "", {}, idempotency=("svc", "k1", "h", True))
    assert store.unread_count("ann") == 1  # the failed transaction stored nothing


def test_keys_expire_after_24_hours(store):
    store.publish(["ann"], "t", "", {}, idempotency=("svc", "k1", "h", True))
    with store.engine.begin() as conn:
        conn.execute(update(idempotency_keys).values(
            created_at=dt.datetime(2000, 1, 1)))
    assert store.prior_publish("svc", "k1") is None
    store.forget_expired_keys()
    store.publish(["ann"], "t", "", {}, idempotency=("svc", "k1", "h2", True))


def test_a_server_refusing_connections_is_unavailable_not_a_bug():
    from types import SimpleNamespace

    from sqlalchemy.exc import OperationalError, ProgrammingError

    from notify_app.store import _server_refusal_is_unavailable, sqlstate

    starting = Exception({"S": "FATAL", "C": "57P03", "M": "the database system is starting up"})
    assert sqlstate(starting) == "57P03"
    context = SimpleNamespace(original_exception=starting, statement=None, parameters=None,
                              sqlalchemy_exception=ProgrammingError(None, None, starting))
    with pytest.raises(OperationalError):
        _server_refusal_is_unavailable(context)
    syntax = Exception({"S": "ERROR", "C": "42601", "M": "syntax error"})
    context.original_exception = syntax
    _server_refusal_is_unavailable(context)  # a real bug stays what it is
    assert sqlstate(ValueError("plain")) is None
