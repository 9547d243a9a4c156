"""Helpers of the fault tests: reconnecting clients, a publisher that retries, /proc."""

from __future__ import annotations

import os
import threading
import time

import requests
import socketio

from common.auth import PUBLISH_SCOPE, mint_token
from tests.support import SECRET


class Follower:
    """A python-socketio client that reconnects with backoff and recovers with ``last_id``
    (its ``auth`` is a callable, read again at every reconnect)."""

    def __init__(self, url: str, user: str) -> None:
        self.user = user
        self.token = mint_token(SECRET, user)
        self.last_id: int | None = None
        self.received: list[int] = []
        self.connects = 0
        self.lock = threading.Lock()
        self.sio = socketio.Client(reconnection=True, reconnection_attempts=0,
                                   reconnection_delay=0.2, reconnection_delay_max=2,
                                   randomization_factor=0.5)
        self.sio.on("notification", self._on_notification)
        self.sio.on("connect", self._on_connect)
        self.url = url

    def _auth(self) -> dict:
        return {"token": self.token, "last_id": self.last_id}

    def _on_connect(self) -> None:
        self.connects += 1

    def _on_notification(self, item: dict) -> None:
        with self.lock:
            assert item["user"] == self.user
            self.received.append(item["id"])
            self.last_id = item["id"]

    def start(self, transports=("websocket",)) -> Follower:
        self.sio.connect(self.url, auth=self._auth, transports=list(transports),
                         wait_timeout=10)
        return self

    def close(self) -> None:
        self.sio.disconnect()


class RetryingPublisher:
    """Publishes with an Idempotency-Key and retries the same key until it is stored."""

    def __init__(self, url: str, name: str = "fault-svc") -> None:
        self.url = url
        self.session = requests.Session()
        self.session.headers["Authorization"] = "Bearer " + mint_token(
            SECRET, name, scopes=[PUBLISH_SCOPE])
        self.failures: dict[str, int] = {}

    def publish(self, user: str, title: str, key: str, deadline: float = 60) -> dict:
        give_up = time.monotonic() + deadline
        while True:
            try:
                response = self.session.post(self.url + "/api/notifications", timeout=10,
                                             json={"user": user, "title": title},
                                             headers={"Idempotency-Key": key})
                if response.status_code == 201:
                    return response.json()
                kind = str(response.status_code)
                assert response.status_code in (502, 503, 504), response.text
                assert response.json()["error"]["code"]
            except requests.RequestException as exc:
                kind = type(exc).__name__
            self.failures[kind] = self.failures.get(kind, 0) + 1
            assert time.monotonic() < give_up, f"publish never succeeded: {self.failures}"
            time.sleep(0.1)


def open_fds(pid: int) -> int:
    return len(os.listdir(f"/proc/{pid}/fd"))


def wait_until(predicate, timeout: float, interval: float = 0.1) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(interval)
    return predicate()
