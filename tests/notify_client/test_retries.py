"""Retries through a server that fails on purpose in front of a real notify process.

Every retry must carry the first attempt's Idempotency-Key, so that a request notify stored
before the failure is replayed rather than stored twice.
"""

from __future__ import annotations

import datetime as dt
import email.utils
import time

import pytest
import requests

from notify_client import NotifyClient, NotifyRequestError, NotifyUnavailable
from notify_client.retry import RetryPolicy, parse_retry_after
from tests.notify_client.flaky import Flaky
from tests.servers import free_port


def stored_for(notify, token, user: str) -> list[int]:
    response = requests.get(notify.url + "/api/notifications",
                            headers={"Authorization": f"Bearer {token(user)}"}, timeout=10)
    return [n["id"] for n in response.json()["notifications"]]


@pytest.mark.parametrize("faults", [
    ["503", "502"],          # refused before notify saw it
    ["lost-502"],            # stored, but the answer was lost on the way back
    ["reset"],               # connection closed without an answer
    ["lost-502", "503", "reset"],
])
def test_retried_until_it_succeeds_with_one_key_and_one_notification(
        notify, pub_token, socket_of, token, user, faults):
    socket = socket_of(notify.url, user)
    with Flaky(notify.url, faults) as flaky:
        client = NotifyClient(flaky.url, pub_token, retries=3, backoff=0.01)
        stored = client.notify(user, "retried", data={"n": 1})
    assert len(flaky.keys) == len(faults) + 1
    assert flaky.keys[0] and set(flaky.keys) == {flaky.keys[0]}
    assert socket.next() == stored
    assert socket.drain(0.3) == []
    assert stored_for(notify, token, user) == [stored["id"]]


def test_a_timeout_after_notify_stored_it_is_retried_without_a_duplicate(
        notify, pub_token, socket_of, token, user):
    socket = socket_of(notify.url, user)
    with Flaky(notify.url, ["slow:5"]) as flaky:
        client = NotifyClient(flaky.url, pub_token, timeout=2.0, backoff=0.01)
        stored = client.notify(user, "slow")
    assert len(flaky.keys) == 2 and flaky.keys[0] == flaky.keys[1]
    assert socket.next() == stored and socket.drain(0.3) == []
    assert stored_for(notify, token, user) == [stored["id"]]


def test_retry_after_is_honoured(notify, pub_token, user):
    with Flaky(notify.url, ["429:1"]) as flaky:
        client = NotifyClient(flaky.url, pub_token, backoff=0.01)
        started = time.monotonic()
        client.notify(user, "later")
        assert time.monotonic() - started >= 0.95
    assert len(flaky.keys) == 2


def test_a_retry_after_beyond_the_clients_patience_gives_up_at_once(notify, pub_token, user):
    with Flaky(notify.url, ["429:3600"]) as flaky:
        client = NotifyClient(flaky.url, pub_token, backoff=0.01)
        started = time.monotonic()
        with pytest.raises(NotifyUnavailable) as caught:
            client.notify(user, "never")
        assert time.monotonic() - started < 5
    assert (caught.value.status, caught.value.attempts) == (429, 1)


def test_unavailable_after_the_retries_are_spent(notify, pub_token, user):
    with Flaky(notify.url, ["503"] * 10) as flaky:
        client = NotifyClient(flaky.url, pub_token, retries=2, backoff=0.01)
        with pytest.raises(NotifyUnavailable) as caught:
            client.notify(user, "down", idempotency_key=f"{user}-down")
    error = caught.value
    assert (error.status, error.code, error.attempts) == (503, "unavailable", 3)
    assert error.idempotency_key == f"{user}-down"
    assert flaky.keys == [f"{user}-down"] * 3


def test_connection_refused_is_retried_with_growing_waits(pub_token, user):
    client = NotifyClient(f"http://127.0.0.1:{free_port()}", pub_token, retries=3,
                          backoff=0.1)
    started = time.monotonic()
    with pytest.raises(NotifyUnavailable) as caught:
        client.notify(user, "nobody home")
    # Waits of at least half of 0.1, 0.2 and 0.4 s (equal jitter).
    assert time.monotonic() - started >= 0.35
    error = caught.value
    assert (error.status, error.code, error.attempts) == (None, "unreachable", 4)
    assert "Connection refused" in str(error)


def test_a_token_echoed_by_a_proxy_is_scrubbed_from_the_error(notify, pub_token, user):
    with Flaky(notify.url, ["echo-400"]) as flaky, pytest.raises(NotifyRequestError) as caught:
        NotifyClient(flaky.url, pub_token).notify(user, "t")
    assert pub_token not in str(caught.value) and pub_token not in repr(caught.value)
    assert pub_token not in caught.value.message
    assert "[redacted]" in caught.value.message


def test_retry_after_as_seconds_or_a_date_and_the_backoff_bounds():
    assert parse_retry_after("3") == 3.0
    assert parse_retry_after(None) is None and parse_retry_after("soon") is None
    in_a_minute = email.utils.format_datetime(
        dt.datetime.now(dt.UTC) + dt.timedelta(seconds=60), usegmt=True)
    assert 55 <= parse_retry_after(in_a_minute) <= 60
    policy = RetryPolicy(retries=3, backoff=0.2, max_backoff=0.5)
    for attempt, ceiling in ((0, 0.2), (1, 0.4), (2, 0.5)):
        assert ceiling / 2 <= policy.delay(attempt) <= ceiling
    assert policy.delay(3) is None  # retries spent
    assert policy.delay(0, retry_after=7) == 7
    assert policy.delay(0, retry_after=policy.max_wait + 1) is None
