"""Socket.IO client managers that deliver `notification` events through the registry.

python-socketio's pub/sub managers hand every message (local or from the queue) to the base
``Manager.emit``; putting :class:`NotificationManager` between them in the MRO lets each
node decide per socket whether a notification is new to it.
"""

from __future__ import annotations

import socketio

from notify_app.sessions import SocketRegistry

NOTIFICATION_EVENT = "notification"
CHANNEL = "flask-socketio"


class NotificationManager(socketio.Manager):
    """The in-memory manager, with per-socket admission of notifications."""

    registry: SocketRegistry  # set by make_manager()

    def emit(self, event, data, namespace, room=None, skip_sid=None, callback=None,
             to=None, **kwargs):
        if event != NOTIFICATION_EVENT or callback is not None or not isinstance(data, dict):
            return super().emit(event, data, namespace, room=room, skip_sid=skip_sid,
                                callback=callback, to=to, **kwargs)
        for sid, _eio_sid in list(self.get_participants(namespace, to or room)):
            if sid != skip_sid and self.registry.admit(sid, data):
                self.send_to(sid, data, namespace)

    def send_to(self, sid: str, notification: dict, namespace: str = "/") -> None:
        """Send one notification to one local socket, bypassing admission (replays)."""
        socketio.Manager.emit(self, NOTIFICATION_EVENT, notification, namespace, room=sid)


class RedisNotificationManager(socketio.RedisManager, NotificationManager):
    """Redis pub/sub across nodes; local delivery still goes through the registry."""


def make_manager(registry: SocketRegistry, redis_url: str | None) -> socketio.Manager:
    """The manager for one node: Redis-backed when ``redis_url`` is set."""
    if redis_url:
        manager = RedisNotificationManager(redis_url, channel=CHANNEL)
    else:
        manager = NotificationManager()
    manager.registry = registry
    return manager
