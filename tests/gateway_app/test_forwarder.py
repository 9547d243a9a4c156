"""The native forwarding loop on its own, with socket pairs in this process."""

from __future__ import annotations

import hashlib
import os
import socket
import struct
import threading
import time

import pytest

from gateway_app.forwarder import CHUNK, Forwarder

RESET = struct.pack("ii", 1, 0)  # SO_LINGER on, 0 s: close() sends RST


@pytest.fixture(scope="module")
def forwarder():
    return Forwarder()


class Spliced:
    """``left`` and ``right`` are the outer ends; the forwarder joins the inner ones."""

    def __init__(self, forwarder: Forwarder, kind=socket.AF_INET) -> None:
        self.left, inner_left = _pair(kind)
        self.right, inner_right = _pair(kind)
        self.done = threading.Event()
        self.tunnel = forwarder.add(inner_left, inner_right, self.done.set)
        self.inner = (inner_left, inner_right)

    def close(self) -> None:
        # As the gateway does: the inner sockets are closed only once the loop let go.
        self.left.close()
        self.right.close()
        assert self.done.wait(5)
        for sock in self.inner:
            sock.close()


def _pair(kind) -> tuple[socket.socket, socket.socket]:
    if kind == socket.AF_UNIX:
        a, b = socket.socketpair()
    else:
        with socket.create_server(("127.0.0.1", 0)) as server:
            a = socket.create_connection(server.getsockname())
            b, _ = server.accept()
    b.setblocking(False)
    a.settimeout(10)
    return a, b


def test_bytes_both_ways_then_half_close_then_done(forwarder):
    spliced = Spliced(forwarder)
    try:
        spliced.left.sendall(b"to the right")
        assert spliced.right.recv(100) == b"to the right"
        spliced.right.sendall(b"to the left")
        assert spliced.left.recv(100) == b"to the left"
        spliced.left.shutdown(socket.SHUT_WR)
        assert spliced.right.recv(100) == b""  # EOF relayed
        spliced.right.sendall(b"still open this way")
        assert spliced.left.recv(100) == b"still open this way"
        assert not spliced.done.is_set()
        spliced.right.shutdown(socket.SHUT_WR)
        assert spliced.left.recv(100) == b""
        assert spliced.done.wait(5)
        assert spliced.tunnel.error is None
        assert (spliced.tunnel.bytes_up, spliced.tunnel.bytes_down) == (12, 30)
    finally:
        spliced.close()


def test_a_reader_that_does_not_read_stops_the_writer(forwarder):
    spliced = Spliced(forwarder, socket.AF_UNIX)
    payload = os.urandom(32 * 1024 * 1024)
    sent = 0

    def send() -> None:
        nonlocal sent
        view = memoryview(payload)
        while sent < len(payload):
            sent += spliced.left.send(view[sent:sent + CHUNK])

    sender = threading.Thread(target=send, daemon=True)
    try:
        sender.start()
        time.sleep(0.5)
        stalled = sent
        assert stalled < len(payload) // 2  # held back, not buffered by the forwarder
        received = bytearray()
        while len(received) < len(payload):
            received += spliced.right.recv(1 << 20)
        sender.join(5)
        assert hashlib.sha256(received).digest() == hashlib.sha256(payload).digest()
        assert not spliced.done.is_set()
    finally:
        spliced.close()


def test_a_reset_ends_the_tunnel_with_an_error(forwarder):
    spliced = Spliced(forwarder)
    try:
        spliced.left.sendall(b"x")
        assert spliced.right.recv(1) == b"x"
        spliced.right.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, RESET)
        spliced.right.close()  # RST
        spliced.left.sendall(b"more")
        assert spliced.done.wait(5)
        assert spliced.tunnel.error is not None
        assert spliced.left.recv(100) == b""  # shut down: the client learns at once
    finally:
        spliced.close()


def test_many_tunnels_share_the_loop(forwarder):
    tunnels = [Spliced(forwarder) for _ in range(20)]
    try:
        for number, spliced in enumerate(tunnels):
            spliced.left.sendall(b"%d" % number)
        for number, spliced in enumerate(tunnels):
            assert spliced.right.recv(10) == b"%d" % number
        for spliced in tunnels:
            spliced.left.shutdown(socket.SHUT_WR)
            spliced.right.shutdown(socket.SHUT_WR)
        assert all(spliced.done.wait(5) for spliced in tunnels)
        assert len(forwarder) == 0
    finally:
        for spliced in tunnels:
            spliced.close()
