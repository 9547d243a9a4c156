"""The in-memory Socket.IO client manager, delivering `notification` events per socket.

python-socketio's pub/sub managers hand every message, local or from the queue, to the base
``Manager.emit``; putting :class:`NotificationManager` between them in the MRO lets each node
decide per socket whether a notification is new to it (see ``sessions.SocketRegistry.admit``).
"""

from __future__ import annotations

from collections.abc import Callable

import socketio

from notify_app.sessions import Admission, SocketRegistry

NOTIFICATION_EVENT = "notification"
PREV_ID = "prev_id"  # travels with live notifications between nodes, never to clients
# Sent through the queue when a node could not fan a notification out: every node replays
# the named rooms' sockets from the store.
CATCH_UP_EVENT = "__catch_up__"


class NotificationManager(socketio.Manager):
    """Rooms in memory, with per-socket admission of notifications."""

    registry: SocketRegistry  # set by make_manager()
    on_catch_up: Callable[[str], None] = staticmethod(lambda sid: None)  # replays one socket
    on_delivered: Callable[[], None] = staticmethod(lambda: None)  # counts live deliveries

    def emit(self, event, data, namespace, room=None, skip_sid=None, callback=None,
             to=None, **kwargs):
        room = to or room
        if event == CATCH_UP_EVENT:
            for sid, _eio_sid in list(self.get_participants(namespace, room)):
                self.on_catch_up(sid)
            return None
        if event != NOTIFICATION_EVENT or callback is not None or not isinstance(data, dict):
            return super().emit(event, data, namespace, room=room, skip_sid=skip_sid,
                                callback=callback, **kwargs)
        for sid, _eio_sid in list(self.get_participants(namespace, room)):
            if sid == skip_sid:
                continue
            verdict = self.registry.admit(sid, data)
            if verdict is Admission.SEND:
                self.send_to(sid, data, namespace)
                self.on_delivered()
            elif verdict is Admission.GAP:
                self.on_catch_up(sid)  # an earlier one is still on its way: ask the store
        return None

    def send_to(self, sid: str, notification: dict, namespace: str = "/") -> None:
        """Send one notification to one local socket, bypassing admission (replays)."""
        if PREV_ID in notification:
            notification = {k: v for k, v in notification.items() if k != PREV_ID}
        socketio.Manager.emit(self, NOTIFICATION_EVENT, notification, namespace, room=sid)

    def catch_up_everyone(self) -> None:
        """Replay every local socket from the store (after missed queue messages)."""
        for sid in list(self.registry.sockets):
            self.on_catch_up(sid)

    @property
    def healthy(self) -> bool:
        return True


def make_manager(registry: SocketRegistry, redis_url: str | None) -> NotificationManager:
    """The manager for one node: Redis-backed when ``redis_url`` is set."""
    if redis_url:
        from notify_app.redis_queue import RedisNotificationManager

        manager: NotificationManager = RedisNotificationManager(redis_url)
    else:
        manager = NotificationManager()
    manager.registry = registry
    return manager
