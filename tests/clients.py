"""Real clients for tests: python-socketio sockets that record what they receive."""

from __future__ import annotations

import queue
import threading

import requests
import socketio

from common.auth import PUBLISH_SCOPE, mint_token
from tests.support import SECRET


class Recorder:
    """A python-socketio client that queues its notifications and notes its disconnect."""

    def __init__(self, **client_options) -> None:
        self.sio = socketio.Client(**{"reconnection": False, **client_options})
        self.notifications: queue.Queue = queue.Queue()
        self.events: queue.Queue = queue.Queue()
        self.connect_errors: queue.Queue = queue.Queue()
        self.disconnected = threading.Event()
        self.disconnect_reason: str | None = None
        self.sio.on("notification", self.notifications.put)
        self.sio.on("connect_error", self.connect_errors.put)
        self.sio.on("disconnect", self._on_disconnect)
        for name in ("session_expired", "unread_count"):
            self.sio.on(name, lambda data, name=name: self.events.put((name, data)))

    def _on_disconnect(self, reason: str | None = None) -> None:
        self.disconnect_reason = reason
        self.disconnected.set()

    def connect(self, url: str, *, transports=("websocket",), **kwargs) -> Recorder:
        self.sio.connect(url, transports=list(transports), wait_timeout=10, **kwargs)
        return self

    def next(self, timeout: float = 5) -> dict:
        return self.notifications.get(timeout=timeout)

    def drain(self, wait: float = 0.5) -> list[dict]:
        """Everything received within ``wait`` seconds from now."""
        items = []
        try:
            while True:
                items.append(self.notifications.get(timeout=wait))
        except queue.Empty:
            return items

    def call(self, event: str, data=None, timeout: float = 5):
        return self.sio.call(event, data, timeout=timeout)

    def close(self) -> None:
        if self.sio.connected:
            self.sio.disconnect()


class Publisher:
    """A service publishing over REST with a `notifications:publish` token."""

    def __init__(self, base_url: str, name: str = "svc") -> None:
        self.base_url = base_url
        self.session = requests.Session()
        self.session.headers["Authorization"] = "Bearer " + mint_token(
            SECRET, name, scopes=[PUBLISH_SCOPE])

    def publish(self, user: str | None = None, title: str = "hello", *, users=None,
                idempotency_key: str | None = None, **fields) -> requests.Response:
        body = {"title": title, **fields}
        if users is not None:
            body["users"] = users
        else:
            body["user"] = user
        headers = {"Idempotency-Key": idempotency_key} if idempotency_key else {}
        return self.session.post(self.base_url + "/api/notifications", json=body,
                                 headers=headers, timeout=10)

    def ok(self, user: str, title: str = "hello", **fields) -> dict:
        response = self.publish(user, title, **fields)
        assert response.status_code == 201, response.text
        return response.json()
