"""What other services import to publish notifications.

    from notify_client import NotifyClient

    client = NotifyClient("https://notify.example.com", token=PUBLISHER_JWT)
    client.notify("alice", "Order shipped", "#42 is on its way", {"order": 42},
                  idempotency_key="order-42-shipped")

In a Flask app, ``notify = Notify()`` and ``notify.init_app(app)`` (``NOTIFY_URL``,
``NOTIFY_TOKEN``) give ``notify.client``. Services sharing notify's Redis may use
:class:`RedisPublisher` instead, which queues the request for a notify node to store and deliver.
"""

import logging

from notify_client.client import MAX_BATCH, NotifyClient
from notify_client.errors import (
    NotifyAuthError,
    NotifyError,
    NotifyRequestError,
    NotifyUnavailable,
)
from notify_client.flask_ext import Notify
from notify_client.redis_publisher import DEAD_KEY, INTAKE_KEY, RedisPublisher

# A library logs only where the application configures logging (Python's advice to libraries).
logging.getLogger("notify_client").addHandler(logging.NullHandler())

__all__ = [
    "DEAD_KEY",
    "INTAKE_KEY",
    "MAX_BATCH",
    "Notify",
    "NotifyAuthError",
    "NotifyClient",
    "NotifyError",
    "NotifyRequestError",
    "NotifyUnavailable",
    "RedisPublisher",
]
