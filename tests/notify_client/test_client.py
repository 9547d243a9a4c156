"""NotifyClient against a real notify process: publish, batches, refusals, no leaked token."""

from __future__ import annotations

import pytest
import requests

from notify_client import (
    NotifyAuthError,
    NotifyClient,
    NotifyError,
    NotifyRequestError,
    NotifyUnavailable,
)
from tests.servers import free_port


def counting_session() -> tuple[requests.Session, list[requests.PreparedRequest]]:
    """A session that records every request it sends (a real one, no mocking)."""
    sent: list[requests.PreparedRequest] = []
    session = requests.Session()
    session.hooks["response"].append(lambda response, **_: sent.append(response.request))
    return session, sent


def inbox(notify, token, user: str) -> list[dict]:
    response = requests.get(notify.url + "/api/notifications",
                            headers={"Authorization": f"Bearer {token(user)}"}, timeout=10)
    assert response.status_code == 200, response.text
    return response.json()["notifications"]


def test_notify_stores_and_delivers_live(notify, pub_token, socket_of, user):
    socket = socket_of(notify.url, user)
    with NotifyClient(notify.url + "/", pub_token) as client:
        stored = client.notify(user, "Order shipped", "#42 is on its way", {"order": 42})
    assert stored["user"] == user and stored["data"] == {"order": 42}
    assert stored["title"] == "Order shipped" and stored["read"] is False
    assert socket.next() == stored


def test_the_same_idempotency_key_twice_stores_once(notify, pub_token, socket_of, user):
    socket = socket_of(notify.url, user)
    client = NotifyClient(notify.url, pub_token)
    first = client.notify(user, "once", idempotency_key=f"{user}-k")
    assert client.notify(user, "once", idempotency_key=f"{user}-k") == first
    assert socket.next() == first
    assert socket.drain(0.3) == []


def test_a_token_provider_is_asked_for_every_request(notify, pub_token, user):
    calls = []

    def provider() -> str:
        calls.append(1)
        return pub_token

    client = NotifyClient(notify.url, token_provider=provider)
    client.notify(user, "a")
    client.notify(user, "b")
    assert len(calls) == 2


def test_notify_many_splits_over_1000_users_and_stores_each_once(
        notify, pub_token, socket_of, token):
    users = [f"batch-{i}" for i in range(1500)]
    first, last = socket_of(notify.url, users[0]), socket_of(notify.url, users[-1])
    session, sent = counting_session()
    client = NotifyClient(notify.url, pub_token, session=session)

    created = client.notify_many(users + users[:10], "sale", data={"pct": 10},
                                 idempotency_key="sale-1")
    assert [n["user"] for n in created] == users  # repeats dropped, order kept
    assert len({n["id"] for n in created}) == 1500
    assert [r.headers["Idempotency-Key"] for r in sent] == ["sale-1:0", "sale-1:1"]
    assert [len(r.body) > 0 for r in sent] == [True, True]
    assert first.next() == created[0] and last.next() == created[-1]

    # Run again (say, after a crash half-way): every batch is replayed, nothing doubles.
    assert client.notify_many(users, "sale", data={"pct": 10}, idempotency_key="sale-1") \
        == created
    assert [r.headers["Idempotency-Key"] for r in sent[2:]] == ["sale-1:0", "sale-1:1"]
    assert first.drain(0.3) == [] and last.drain(0.1) == []
    assert [n["id"] for n in inbox(notify, token, users[-1])] == [created[-1]["id"]]


def test_notify_many_of_one_batch_keeps_the_key_and_of_none_sends_nothing(notify, pub_token):
    session, sent = counting_session()
    client = NotifyClient(notify.url, pub_token, session=session)
    assert len(client.notify_many(["m1", "m2"], "t", idempotency_key="small")) == 2
    assert client.notify_many([], "t") == []
    assert [r.headers["Idempotency-Key"] for r in sent] == ["small"]
    with pytest.raises(TypeError):
        client.notify_many("alice", "t")


def test_every_publish_carries_an_idempotency_key(notify, pub_token, user):
    session, sent = counting_session()
    client = NotifyClient(notify.url, pub_token, session=session)
    client.notify(user, "a")
    client.notify(user, "b")
    keys = [r.headers.get("Idempotency-Key") for r in sent]
    assert all(keys) and keys[0] != keys[1]


def test_a_bad_field_raises_at_once_with_code_and_field(notify, pub_token, user):
    session, sent = counting_session()
    client = NotifyClient(notify.url, pub_token, session=session, retries=3)
    with pytest.raises(NotifyRequestError) as caught:
        client.notify(user, "", idempotency_key="bad-title")
    error = caught.value
    assert (error.status, error.code, error.field) == (400, "invalid_field", "title")
    assert error.attempts == 1 and len(sent) == 1
    assert error.idempotency_key == "bad-title"
    assert "title" in str(error) and "400" in str(error)


def test_a_key_reused_for_another_request_is_a_conflict(notify, pub_token, user):
    client = NotifyClient(notify.url, pub_token)
    client.notify(user, "first", idempotency_key=f"{user}-reuse")
    with pytest.raises(NotifyRequestError) as caught:
        client.notify(user, "second", idempotency_key=f"{user}-reuse")
    assert (caught.value.status, caught.value.code) == (409, "idempotency_key_reused")


def test_the_token_never_appears_in_errors(notify, token, user):
    user_token = token(user)  # valid, but without the publish scope
    with pytest.raises(NotifyAuthError) as caught:
        NotifyClient(notify.url, user_token).notify(user, "t")
    assert (caught.value.status, caught.value.code) == (403, "insufficient_scope")
    assert user_token not in str(caught.value) and user_token not in repr(caught.value)

    with pytest.raises(NotifyUnavailable) as caught:
        NotifyClient(f"http://127.0.0.1:{free_port()}", user_token, retries=0).notify(user, "t")
    assert user_token not in str(caught.value) and user_token not in repr(caught.value)


def test_errors_share_one_base(notify, pub_token):
    for kind in (NotifyAuthError, NotifyRequestError, NotifyUnavailable):
        assert issubclass(kind, NotifyError)
    with pytest.raises(ValueError):
        NotifyClient(notify.url)
    with pytest.raises(ValueError):
        NotifyClient(notify.url, pub_token, token_provider=lambda: pub_token)
