"""Real notify + gateway processes for the hardening tests, with settings per module."""

from __future__ import annotations

import contextlib
import socket
import time
from collections.abc import Iterator

import pytest
import requests

from tests.support import Service

# Far above what a test does, so only the test about a limit ever meets it.
NO_LIMITS = {"CONNECT_RATE_LIMIT": "", "IDENTIFY_RATE_LIMIT": "", "PUBLISH_RATE_LIMIT": ""}


class Stack:
    """A notify process and a gateway in front of it; both logs checked at the end."""

    def __init__(self, workdir, notify_env=None, gateway_env=None) -> None:
        self.workdir = workdir
        self.notify_env = {"DATABASE_URL": f"sqlite:///{workdir}/inbox.db",
                           "AUTH_TIMEOUT": "3", **NO_LIMITS, **(notify_env or {})}
        self.gateway_env = dict(gateway_env or {})
        self.notify: Service | None = None
        self.gateway: Service | None = None
        self.retired: list[Service] = []  # notify processes replaced by restart()

    def start(self) -> Stack:
        self.notify = Service("notify", self.notify_env, self.workdir).start()
        self.gateway = Service("gateway", {"NOTIFY_URL": self.notify.url, **self.gateway_env},
                               self.workdir).start()
        return self

    def restart_notify(self, down: float = 0.0, kill: bool = False) -> None:
        """Stop notify and start it again on the same port (so the gateway finds it)."""
        port = self.notify.port
        self.notify.stop() if not kill else self.notify.kill()
        self.retired.append(self.notify)
        time.sleep(down)
        self.notify = Service("notify", self.notify_env, self.workdir, port=port).start()

    def logs(self) -> str:
        services = [*self.retired, self.notify, self.gateway]
        return "\n".join(s.log() for s in services if s is not None)

    def stop(self) -> list[int]:
        codes = []
        for service in (self.gateway, self.notify):
            if service is not None:
                codes.append(service.stop())
        return codes


@pytest.fixture
def make_stack(tmp_path) -> Iterator:
    """``make_stack(notify_env=..., gateway_env=...)``: a started :class:`Stack`."""
    made: list[Stack] = []

    def make(**kwargs) -> Stack:
        made.append(Stack(tmp_path / f"stack{len(made)}", **kwargs).start())
        return made[-1]

    yield make
    for stack in made:
        stack.stop()


@pytest.fixture(scope="module")
def stack(tmp_path_factory) -> Iterator[Stack]:
    """One stack with no rate limits, shared by a module; no traceback in its logs."""
    shared = Stack(tmp_path_factory.mktemp("stack")).start()
    yield shared
    assert shared.stop() == [0, 0]
    assert "Traceback" not in shared.logs(), shared.logs()[-3000:]


def raw_exchange(url: str, data: bytes, timeout: float = 10) -> bytes:
    """Send ``data`` on a fresh connection to ``url``'s host and return all it answers.

    Sending stops early if the server closes on us (it refused the request midway)."""
    host, port = url.split("//", 1)[1].split(":")
    with socket.create_connection((host, int(port)), timeout=timeout) as sock:
        with contextlib.suppress(OSError):
            sock.sendall(data)
        with contextlib.suppress(OSError):
            sock.shutdown(socket.SHUT_WR)
        chunks = []
        with contextlib.suppress(ConnectionResetError):
            while chunk := sock.recv(65536):
                chunks.append(chunk)
    return b"".join(chunks)


def still_serving(*urls: str) -> None:
    for url in urls:
        assert requests.get(url + "/healthz", timeout=5).status_code == 200
