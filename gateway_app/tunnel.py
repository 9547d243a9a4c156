"""WebSocket upgrades: connect upstream, replay the request, hijack, splice the bytes.

The upstream connection is made (and the request head sent) before the client socket is
taken from the server, so an upstream that is down gets an ordinary 502 JSON response.
From then on no frame is parsed: the upstream's 101 (or its error) and every byte after it
flow through :class:`~gateway_app.forwarder.Forwarder`, while this request's green thread
only waits for the tunnel's end and then closes both sockets.
"""

from __future__ import annotations

import contextlib
import logging
import socket
import time

from flask import Response, request

from common import runtime
from common.config import GatewayConfig
from common.errors import BadGateway, GatewayTimeout, ServiceUnavailable
from gateway_app.forwarder import Forwarder, Tunnel
from gateway_app.headers import Forwarding, request_id
from gateway_app.metrics import TUNNEL_KEY, metrics
from gateway_app.routes import Route
from gateway_app.upstreams import Upstream, session_id

log = logging.getLogger(__name__)

# How long a tunnel whose green thread is being torn down waits for the loop to let go of
# its sockets before leaving them open rather than risk closing a descriptor in use.
RELEASE_SECONDS = 5.0


class Tunnels:
    """The gateway's tunnels: the cap, the connect timeout, the shared forwarding loop."""

    def __init__(self, config: GatewayConfig) -> None:
        self.limit = config.MAX_TUNNELS
        self.connect_timeout = config.UPSTREAM_CONNECT_TIMEOUT
        self.active = 0
        self.forwarder = Forwarder(config.TUNNEL_HALF_CLOSE_TIMEOUT)

    def stop(self) -> None:
        """End every tunnel (the process is stopping; clients reconnect elsewhere)."""
        self.forwarder.shutdown_all()

    def open(self, forwarding: Forwarding, route: Route, path: str) -> Response:
        """Tunnel the current upgrade request to ``route``; returns once the tunnel ended."""
        if self.active >= self.limit:
            raise ServiceUnavailable("Too many WebSocket connections; retry later.")
        self.active += 1
        metrics.tunnels_open.inc()
        try:
            return self._open(forwarding, route, path)
        finally:
            self.active -= 1
            metrics.tunnels_open.dec()

    def _open(self, forwarding: Forwarding, route: Route, path: str) -> Response:
        started = time.monotonic()
        environ = request.environ
        rid = request_id(environ)
        query = environ.get("QUERY_STRING")
        target = f"{path}?{query}" if query else path
        headers = forwarding.upstream_headers(runtime.raw_headers(environ), environ, rid,
                                              upgrade=True)
        head = _request_head(environ["REQUEST_METHOD"], target, headers)
        nodes = route.upstreams.candidates(session_id(query))
        node, upstream = self._connect(nodes, head, rid)
        client, early = runtime.hijack(environ)
        environ[TUNNEL_KEY] = True
        # From here on the server writes nothing for us: every failure just closes.
        tunnel = None
        try:
            if early:
                upstream.sendall(early)
            client.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            tunnel = self._splice(client, upstream)
        except OSError as exc:
            log.info("tunnel %s failed before splicing: %s rid=%s", node.url, exc, rid)
        finally:
            _close(client)
            _close(upstream)
        if tunnel is not None:
            _log_end(tunnel, target, node, started, rid)
        return Response()  # never written: the server knows the socket was taken

    def _connect(self, nodes: list[Upstream], head: bytes, rid: str
                 ) -> tuple[Upstream, socket.socket]:
        """A connection to the first node that takes it, with ``head`` sent."""
        error: Exception = BadGateway()
        for node in nodes:
            if node.scheme != "http":
                log.error("cannot tunnel to %s: only http:// upstreams rid=%s", node.url, rid)
                continue
            try:
                sock = socket.create_connection(node.address, timeout=self.connect_timeout)
            except TimeoutError:
                log.warning("upstream %s: connect timed out rid=%s", node.url, rid)
                error = GatewayTimeout()
                continue
            except OSError as exc:
                log.warning("upstream %s: %s rid=%s", node.url, exc, rid)
                node.mark_down()
                error = BadGateway()
                continue
            try:
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                sock.sendall(head)
            except OSError as exc:
                log.warning("upstream %s: %s rid=%s", node.url, exc, rid)
                _close(sock)
                raise BadGateway() from None
            node.mark_up()
            return node, sock
        raise error

    def _splice(self, client: socket.socket, upstream: socket.socket) -> Tunnel:
        done = runtime.ThreadSignal()
        tunnel = self.forwarder.add(runtime.native_socket(client),
                                    runtime.native_socket(upstream), done.set)
        try:
            done.wait()
        finally:
            if not tunnel.finished:
                # This green thread is being killed: make the loop let go first.
                for sock in (client, upstream):
                    with contextlib.suppress(OSError):
                        sock.shutdown(socket.SHUT_RDWR)
                if not done.wait(RELEASE_SECONDS):
                    log.error("tunnel did not end; leaving its sockets open")
                    client.detach()
                    upstream.detach()
        return tunnel


def _request_head(method: str, target: str, headers: list[tuple[str, str]]) -> bytes:
    lines = [f"{method} {target} HTTP/1.1", *(f"{name}: {value}" for name, value in headers)]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")


def _close(sock: socket.socket) -> None:
    with contextlib.suppress(OSError):
        sock.shutdown(socket.SHUT_RDWR)
    sock.close()


def _log_end(tunnel: Tunnel, target: str, node: Upstream, started: float, rid: str) -> None:
    seconds = time.monotonic() - started
    if log.isEnabledFor(logging.DEBUG):
        log.debug("tunnel %s -> %s %.1fs up=%d down=%d%s rid=%s", target, node.url, seconds,
                  tunnel.bytes_up, tunnel.bytes_down,
                  f" error={tunnel.error}" if tunnel.error else "", rid)
    else:
        log.info("tunnel %s %.1fs up=%d down=%d rid=%s", target.split("?", 1)[0], seconds,
                 tunnel.bytes_up, tunnel.bytes_down, rid)
