"""A purpose-built HTTP server between the client and notify that fails on purpose.

Each POST takes the next fault from :attr:`Flaky.faults`; with none left it proxies to notify.
Every request's ``Idempotency-Key`` is recorded in :attr:`Flaky.keys`.

``"503"``, ``"502"``      answer that status (notify's error shape) without forwarding
``"429:S"``               answer 429 with ``Retry-After: S`` without forwarding
``"reset"``               read the request, then close the connection without answering
``"lost-502"``            forward to notify (so it is stored), then answer 502 instead
``"slow:S"``              forward to notify, then wait ``S`` seconds before answering
``"echo-400"``            answer 400 with the request's Authorization header in the message
"""

from __future__ import annotations

import collections
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import requests


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server

    def log_message(self, *args) -> None:  # quiet
        pass

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        flaky = self.server.flaky
        with flaky.lock:
            flaky.keys.append(self.headers.get("Idempotency-Key"))
            fault = flaky.faults.popleft() if flaky.faults else None
        if fault == "reset":
            self.close_connection = True
            return  # nothing written: the client sees the connection close
        if fault in ("503", "502") or (fault or "").startswith("429:"):
            status, _, after = fault.partition(":")
            self._answer(int(status), _error("unavailable", "try later"),
                         {"Retry-After": after} if after else {})
            return
        if fault == "echo-400":
            self._answer(400, _error("bad_request", f"you sent {self.headers['Authorization']}"))
            return
        upstream = requests.post(flaky.upstream + self.path, data=body, timeout=10, headers={
            k: v for k, v in self.headers.items()
            if k in ("Authorization", "Idempotency-Key", "Content-Type")})
        if fault == "lost-502":
            self._answer(502, _error("bad_gateway", "upstream answer lost"))
            return
        if fault and fault.startswith("slow:"):
            time.sleep(float(fault.split(":")[1]))
        self._answer(upstream.status_code, upstream.content)

    def _answer(self, status: int, body: bytes, headers: dict | None = None) -> None:
        try:
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            for name, value in (headers or {}).items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(body)
        except OSError:  # the client gave up waiting (the "slow" fault)
            self.close_connection = True


def _error(code: str, message: str) -> bytes:
    return json.dumps({"error": {"code": code, "message": message}}).encode()


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    flaky: Flaky


class Flaky:
    def __init__(self, upstream: str, faults=()) -> None:
        self.upstream = upstream
        self.faults: collections.deque[str] = collections.deque(faults)
        self.keys: list[str | None] = []
        self.lock = threading.Lock()
        self._server = _Server(("127.0.0.1", 0), Handler)
        self._server.flaky = self
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"

    def __enter__(self) -> Flaky:
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc_info) -> None:
        self._server.shutdown()
        self._server.server_close()
