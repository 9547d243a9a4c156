"""Extension objects, created empty and bound to the app in ``create_app``."""

from __future__ import annotations

from flask_socketio import SocketIO

from notify_app.metrics import NotifyMetrics
from notify_app.sessions import SocketRegistry
from notify_app.store import Store

socketio = SocketIO()
store = Store()
registry = SocketRegistry()
metrics = NotifyMetrics()


def user_room(user: str) -> str:
    """The room every socket of ``user`` joins."""
    return f"user:{user}"
