"""Publish through Redis: push a publish request onto the list notify nodes consume.

For services that already share notify's Redis and would rather not wait on HTTP. Nothing is
emitted from here: a notify node pops the request, stores it, and only then delivers it, so
the inbox and recovery (``last_id``) see it exactly like a REST publish.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterable
from typing import Any

from notify_client.errors import NotifyUnavailable

INTAKE_KEY = "notify:intake"
DEAD_KEY = "notify:intake:dead"  # items a node could not accept, kept for inspection
MAX_BATCH = 1000


class RedisPublisher:
    """Pushes publish requests onto ``notify:intake``.

    ``publisher`` names the sender (idempotency keys are scoped by it); the node uses
    ``"redis-intake"`` when it is not given. Methods return the idempotency key(s) pushed:
    the result is stored asynchronously, and pushing the same key again never duplicates.
    """

    def __init__(self, redis_url: str | None = None, *, publisher: str | None = None,
                 client: Any = None, key: str = INTAKE_KEY) -> None:
        if (redis_url is None) == (client is None):
            raise ValueError("give exactly one of redis_url or client")
        if client is None:
            import redis  # only services that publish through Redis need the package

            client = redis.Redis.from_url(redis_url, socket_timeout=5, socket_connect_timeout=5)
        self.redis = client
        self.publisher = publisher
        self.key = key

    def notify(self, user: str, title: str, body: str = "", data: dict | None = None, *,
               idempotency_key: str | None = None) -> str:
        """Queue a notification for one user; returns its idempotency key."""
        return self.notify_many([user], title, body, data, idempotency_key=idempotency_key)[0]

    def notify_many(self, users: Iterable[str], title: str, body: str = "",
                    data: dict | None = None, *, idempotency_key: str | None = None
                    ) -> list[str]:
        """Queue one notification per user, 1,000 users per item; returns the items' keys."""
        if isinstance(users, str):
            raise TypeError("users must be a list of user names, not one string")
        unique = list(dict.fromkeys(users))
        batches = [unique[i:i + MAX_BATCH] for i in range(0, len(unique), MAX_BATCH)]
        base = idempotency_key or str(uuid.uuid4())
        keys = [base if len(batches) == 1 else f"{base}:{i}" for i in range(len(batches))]
        items = [json.dumps({"users": batch, "title": title, "body": body, "data": data or {},
                             "idempotency_key": key, "publisher": self.publisher})
                 for batch, key in zip(batches, keys, strict=True)]
        if items:
            self._push(items)
        return keys

    def close(self) -> None:
        self.redis.close()

    def _push(self, items: list[str]) -> None:
        import redis

        try:
            self.redis.rpush(self.key, *items)  # one command: the batches queue together
        except redis.RedisError as exc:
            # Safe to push again: the idempotency keys make a second copy a replay.
            raise NotifyUnavailable(f"redis push failed: {type(exc).__name__}: {exc}",
                                    code="redis_unavailable") from exc
