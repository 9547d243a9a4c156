"""The WebSocket tunnel, through a real gateway process to a raw echo upstream."""

from __future__ import annotations

import hashlib
import json
import os
import socket
import struct
import threading
import time

import pytest

from tests.gateway_app.conftest import eventually, open_fds
from tests.gateway_app.upstream import free_port

WS_PATH = "/socket.io/?EIO=4&transport=websocket"
RESET = struct.pack("ii", 1, 0)  # SO_LINGER on, 0 s: close() sends RST


def upgrade(port: int, target: str = WS_PATH, headers: dict | None = None,
            early: bytes = b"") -> tuple[socket.socket, bytes, bytes]:
    """Send an upgrade request; returns the socket, the response head and bytes after it."""
    sock = socket.create_connection(("127.0.0.1", port), timeout=10)
    lines = [f"GET {target} HTTP/1.1", "Host: gateway.test", "Upgrade: websocket",
             "Connection: Upgrade", "Sec-WebSocket-Version: 13",
             "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ=="]
    lines += [f"{name}: {value}" for name, value in (headers or {}).items()]
    sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode() + early)
    data = b""
    while b"\r\n\r\n" not in data:
        piece = sock.recv(65536)
        if not piece:
            break
        data += piece
    head, _, rest = data.partition(b"\r\n\r\n")
    return sock, head, rest


def recv_exactly(sock: socket.socket, size: int, already: bytes = b"") -> bytes:
    data = bytearray(already)
    while len(data) < size:
        piece = sock.recv(min(1 << 20, size - len(data)))
        if not piece:
            break
        data += piece
    return bytes(data)


def recv_all(sock: socket.socket) -> bytes:
    data = bytearray()
    while piece := sock.recv(65536):
        data += piece
    return bytes(data)


def status_of(head: bytes) -> int:
    return int(head.split(b" ", 2)[1])


def json_body(sock: socket.socket, head: bytes, rest: bytes) -> dict:
    length = int(next(line.split(b":")[1] for line in head.split(b"\r\n")
                      if line.lower().startswith(b"content-length:")))
    return json.loads(recv_exactly(sock, length, rest))


def test_bytes_flow_both_ways_and_the_request_is_replayed(gateway, upstream):
    sock, head, rest = upgrade(gateway.port, headers={
        "Origin": "https://app.example", "Cookie": "sid=1", "X-Forwarded-For": "6.6.6.6",
        "Keep-Alive": "300", "X-Request-ID": "tunnel-1"}, early=b"")
    with sock:
        assert head.startswith(b"HTTP/1.1 101 Switching Protocols")
        assert rest == b""
        for message in (b"ping", b"\x00\xff" * 1000, b"x"):
            sock.sendall(message)
            assert recv_exactly(sock, len(message)) == message
    record = upstream.last("transport=websocket")
    headers = {k.lower(): v for k, v in record["headers"]}
    assert record["target"] == WS_PATH
    assert headers["host"] == "gateway.test"
    assert headers["origin"] == "https://app.example"
    assert headers["upgrade"] == "websocket"
    assert headers["connection"] == "Upgrade"
    assert headers["sec-websocket-key"] == "dGhlIHNhbXBsZSBub25jZQ=="
    assert headers["x-forwarded-for"] == "127.0.0.1"
    assert headers["x-forwarded-host"] == "gateway.test"
    assert headers["x-forwarded-proto"] == "http"
    assert headers["x-request-id"] == "tunnel-1"
    assert "keep-alive" not in headers


def test_bytes_sent_with_the_request_head_are_not_lost(gateway):
    sock, head, rest = upgrade(gateway.port, early=b"early-frame")
    with sock:
        assert status_of(head) == 101
        assert recv_exactly(sock, len(b"early-frame"), rest) == b"early-frame"


def test_megabytes_both_ways_with_backpressure(gateway):
    payload = os.urandom(6 * 1024 * 1024)
    sock, head, _ = upgrade(gateway.port)
    with sock:
        assert status_of(head) == 101
        # Send everything before reading anything: the echo stalls, the gateway must stop
        # reading us (not buffer megabytes), and everything must still arrive in order.
        sender = threading.Thread(target=sock.sendall, args=(payload,))
        sender.start()
        time.sleep(0.5)
        echoed = recv_exactly(sock, len(payload))
        sender.join(10)
    assert hashlib.sha256(echoed).digest() == hashlib.sha256(payload).digest()


