"""Faults: notify restarted or killed under load, slow and idle clients, SIGTERM."""

from __future__ import annotations

import contextlib
import signal
import socket
import threading
import time

import pytest
import requests
import websocket

from tests.clients import Publisher, Recorder
from tests.gateway_app.upstream import Upstream
from tests.hardening.faults import Follower, RetryingPublisher, open_fds, wait_until
from tests.support import Service

pytestmark = pytest.mark.timeout(240)


def test_notify_restarted_under_load_loses_and_repeats_nothing(make_stack, user):
    stack = make_stack()
    users = [f"{user}-{n}" for n in range(6)]
    followers = [Follower(stack.gateway.url, u).start(
        ("websocket",) if n % 2 else ("polling", "websocket")) for n, u in enumerate(users)]
    publisher = RetryingPublisher(stack.gateway.url)
    published: dict[str, list[int]] = {u: [] for u in users}
    stop = threading.Event()

    def publish_loop() -> None:
        n = 0
        while not stop.is_set():
            target = users[n % len(users)]
            item = publisher.publish(target, f"n{n}", key=f"restart-{n}")
            published[target].append(item["id"])
            n += 1
            time.sleep(0.01)

    thread = threading.Thread(target=publish_loop)
    thread.start()
    try:
        time.sleep(1.5)
        stack.restart_notify(down=1.0)  # SIGTERM: sockets are told to go, then it is gone
        time.sleep(1.5)
        stack.restart_notify(kill=True)  # SIGKILL: nothing is told to anyone
        time.sleep(1.5)
    finally:
        stop.set()
        thread.join(60)
    try:
        for follower in followers:
            expected = published[follower.user]
            assert wait_until(lambda f=follower, e=expected: len(f.received) >= len(e), 30)
            time.sleep(0.3)
            assert follower.received == expected, follower.user  # none lost, none twice
            assert follower.connects >= 2  # it really did reconnect
        assert sum(map(len, published.values())) > 20
    finally:
        for follower in followers:
            follower.close()


def test_killing_notify_closes_every_tunnel_and_the_gateway_recovers(make_stack, token, user):
    stack = make_stack()
    gateway_pid = stack.gateway.proc.pid
    baseline = open_fds(gateway_pid)
    clients = [Recorder().connect(stack.gateway.url, auth={"token": token(user)})
               for _ in range(10)]
    assert open_fds(gateway_pid) >= baseline + 20  # two descriptors per tunnel
    stack.notify.kill()
    for client in clients:
        assert client.disconnected.wait(10)  # the client's end is closed
    # ... and the gateway's: no descriptor of a dead tunnel is left behind.
    assert wait_until(lambda: open_fds(gateway_pid) <= baseline + 2, 10), open_fds(gateway_pid)
    down = requests.get(stack.gateway.url + "/api/notifications/unread-count", timeout=10,
                        headers={"Authorization": f"Bearer {token(user)}"})
    assert down.status_code in (502, 504)
    assert down.json()["error"]["code"] in ("bad_gateway", "gateway_timeout")
    stack.retired.append(stack.notify)
    stack.notify = Service("notify", stack.notify_env, stack.workdir,
                           port=stack.notify.port).start()
    # Served again as soon as the upstream is back: no health-check delay on the way.
    client = Recorder().connect(stack.gateway.url, auth={"token": token(user)})
    sent = Publisher(stack.gateway.url).ok(user)
    assert client.next() == sent
    client.close()


def _slowloris(url: str) -> socket.socket:
    host, port = url.split("//", 1)[1].split(":")
    sock = socket.create_connection((host, int(port)), timeout=5)
    sock.sendall(b"GET /healthz HTTP/1.1\r\n")
    return sock


def _dripping(socks: list[socket.socket], stop: threading.Event, closed: set) -> None:
    """Send each slow client one more header byte every 0.3 s until the server hangs up."""
    while not stop.is_set():
        for sock in socks:
            if sock in closed:
                continue
            try:
                sock.sendall(b"X")
                sock.setblocking(False)
                try:
                    if sock.recv(1024) == b"":
                        closed.add(sock)
                except BlockingIOError:
                    pass
                finally:
                    sock.setblocking(True)
            except OSError:
                closed.add(sock)
        time.sleep(0.3)


