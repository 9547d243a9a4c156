"""Several notify nodes on one PostgreSQL inbox and one Redis queue (real servers)."""

from __future__ import annotations

import threading
import time

import pytest
import requests

from tests.clients import Publisher, Recorder
from tests.servers import RedisServer
from tests.support import Service


@pytest.fixture
def cluster(tmp_path, postgres_server, redis_server):
    """``cluster(redis_url=None)`` starts two notify nodes sharing PostgreSQL and Redis."""
    nodes: list[Service] = []

    def start(redis_url: str | None = None, count: int = 2) -> list[Service]:
        for i in range(count):
            env = {"DATABASE_URL": postgres_server.url,
                   "REDIS_URL": redis_url or redis_server.url, "NODE_ID": f"n{i + 1}"}
            nodes.append(Service("notify", env, tmp_path / f"n{i + 1}").start())
        return nodes

    yield start
    for node in nodes:
        node.stop()
        assert "Traceback" not in node.log(), node.log()


def test_a_publish_on_any_node_reaches_the_users_sockets_on_every_node_once(
        cluster, recorder, token):
    one, two = cluster()
    ann = recorder().connect(one.url, auth={"token": token("ann-q")})
    ann_too = recorder().connect(two.url, auth={"token": token("ann-q")})
    bob = recorder().connect(two.url, auth={"token": token("bob-q")})
    for node in (one, two):
        for_ann = Publisher(node.url).ok("ann-q", f"via {node.url}")
        for_bob = Publisher(node.url).ok("bob-q", f"via {node.url}")
        assert ann.next() == for_ann and ann_too.next() == for_ann
        assert bob.next() == for_bob
    for client in (ann, ann_too, bob):
        assert client.drain(0.5) == []


def test_session_ids_carry_the_node_id(cluster):
    one, two = cluster()
    for node, node_id in ((one, "n1"), (two, "n2")):
        response = requests.get(node.url + "/socket.io/?EIO=4&transport=polling", timeout=5)
        assert response.headers["X-Notify-Node"] == node_id
        assert f'"sid":"{node_id}.' in response.text
        assert requests.get(node.url + "/healthz", timeout=5).json()["node"] == node_id


def test_idempotency_keys_hold_across_nodes(cluster, recorder, token):
    one, two = cluster()
    client = recorder().connect(two.url, auth={"token": token("cara-q")})
    first = Publisher(one.url).publish("cara-q", "once", idempotency_key="k-cara")
    retry = Publisher(two.url).publish("cara-q", "once", idempotency_key="k-cara")
    assert first.status_code == retry.status_code == 201
    assert retry.json() == first.json()
    assert client.next() == first.json()
    assert client.drain(0.5) == []


def test_ids_stay_ordered_per_user_with_both_nodes_publishing(cluster, recorder, token):
    one, two = cluster()
    client = recorder().connect(one.url, auth={"token": token("dan-q")})

    def publish(node: Service) -> None:
        publisher = Publisher(node.url)
        for i in range(30):
            publisher.ok("dan-q", f"{i}")

    threads = [threading.Thread(target=publish, args=(node,)) for node in (one, two)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    received = [n["id"] for n in client.drain(1.0)]
    assert len(received) == 60
    assert received == sorted(received)


def test_redis_outage_loses_nothing_and_live_delivery_resumes(tmp_path, cluster, recorder,
                                                              token):
    redis = RedisServer(tmp_path / "redis-outage").start()
    try:
        one, two = cluster(redis_url=redis.url)
        far = recorder().connect(two.url, auth={"token": token("eve-q")})
        near = recorder().connect(one.url, auth={"token": token("eve-q")})
        before = Publisher(one.url).ok("eve-q", "before")
        assert far.next() == before and near.next() == before

        redis.stop()
        during = [Publisher(one.url).ok("eve-q", f"during {i}") for i in range(5)]
        assert [near.next() for _ in during] == during  # local sockets still get them
        time.sleep(1)
        redis.start()

        # The far node catches up from the store once its subscription is back.
        assert [far.next(timeout=15) for _ in during] == during
        after = Publisher(one.url).ok("eve-q", "after")
        assert far.next(timeout=10) == after and near.next() == after
        assert far.drain(0.5) == [] and near.drain(0.1) == []
        log = one.log()
        assert log.count("redis (publish) unavailable") == 1, log  # once per outage
    finally:
        redis.stop()


def test_node_loss_clients_recover_on_another_node_with_last_id(cluster, token):
    one, two = cluster()
    client = Recorder().connect(one.url, auth={"token": token("fay-q")})
    seen = Publisher(two.url).ok("fay-q", "seen")
    assert client.next() == seen
    one.kill()
    assert client.disconnected.wait(5)
    missed = [Publisher(two.url).ok("fay-q", f"missed {i}") for i in range(3)]
    again = Recorder().connect(two.url, auth={"token": token("fay-q"), "last_id": seen["id"]})
    try:
        assert [again.next() for _ in missed] == missed
    finally:
        again.close()
