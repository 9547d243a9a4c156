"""Fixtures of the gateway tests: purpose-built upstreams and gateways in front of them."""

from __future__ import annotations

import http.client
import os
import time

import pytest

from tests.gateway_app.upstream import Upstream
from tests.support import Service

READ_TIMEOUT = 1.0
MAX_BODY = 32 * 1024 * 1024


@pytest.fixture(scope="module")
def upstream():
    server = Upstream().start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def other():
    """The back end of the routes added with GATEWAY_ROUTES."""
    server = Upstream().start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def gateway(upstream, other, tmp_path_factory):
    """A gateway with NOTIFY_URL at ``upstream`` and two extra routes to ``other``."""
    service = Service("gateway", {
        "NOTIFY_URL": upstream.url,
        "GATEWAY_ROUTES": f"/extra={other.url},/mapped/={other.url}/base/",
        "UPSTREAM_READ_TIMEOUT": str(READ_TIMEOUT),
        "POLLING_READ_TIMEOUT": "5",
        "MAX_CONTENT_LENGTH": str(MAX_BODY),
        "LOG_LEVEL": "debug",
    }, tmp_path_factory.mktemp("gateway")).start()
    yield service
    assert service.stop() == 0
    assert "Traceback" not in service.log(), service.log()


def raw_request(service: Service, method: str, target: str, headers: dict | None = None,
                body: bytes | None = None) -> tuple[int, dict, bytes]:
    """A request sent exactly as written (``requests`` would normalise the path)."""
    conn = http.client.HTTPConnection("127.0.0.1", service.port, timeout=10)
    try:
        conn.request(method, target, body=body, headers=headers or {})
        response = conn.getresponse()
        return response.status, dict(response.getheaders()), response.read()
    finally:
        conn.close()


def proc_status(pid: int, field: str) -> int:
    """A number from /proc/<pid>/status, e.g. ``VmRSS`` in kB."""
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    raise KeyError(field)


def open_fds(pid: int) -> int:
    return len(os.listdir(f"/proc/{pid}/fd"))


def eventually(check, timeout: float = 10.0, interval: float = 0.05):
    """``check()``'s first truthy value within ``timeout`` seconds, else its last value."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value or time.monotonic() >= deadline:
            return value
        time.sleep(interval)

