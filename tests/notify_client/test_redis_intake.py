"""The Redis path end to end: RedisPublisher pushes, a notify node stores and delivers.

Each test uses its own Redis database (pub/sub is shared across databases, lists are not),
so the intake lists start empty whatever ran before.
"""

from __future__ import annotations

import itertools
import json
import time

import pytest
import redis
import requests

from notify_client import DEAD_KEY, INTAKE_KEY, NotifyUnavailable, RedisPublisher
from tests.servers import RedisServer, free_port
from tests.support import Service

_databases = itertools.count(3)


@pytest.fixture
def intake(tmp_path, redis_server):
    """``(notify, redis_url)``: a notify node consuming the intake of a fresh database."""
    url = redis_server.url.rsplit("/", 1)[0] + f"/{next(_databases)}"
    service = Service("notify", {"REDIS_URL": url,
                                 "DATABASE_URL": f"sqlite:///{tmp_path}/inbox.db"}, tmp_path)
    service.start()
    yield service, url
    assert service.stop() == 0
    assert "Traceback" not in service.log(), service.log()


def inbox(service, token, user: str) -> list[dict]:
    response = requests.get(service.url + "/api/notifications",
                            headers={"Authorization": f"Bearer {token(user)}"}, timeout=10)
    return response.json()["notifications"]


def test_a_pushed_request_is_stored_then_delivered(intake, socket_of, token):
    service, url = intake
    socket = socket_of(service.url, "rita")
    publisher = RedisPublisher(url, publisher="shop")
    key = publisher.notify("rita", "Order shipped", "#42", {"order": 42})
    received = socket.next(timeout=10)
    assert (received["title"], received["body"], received["data"]) == (
        "Order shipped", "#42", {"order": 42})
    assert inbox(service, token, "rita") == [received]

    # Pushed again with its key (a publisher unsure whether the first push went through).
    assert publisher.notify("rita", "Order shipped", "#42", {"order": 42},
                            idempotency_key=key) == key
    assert socket.drain(1.0) == []
    assert len(inbox(service, token, "rita")) == 1


def test_big_batches_are_split_and_stored_once(intake, socket_of, token):
    service, url = intake
    users = [f"r-{i}" for i in range(1200)]
    first, last = socket_of(service.url, users[0]), socket_of(service.url, users[-1])
    keys = RedisPublisher(url).notify_many(users, "sale", idempotency_key="sale-r")
    assert keys == ["sale-r:0", "sale-r:1"]
    assert first.next(timeout=10)["title"] == "sale"
    assert last.next(timeout=10)["title"] == "sale"
    assert len(inbox(service, token, users[600])) == 1


def test_invalid_items_go_to_the_dead_list_and_the_consumer_keeps_going(intake, socket_of):
    service, url = intake
    queue = redis.Redis.from_url(url)
    secret_ish = "card 4111-1111-1111-1111"
    bad = [b"not json", b"[1, 2]",
           json.dumps({"users": ["sam"], "title": "", "body": secret_ish}).encode(),
           json.dumps({"users": ["sam"], "title": "t", "colour": "red"}).encode(),
           json.dumps({"users": ["sam"], "title": "t", "idempotency_key": 5}).encode()]
    queue.rpush(INTAKE_KEY, *bad)
    socket = socket_of(service.url, "sam")
    RedisPublisher(client=queue).notify("sam", "still here")
    assert socket.next(timeout=10)["title"] == "still here"
    assert queue.lrange(DEAD_KEY, 0, -1) == bad
    assert queue.llen(INTAKE_KEY) == 0
    log = service.log()
    assert log.count("intake item refused") == len(bad)
    assert "invalid_field 'title'" in log
    assert secret_ish not in log


def test_the_consumer_waits_out_a_redis_outage_and_logs_it_once(tmp_path, socket_of):
    redis_server = RedisServer(tmp_path / "redis-intake").start()
    service = Service("notify", {"REDIS_URL": redis_server.url,
                                 "DATABASE_URL": f"sqlite:///{tmp_path}/inbox.db"}, tmp_path)
    try:
        service.start()
        redis_server.stop()
        time.sleep(2.5)  # several failed BLPOPs and reconnects
        redis_server.start()
        socket = socket_of(service.url, "otto")
        RedisPublisher(redis_server.url).notify("otto", "after the outage")
        assert socket.next(timeout=15)["title"] == "after the outage"
        log = service.log()
        assert log.count("redis (intake) unavailable") == 1, log
        assert "redis (intake) back after" in log
    finally:
        assert service.stop() == 0
        redis_server.stop()
    assert "Traceback" not in service.log(), service.log()


def test_a_push_to_a_dead_redis_raises_unavailable():
    publisher = RedisPublisher(f"redis://:hunter2@127.0.0.1:{free_port()}/0")
    with pytest.raises(NotifyUnavailable) as caught:
        publisher.notify("x", "t")
    assert caught.value.code == "redis_unavailable"
    assert "hunter2" not in str(caught.value)
