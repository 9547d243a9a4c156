"""Redis pub/sub between notify nodes, that notices what it may have missed.

Implements the two methods python-socketio's ``PubSubManager`` asks of a transport
(``_publish`` and ``_listen``) instead of using its ``RedisManager`` because a pub/sub
outage there is silent for the sockets: messages published meanwhile are gone, the listener
backs off up to 60 s, and each failed publish logs twice. Here an outage is logged once, the
listener retries within seconds, and after it every local socket catches up from the store.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator

import redis
import socketio

from notify_app.manager import CATCH_UP_EVENT, NOTIFICATION_EVENT, NotificationManager
from notify_app.outage import Outage

log = logging.getLogger(__name__)
CHANNEL = "flask-socketio"
MAX_BACKOFF = 4.0


class RedisNotificationManager(socketio.PubSubManager, NotificationManager):
    """Fans notifications out to every node through one Redis channel."""

    name = "redis"

    def __init__(self, url: str, channel: str = CHANNEL) -> None:
        super().__init__(channel=channel)
        self.url = url
        self.publisher = redis.Redis.from_url(url, socket_timeout=2, socket_connect_timeout=2)
        self.publish_outage = Outage("redis (publish)")
        self.listen_outage = Outage("redis (subscription)")
        self.subscribed = False
        self.missed_rooms: set[str] = set()

    @property
    def healthy(self) -> bool:
        return self.subscribed and self.publish_outage.since is None

    def _publish(self, data: dict) -> None:
        try:
            self.publisher.publish(self.channel, self.json.dumps(data))
        except redis.RedisError as exc:
            self.publish_outage.failed(exc)
            if data.get("method") == "emit" and data.get("event") == NOTIFICATION_EVENT:
                self.missed_rooms.add(data["room"])  # the other nodes must catch up later
            return
        if self.publish_outage.recovered() or self.missed_rooms:
            self._announce_missed()

    def _announce_missed(self) -> None:
        rooms, self.missed_rooms = sorted(self.missed_rooms), set()
        if rooms:
            self._publish({"method": "emit", "event": CATCH_UP_EVENT, "data": None,
                           "namespace": "/", "room": rooms, "skip_sid": None,
                           "callback": None, "host_id": self.host_id, "binary": False})

    def _listen(self) -> Iterator[bytes]:
        backoff = 0.25
        while True:
            pubsub = redis.Redis.from_url(self.url, socket_connect_timeout=2,
                                          socket_keepalive=True).pubsub(
                ignore_subscribe_messages=True)
            try:
                pubsub.subscribe(self.channel)
                self._on_subscribed()
                backoff = 0.25
                for message in pubsub.listen():
                    if message["type"] == "message":
                        yield message["data"]
            except redis.RedisError as exc:
                self.subscribed = False
                self.listen_outage.failed(exc)
                time.sleep(backoff)
                backoff = min(backoff * 2, MAX_BACKOFF)
            finally:
                pubsub.close()

    def _on_subscribed(self) -> None:
        self.subscribed = True
        if self.listen_outage.recovered():
            # Whatever was published while we were not listening is only in the store now.
            self.catch_up_everyone()