def test_half_close_is_relayed_both_ways(gateway):
    sock, head, _ = upgrade(gateway.port)
    with sock:
        assert status_of(head) == 101
        sock.sendall(b"last words")
        sock.shutdown(socket.SHUT_WR)
        # The echo reads our EOF, echoes what came before it, then sends its own EOF.
        assert recv_all(sock) == b"last words"


def test_upstream_closing_first_ends_the_tunnel(gateway):
    sock, head, rest = upgrade(gateway.port, target=WS_PATH + "&hangup=1")
    with sock:
        assert status_of(head) == 101
        assert rest + recv_all(sock) == b"bye"


@pytest.mark.parametrize("timeout, cut", [("1", True), ("60", False)])
def test_a_client_that_never_closes_is_cut_after_the_half_close_timeout(start_service,
                                                                       upstream, timeout, cut):
    gateway = start_service("gateway", NOTIFY_URL=upstream.url,
                            TUNNEL_HALF_CLOSE_TIMEOUT=timeout)
    pid = gateway.proc.pid
    warm, _, _ = upgrade(gateway.port)
    warm.close()
    time.sleep(0.3)
    before = open_fds(pid)
    sock, head, _ = upgrade(gateway.port, target=WS_PATH + "&hangup=1")
    with sock:  # the upstream says bye and hangs up; this client neither reads nor closes
        assert status_of(head) == 101
        released = eventually(lambda: open_fds(pid) == before, timeout=4)
        assert released == cut, (open_fds(pid), before)


def test_client_disconnects_leave_no_socket_behind(gateway):
    pid = gateway.proc.pid
    warm, _, _ = upgrade(gateway.port)  # the forwarder's own descriptors exist from now on
    warm.sendall(b"w")
    recv_exactly(warm, 1)
    warm.close()
    time.sleep(0.3)
    before = open_fds(pid)
    for abrupt in (False, True, False, True):
        sock, head, _ = upgrade(gateway.port)
        assert status_of(head) == 101
        sock.sendall(b"x" * 100_000)  # in flight when the client goes away
        if abrupt:  # RST instead of FIN
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, RESET)
        sock.close()
    assert eventually(lambda: open_fds(pid) == before), (open_fds(pid), before)


def test_upstream_down_at_upgrade_is_502_json(start_service):
    gateway = start_service("gateway", NOTIFY_URL=f"http://127.0.0.1:{free_port()}")
    sock, head, rest = upgrade(gateway.port)
    with sock:
        assert status_of(head) == 502
        assert json_body(sock, head, rest)["error"]["code"] == "bad_gateway"


def test_tunnels_beyond_max_tunnels_get_503(start_service, upstream):
    gateway = start_service("gateway", NOTIFY_URL=upstream.url, MAX_TUNNELS="2")
    first, head1, _ = upgrade(gateway.port)
    second, head2, _ = upgrade(gateway.port)
    assert (status_of(head1), status_of(head2)) == (101, 101)
    third, head3, rest = upgrade(gateway.port)
    with third:
        assert status_of(head3) == 503
        assert json_body(third, head3, rest)["error"]["code"] == "unavailable"
    first.close()

    def another_fits() -> bool:
        sock, head, _ = upgrade(gateway.port)
        with sock:
            return status_of(head) == 101

    assert eventually(another_fits)
    second.close()


def test_unknown_path_upgrade_is_404_json(gateway):
    sock, head, rest = upgrade(gateway.port, target="/nowhere")
    with sock:
        assert status_of(head) == 404
        assert json_body(sock, head, rest)["error"]["code"] == "not_found"


@pytest.mark.parametrize("target", ["/socket.io/%2e%2e/admin", "/socket.io/..%2Fadmin"])
def test_upgrade_paths_are_normalised_too(gateway, target):
    sock, head, _ = upgrade(gateway.port, target=target)
    with sock:
        assert status_of(head) == 400


def test_stopping_the_gateway_ends_open_tunnels(start_service, upstream):
    gateway = start_service("gateway", NOTIFY_URL=upstream.url)
    sock, head, _ = upgrade(gateway.port)
    with sock:
        assert status_of(head) == 101
        started = time.monotonic()
        assert gateway.stop(timeout=10) == 0
        assert time.monotonic() - started < 5
        sock.settimeout(5)
        assert recv_all(sock) == b""
