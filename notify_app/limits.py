"""Rate limits and the per-user socket cap: what one client may make this service do.

Rates are counted by the `limits` library with its sliding-window counter (constant memory
per key, no burst of twice the rate at a window edge).  With ``REDIS_URL`` set they are
kept in Redis, so they hold across notify nodes: the gateway spreads REST calls and
reconnects over every node, and a per-node count would give a client N times its budget.
Without Redis they live in this process's memory.  If the storage fails (Redis down) the
request is let through and a warning logged: a rate limit must never become an outage.

The socket cap counts the authenticated sockets of each user on this node.
"""

from __future__ import annotations

import logging
import time
from collections import defaultdict
from dataclasses import dataclass

from flask import Flask, request
from limits import RateLimitItem, parse_many
from limits.storage import MemoryStorage, RedisStorage, Storage
from limits.strategies import SlidingWindowCounterRateLimiter

from common.errors import TooManyRequests
from common.forwarded import TrustedProxies

log = logging.getLogger(__name__)

WARN_EVERY = 60.0  # seconds between two warnings about a failing storage


@dataclass(frozen=True)
class Rule:
    """One limited action: its rates (all must hold) and what to tell a refused client."""

    name: str
    items: tuple[RateLimitItem, ...]
    message: str


class Limits:
    """The limits of one notify app, kept in ``app.extensions["limits"]``."""

    def __init__(self) -> None:
        self.rules: dict[str, Rule] = {}
        self.limiter: SlidingWindowCounterRateLimiter | None = None
        self.proxies = TrustedProxies(())
        self.max_sockets_per_user = 0
        self.sockets: dict[str, set[str]] = defaultdict(set)  # user -> sids on this node
        self.user_of: dict[str, str] = {}  # sid -> user
        self._warned = 0.0

    def init_app(self, app: Flask) -> None:
        config = app.config["SETTINGS"]
        self.proxies = TrustedProxies(config.TRUSTED_GATEWAYS)
        self.max_sockets_per_user = config.MAX_SOCKETS_PER_USER
        self.rules = {}
        for name, value, message in (
            ("connect", config.CONNECT_RATE_LIMIT,
             "Too many connections from your address; retry later."),
            ("identify", config.IDENTIFY_RATE_LIMIT,
             "Too many identify attempts from your address; retry later."),
            ("publish", config.PUBLISH_RATE_LIMIT,
             "Too many publishes with this token; retry later."),
        ):
            if value and value != "0":
                self.rules[name] = Rule(name, tuple(parse_many(value)), message)
        self.limiter = SlidingWindowCounterRateLimiter(_storage(config.REDIS_URL))
        self.sockets.clear()
        self.user_of.clear()
        app.extensions["limits"] = self

    # -- rates -----------------------------------------------------------------------------

    def check(self, name: str, key: str) -> None:
        """Count one ``name`` action by ``key``; raise :class:`TooManyRequests` over a rate."""
        rule = self.rules.get(name)
        if rule is None or self.limiter is None:
            return
        try:
            for item in rule.items:
                if not self.limiter.hit(item, name, key):
                    reset = self.limiter.get_window_stats(item, name, key).reset_time
                    raise TooManyRequests(rule.message, retry_after=reset - time.time())
        except TooManyRequests:
            raise
        except Exception as exc:  # noqa: BLE001 - fail open: see the module docstring
            self._warn(exc)

    def _warn(self, exc: Exception) -> None:
        now = time.monotonic()
        if now - self._warned >= WARN_EVERY:
            self._warned = now
            log.warning("rate limit storage failed, letting requests through: %s",
                        type(exc).__name__)

    # -- sockets per user ------------------------------------------------------------------

    def admit_socket(self, sid: str, user: str) -> bool:
        """Count ``sid`` as one of ``user``'s sockets; ``False`` if that is over the cap."""
        if self.user_of.get(sid) == user:
            return True  # a refresh of a socket already counted
        held = self.sockets[user]
        if self.max_sockets_per_user and len(held) >= self.max_sockets_per_user:
            if not held:
                del self.sockets[user]
            return False
        held.add(sid)
        self.user_of[sid] = user
        return True

    def forget_socket(self, sid: str) -> None:
        user = self.user_of.pop(sid, None)
        if user is None:
            return
        held = self.sockets.get(user)
        if held is not None:
            held.discard(sid)
            if not held:
                del self.sockets[user]

    # -- who is asking ---------------------------------------------------------------------

    def client_address(self) -> str:
        """The current request's client address (``X-Forwarded-For`` only from a trusted
        gateway); for a Socket.IO event, that of the socket's handshake."""
        return self.proxies.client_address_of(request.environ)


def _storage(redis_url: str | None) -> Storage:
    if not redis_url:
        return MemoryStorage()
    import redis

    # Short timeouts: a stalled Redis must not hold connects and publishes for long.
    pool = redis.ConnectionPool.from_url(redis_url, socket_timeout=1, socket_connect_timeout=1)
    return RedisStorage(redis_url.replace("unix://", "redis+unix://", 1),
                        connection_pool=pool, key_prefix="notify:limits")


limits = Limits()  # bound to the app by create_app, like the objects in extensions.py
