"""Two notify nodes (PostgreSQL + Redis) behind one gateway: stickiness, fan-out, node loss."""

from __future__ import annotations

import json
import time

import pytest
import requests
import websocket

from tests.clients import Publisher, Recorder
from tests.support import Service


@pytest.fixture
def cluster(tmp_path, postgres_server, redis_server):
    """Two notify nodes sharing PostgreSQL and Redis, and a gateway in front of both."""
    nodes = [Service("notify", {"DATABASE_URL": postgres_server.url,
                                "REDIS_URL": redis_server.url, "NODE_ID": f"n{i}",
                                "PING_INTERVAL": "2"}, tmp_path / f"n{i}").start()
             for i in (1, 2)]
    gateway = Service("gateway", {"NOTIFY_URL": ",".join(n.url for n in nodes),
                                  "HEALTH_CHECK_INTERVAL": "0.5"}, tmp_path / "gw").start()
    yield gateway, nodes
    for service in (gateway, *nodes):
        service.stop()
        assert "Traceback" not in service.log(), service.log()


def connect_on(gateway: Service, node_id: str, auth: dict, **options) -> Recorder:
    """A client connected through the gateway that landed on ``node_id`` (retrying)."""
    for _ in range(20):
        client = Recorder(**options).connect(gateway.url, auth=auth)
        if client.sio.eio.sid.startswith(node_id + "."):
            return client
        client.close()
    raise AssertionError(f"never landed on {node_id}")


def test_users_on_different_nodes_each_get_every_publish_once(cluster, token):
    gateway, nodes = cluster
    ann = connect_on(gateway, "n1", {"token": token("ann-s")})
    bob = connect_on(gateway, "n2", {"token": token("bob-s")})
    try:
        for node in nodes:
            for_ann = Publisher(node.url).ok("ann-s", f"from {node.url}")
            for_bob = Publisher(node.url).ok("bob-s", f"from {node.url}")
            assert ann.next() == for_ann
            assert bob.next() == for_bob
        via_gateway = Publisher(gateway.url).publish(users=["ann-s", "bob-s"], title="both")
        both = via_gateway.json()["notifications"]
        assert ann.next() == both[0] and bob.next() == both[1]
        assert ann.drain(0.5) == [] and bob.drain(0.1) == []
    finally:
        ann.close()
        bob.close()


def polling_session(gateway: Service, token: str) -> tuple[str, list[str]]:
    """Handshake, connect, several polls and the upgrade, by hand; which node served each."""
    base = gateway.url + "/socket.io/?EIO=4&transport=polling"
    served: list[str] = []
    opened = requests.get(base, timeout=10)
    served.append(opened.headers["X-Notify-Node"])
    sid = json.loads(opened.text[1:])["sid"]
    url = f"{base}&sid={sid}"
    posted = requests.post(url, data="40" + json.dumps({"token": token}), timeout=10)
    served.append(posted.headers["X-Notify-Node"])
    for _ in range(2):  # the CONNECT answer, then a ping (every 2 s)
        polled = requests.get(url, timeout=10)
        assert polled.status_code == 200, polled.text
        served.append(polled.headers["X-Notify-Node"])
        if polled.text.startswith("2"):
            pong = requests.post(url, data="3", timeout=10)
            served.append(pong.headers["X-Notify-Node"])
    ws_url = gateway.url.replace("http", "ws") + f"/socket.io/?EIO=4&transport=websocket&sid={sid}"
    ws = websocket.create_connection(ws_url, timeout=10)
    try:
        ws.send("2probe")
        assert ws.recv() == "3probe"  # only the node that owns the session answers this
        ws.send("5")
    finally:
        ws.close()
    return sid, served


def test_a_whole_polling_session_stays_on_its_node(cluster, token):
    gateway, _ = cluster
    seen_nodes = set()
    for i in range(4):
        sid, served = polling_session(gateway, token(f"poller-{i}"))
        node_id = sid.split(".", 1)[0]
        assert set(served) == {node_id}, (sid, served)
        seen_nodes.add(node_id)
    assert seen_nodes == {"n1", "n2"}  # sessions were spread, and each stuck


def test_a_sid_of_no_known_node_is_400(cluster):
    gateway, _ = cluster
    response = requests.get(gateway.url + "/socket.io/?EIO=4&transport=polling&sid=zz.abc",
                            timeout=10)
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "unknown_session"


def test_clients_of_a_dead_node_reconnect_through_the_gateway_and_recover(cluster, token):
    gateway, (one, two) = cluster
    seen: list[int] = []
    client = connect_on(gateway, "n1", lambda: {"token": token("cy-s"),
                                                "last_id": seen[-1] if seen else None},
                        reconnection=True, reconnection_delay=0.2, reconnection_delay_max=1)
    client.sio.on("notification", lambda n: (seen.append(n["id"]), client.notifications.put(n)))
    try:
        first = Publisher(two.url).ok("cy-s", "before")
        assert client.next() == first
        one.kill()
        missed = [Publisher(two.url).ok("cy-s", f"while away {i}") for i in range(3)]
        assert [client.next(timeout=20) for _ in missed] == missed
        assert client.sio.eio.sid.startswith("n2.")
        live = Publisher(gateway.url).ok("cy-s", "after")
        assert client.next() == live
        assert client.drain(0.5) == []
    finally:
        client.close()


def test_a_node_going_down_is_skipped_for_new_sessions(cluster, token):
    gateway, (one, _two) = cluster
    one.kill()
    time.sleep(1)  # at least one active health check
    for i in range(4):
        client = Recorder().connect(gateway.url, auth={"token": token(f"new-{i}")},
                                    transports=["polling", "websocket"])
        assert client.sio.eio.sid.startswith("n2.")
        client.close()