def _anonymous_websocket(url: str) -> websocket.WebSocket:
    ws = websocket.create_connection(
        url.replace("http", "ws") + "/socket.io/?EIO=4&transport=websocket", timeout=10)
    assert ws.recv().startswith("0{")
    ws.send("40")  # Socket.IO connect without a token: anonymous
    assert ws.recv().startswith("40")
    return ws


def _is_closed(ws: websocket.WebSocket) -> bool:
    """Read what the server sent; true once it has closed the connection."""
    ws.settimeout(0.05)
    try:
        while True:
            if ws.recv() in ("", None):
                return True
    except websocket.WebSocketTimeoutException:
        return False
    except (websocket.WebSocketException, OSError):
        return True


def test_slow_and_idle_clients_are_cut_off_and_starve_no_one(make_stack, token, user):
    env = {"HEADER_TIMEOUT": "2"}
    stack = make_stack(notify_env={**env, "AUTH_TIMEOUT": "8"}, gateway_env=env)
    slow = [_slowloris(url) for url in (stack.gateway.url, stack.notify.url) for _ in range(25)]
    closed: set = set()
    stop = threading.Event()
    dripper = threading.Thread(target=_dripping, args=(slow, stop, closed))
    dripper.start()
    idle: list[websocket.WebSocket] = []
    try:
        started = time.monotonic()
        for _ in range(1000):
            idle.append(_anonymous_websocket(stack.gateway.url))
        opened = time.monotonic() - started
        # Meanwhile an authenticated user connects and receives at once.
        client = Recorder().connect(stack.gateway.url, auth={"token": token(user)})
        sent = Publisher(stack.gateway.url).ok(user)
        assert client.next(timeout=5) == sent
        assert wait_until(lambda: len(closed) == len(slow), 10), len(closed)
        # Every idle socket is dropped after AUTH_TIMEOUT (8 s from its connect).
        assert wait_until(lambda: all(_is_closed(ws) for ws in idle[-50:]), 8 + 15)
        still_open = [ws for ws in idle if not _is_closed(ws)]
        assert not still_open, f"{len(still_open)} of 1000 idle sockets still open " \
                               f"(opened in {opened:.1f}s)"
        assert client.sio.connected
        sent = Publisher(stack.gateway.url).ok(user)
        assert client.next(timeout=5) == sent
        client.close()
    finally:
        stop.set()
        dripper.join(10)
        for sock in slow:
            sock.close()
        for ws in idle:
            with contextlib.suppress(Exception):
                ws.close()
    assert "Traceback" not in stack.logs()


def test_sigterm_lets_an_in_flight_request_finish_then_exits_0(tmp_path, token, user):
    upstream = Upstream().start()
    gateway = Service("gateway", {"NOTIFY_URL": upstream.url,
                                  "GATEWAY_ROUTES": f"/slow={upstream.url}"}, tmp_path).start()
    try:
        result: dict = {}

        def slow_call() -> None:
            result["response"] = requests.get(gateway.url + "/slow/slow?seconds=2", timeout=15)

        thread = threading.Thread(target=slow_call)
        thread.start()
        time.sleep(0.5)
        gateway.proc.send_signal(signal.SIGTERM)
        time.sleep(0.3)
        with pytest.raises(requests.ConnectionError):  # no longer accepting
            requests.get(gateway.url + "/healthz", timeout=2)
        thread.join(15)
        assert result["response"].status_code == 200
        assert gateway.proc.wait(15) == 0  # on its own, after the in-flight request
    finally:
        gateway.stop()
        upstream.stop()


def test_sigterm_on_notify_tells_sockets_to_go_and_exits_0(start_service, token, user):
    notify = start_service("notify")
    client = Recorder().connect(notify.url, auth={"token": token(user)})
    started = time.monotonic()
    assert notify.stop() == 0
    assert client.disconnected.wait(5)
    assert time.monotonic() - started < 10
    assert "Traceback" not in notify.log()
