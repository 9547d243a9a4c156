"""A purpose-built upstream for the gateway's tests, served from a thread of the test process.

Every request is recorded in :attr:`Upstream.requests` (method, raw target, headers as sent,
body length and hash).  What it answers depends on the last path segment:

``big?size=N``  N bytes of :func:`pattern` with a Content-Length (``&chunked=1``: chunked)
``gzip``        :data:`GZIP_BODY` with ``Content-Encoding: gzip``
``cookies``     two ``Set-Cookie``, a repeated header and hop-by-hop ones to be dropped
``redirect``    302 to ``/elsewhere``
``status``      ``?code=N`` with a reason phrase of its own
``slow``        answers after ``?seconds=S``
``die``         promises 1,000,000 bytes, sends 10 and closes
``healthz``     200, or 503 after :meth:`Upstream.set_health`
anything else   200 with the request as JSON

A request carrying ``Upgrade: websocket`` is answered ``101 Switching Protocols`` and then
every byte it sends is echoed back until it sends EOF (half-close: the echo then ends too);
with ``hangup=1`` in its query the upstream sends ``bye`` and closes instead.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

GZIP_PLAIN = b'{"compressed": true, "filler": "' + b"abc" * 20_000 + b'"}'
GZIP_BODY = gzip.compress(GZIP_PLAIN, mtime=0)
_BLOCK = hashlib.sha256(b"seed").digest() * 2048  # 64 KiB


def pattern(size: int):
    """The ``big`` body, in pieces: deterministic, so the test can hash what it expects."""
    while size > 0:
        piece = _BLOCK[:size]
        size -= len(piece)
        yield piece


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # headers and body are separate writes
    server: _Server

    def log_message(self, *args) -> None:  # quiet
        pass

    def handle_one_request(self) -> None:
        try:
            super().handle_one_request()
        except (ConnectionError, TimeoutError):
            self.close_connection = True

    def do_GET(self) -> None:
        self._dispatch()

    do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = do_OPTIONS = do_GET

    def _dispatch(self) -> None:
        size, digest = self._read_body()
        parts = urlsplit(self.path)
        query = {k: v[0] for k, v in parse_qs(parts.query).items()}
        record = {"method": self.command, "target": self.path, "path": parts.path,
                  "headers": [[k, v] for k, v in self.headers.items()],
                  "body_size": size, "body_sha256": digest}
        self.server.requests.append(record)
        if self.headers.get("Upgrade", "").lower() == "websocket":
            return self._echo_upgrade()
        name = parts.path.rstrip("/").rsplit("/", 1)[-1]
        handler = getattr(self, f"_answer_{name}", None)
        if handler is None:
            return self._send(200, json.dumps(record).encode(), "application/json")
        return handler(query)

    def _read_body(self) -> tuple[int, str]:
        digest = hashlib.sha256()
        size = 0
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            while True:
                length = int(self.rfile.readline().split(b";")[0], 16)
                if not length:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass
                    break
                data = self.rfile.read(length)
                self.rfile.readline()
                digest.update(data)
                size += len(data)
        else:
            remaining = int(self.headers.get("Content-Length") or 0)
            while remaining:
                data = self.rfile.read(min(remaining, 1 << 20))
                if not data:
                    break
                digest.update(data)
                size += len(data)
                remaining -= len(data)
        return size, digest.hexdigest()

    def _send(self, status: int, body: bytes, content_type: str | None = None,
              headers: list[tuple[str, str]] = (), reason: str | None = None) -> None:
        self.send_response(status, reason)
        if content_type:
            self.send_header("Content-Type", content_type)
        for name, value in headers:
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def _answer_big(self, query: dict) -> None:
        size = int(query.get("size", 1 << 20))
        chunked = query.get("chunked") == "1"
        self.send_response(200)
        self.send_header("Content-Type", "application/octet-stream")
        if chunked:
            self.send_header("Transfer-Encoding", "chunked")
        else:
            self.send_header("Content-Length", str(size))
        self.end_headers()
        for piece in pattern(size):
            if chunked:
                self.wfile.write(b"%x\r\n%s\r\n" % (len(piece), piece))
            else:
                self.wfile.write(piece)
        if chunked:
            self.wfile.write(b"0\r\n\r\n")

    def _answer_gzip(self, query: dict) -> None:
        self._send(200, GZIP_BODY, "application/json", [("Content-Encoding", "gzip"),
                                                        ("Vary", "Accept-Encoding")])

    def _answer_cookies(self, query: dict) -> None:
        self._send(200, b"{}", "application/json", [
            ("Set-Cookie", "a=1; Path=/; HttpOnly"), ("Set-Cookie", "b=2; Path=/"),
            ("X-Repeated", "one"), ("X-Repeated", "two"),
            ("Keep-Alive", "timeout=5"), ("Connection", "X-Hop-Secret"),
            ("X-Hop-Secret", "dropped"), ("Proxy-Authenticate", "Basic"),
            ("Trailer", "X-Checksum"), ("Upgrade", "h2c"),
        ])

    def _answer_redirect(self, query: dict) -> None:
        self._send(302, b"", None, [("Location", "/elsewhere")])

    def _answer_status(self, query: dict) -> None:
        self._send(int(query.get("code", 200)), b"teapot", "text/plain", reason="Custom Reason")

    def _answer_slow(self, query: dict) -> None:
        time.sleep(float(query.get("seconds", 3)))
        self._send(200, b"late", "text/plain")

    def _answer_die(self, query: dict) -> None:
        self.send_response(200)
        self.send_header("Content-Length", "1000000")
        self.end_headers()
        self.wfile.write(b"0123456789")
        self.wfile.flush()
        self.connection.shutdown(socket.SHUT_RDWR)
        self.close_connection = True

    def _answer_healthz(self, query: dict) -> None:
        status = self.server.health
        self._send(status, json.dumps({"status": status}).encode(), "application/json")

    def _echo_upgrade(self) -> None:
        self.wfile.write(b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
                         b"Connection: Upgrade\r\n\r\n")
        self.wfile.flush()
        if "hangup=1" in self.path:  # the upstream ends the tunnel first
            self.connection.sendall(b"bye")
            self.connection.shutdown(socket.SHUT_RDWR)
            self.close_connection = True
            return
        while True:
            data = self.rfile.read1(65536)  # what the request's buffer holds first
            if not data:
                break
            self.connection.sendall(data)
        self.connection.shutdown(socket.SHUT_WR)
        self.close_connection = True


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    requests: list[dict]
    health: int


class Upstream:
    """The server on an ephemeral loopback port; ``url`` is its base URL."""

    def __init__(self, port: int = 0) -> None:
        self.server = _Server(("127.0.0.1", port), Handler)
        self.server.requests = []
        self.server.health = 200
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def requests(self) -> list[dict]:
        return self.server.requests

    def last(self, path_part: str) -> dict:
        """The most recent request whose target contains ``path_part``."""
        for record in reversed(self.server.requests):
            if path_part in record["target"]:
                return record
        raise AssertionError(f"no request for {path_part!r} reached the upstream")

    def set_health(self, status: int) -> None:
        self.server.health = status

    def start(self) -> Upstream:
        self._thread.start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def free_port() -> int:
    """A loopback port nothing listens on (the upstream that is down)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]
