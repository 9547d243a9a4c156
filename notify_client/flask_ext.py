"""The Flask extension: ``notify = Notify()``, then ``notify.init_app(app)``."""

from __future__ import annotations

from typing import Any

from flask import current_app, has_app_context

from notify_client.client import NotifyClient

EXTENSION = "notify_client"


class Notify:
    """Binds a :class:`NotifyClient` to an app from ``NOTIFY_URL`` and ``NOTIFY_TOKEN``.

    Optional: ``NOTIFY_TIMEOUT`` (seconds, default 5) and ``NOTIFY_RETRIES`` (default 3).
    """

    def __init__(self, app: Any = None) -> None:
        self._client: NotifyClient | None = None
        if app is not None:
            self.init_app(app)

    def init_app(self, app: Any) -> None:
        config = app.config
        if not config.get("NOTIFY_URL") or not config.get("NOTIFY_TOKEN"):
            raise RuntimeError("Notify needs NOTIFY_URL and NOTIFY_TOKEN in app.config")
        client = NotifyClient(config["NOTIFY_URL"], config["NOTIFY_TOKEN"],
                              timeout=config.get("NOTIFY_TIMEOUT", 5.0),
                              retries=config.get("NOTIFY_RETRIES", 3))
        app.extensions[EXTENSION] = client
        self._client = client  # for code outside an app context in a one-app process

    @property
    def client(self) -> NotifyClient:
        """The current app's client (the last bound one outside an app context)."""
        if has_app_context() and EXTENSION in current_app.extensions:
            return current_app.extensions[EXTENSION]
        if self._client is None:
            raise RuntimeError("Notify.init_app(app) has not been called")
        return self._client
