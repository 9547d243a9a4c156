"""Several upstream nodes: spreading, skipping dead ones, sid stickiness, one retry."""

from __future__ import annotations

import hashlib
import socket
import threading

import pytest
import requests

from common.errors import BadRequest
from gateway_app.upstreams import UpstreamGroup, session_id
from tests.gateway_app.upstream import Upstream, free_port


def test_session_id_is_read_from_the_query():
    assert session_id("EIO=4&transport=polling&sid=n1.abc%3D") == "n1.abc="
    assert session_id("EIO=4&transport=polling") is None
    assert session_id(None) is None
    assert session_id("xsid=1") is None


def test_a_sid_goes_to_the_node_that_owns_it_and_only_there():
    group = UpstreamGroup(["http://127.0.0.1:1", "http://127.0.0.1:2"])
    one, two = group.nodes
    group.learn(one, "n1")
    group.learn(two, "n2")
    for _ in range(3):
        assert group.candidates("n2.xyz") == [two]
        assert group.candidates("n1.xyz") == [one]
    assert {group.candidates()[0].url for _ in range(4)} == {one.url, two.url}
    for bad in ("n3.xyz", "noprefix", ""):
        with pytest.raises(BadRequest) as caught:
            group.candidates(bad)
        assert caught.value.code == "unknown_session"


def test_a_restarted_node_is_relearned_under_its_new_id():
    group = UpstreamGroup(["http://127.0.0.1:1", "http://127.0.0.1:2"])
    node = group.nodes[0]
    group.learn(node, "old")
    group.learn(node, "new")
    assert group.candidates("new.x") == [node]
    with pytest.raises(BadRequest):
        group.candidates("old.x")


class Dropper:
    """Passes its health checks, but hangs up on every other request without answering."""

    def __init__(self) -> None:
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self.sock.getsockname()[1]}"
        self.dropped = 0
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            request = conn.recv(65536)
            if request.startswith(b"GET /healthz "):
                conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n"
                             b"Connection: close\r\n\r\n{}")
            else:
                self.dropped += 1
            conn.close()


@pytest.fixture
def pair(start_service):
    good = Upstream().start()
    dropper = Dropper()
    gateway = start_service("gateway", NOTIFY_URL=f"{dropper.url},{good.url}",
                            HEALTH_CHECK_INTERVAL="3600")
    yield gateway, good, dropper
    good.stop()
    dropper.sock.close()


@pytest.mark.parametrize("method, headers", [("GET", {}), ("DELETE", {}),
                                             ("POST", {"Idempotency-Key": "k1"})])
def test_idempotent_requests_are_retried_once_on_another_node(pair, method, headers):
    gateway, good, dropper = pair
    for _ in range(3):
        response = requests.request(method, gateway.url + "/api/notifications",
                                    data=b'{"a": 1}', headers=headers, timeout=10)
        assert response.status_code == 200
    assert dropper.dropped >= 1  # it was sent there first, and answered by the other node
    assert good.last("/api/notifications")["body_sha256"] == hashlib.sha256(
        b'{"a": 1}').hexdigest()


def test_other_posts_are_not_sent_twice(pair):
    gateway, _good, dropper = pair
    statuses = {requests.post(gateway.url + "/api/notifications", data=b"{}",
                              timeout=10).status_code for _ in range(4)}
    assert 502 in statuses  # the dropped one is reported, not replayed elsewhere
    assert dropper.dropped >= 1


def test_a_refusing_node_is_skipped(start_service):
    good = Upstream().start()
    try:
        gateway = start_service("gateway",
                                NOTIFY_URL=f"http://127.0.0.1:{free_port()},{good.url}")
        for _ in range(4):
            assert requests.get(gateway.url + "/api/notifications/y", timeout=10).ok
    finally:
        good.stop()
