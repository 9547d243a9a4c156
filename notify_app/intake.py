"""The Redis intake: publish requests that services push onto ``notify:intake``.

When ``REDIS_URL`` is set, each node runs one green thread popping requests (``BLPOP``, so
every request goes to exactly one node) and publishing them the way the REST API does:
validated by the same rules, stored first, then delivered. A request that can never be
accepted is moved to ``notify:intake:dead``; one that failed for a passing reason (the
database is down) goes back on the queue.
"""

from __future__ import annotations

import json
import logging
from typing import Any

import redis
from flask import Flask

from common import runtime
from common.errors import ApiError
from notify_app import delivery, validation
from notify_app.outage import Outage
from notify_client.redis_publisher import DEAD_KEY, INTAKE_KEY

log = logging.getLogger(__name__)

POLL_SECONDS = 1.0  # how long one BLPOP blocks: also how soon a stop is noticed
MAX_BACKOFF = 4.0
DEAD_KEEP = 10_000  # the dead list keeps the newest ones only
DEFAULT_PUBLISHER = "redis-intake"
_META = ("idempotency_key", "publisher")


class Rejected(Exception):
    """An intake item that can never be published; ``reason`` names the problem, not the data."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def init_app(app: Flask) -> None:
    """Start the consumer if the app has a ``REDIS_URL``; chains itself into ``on_stop``."""
    url = app.config.get("REDIS_URL")
    if not url:
        return
    consumer = IntakeConsumer(app, url)
    app.extensions["intake"] = consumer
    previous = app.extensions.get("on_stop")

    def on_stop() -> None:
        consumer.stop()
        if previous is not None:
            previous()

    app.extensions["on_stop"] = on_stop
    runtime.spawn(consumer.run)


def parse_item(raw: bytes) -> tuple[validation.PublishRequest, str | None, str]:
    """``(request, idempotency_key, publisher)`` from one intake item, or :class:`Rejected`."""
    try:
        item = json.loads(raw)
    except (ValueError, RecursionError):  # RecursionError: absurdly nested JSON
        raise Rejected("invalid_json") from None
    if not isinstance(item, dict):
        raise Rejected("invalid_json: not an object")
    publisher = item.get("publisher") or DEFAULT_PUBLISHER
    if not isinstance(publisher, str) or len(publisher) > validation.MAX_USER_LENGTH:
        raise Rejected("invalid_field publisher")
    try:
        spec = validation.parse_publish({k: v for k, v in item.items() if k not in _META})
        key = item.get("idempotency_key")
        key = None if key is None else validation.parse_idempotency_key(_text(key))
    except ApiError as exc:
        raise Rejected(_reason(exc)) from None
    return spec, key, publisher


class IntakeConsumer:
    """Pops intake items until stopped; Redis outages are logged once and waited out."""

    def __init__(self, app: Flask, url: str) -> None:
        self.app = app
        # The socket timeout must outlast a BLPOP that blocks for POLL_SECONDS.
        self.redis = redis.Redis.from_url(url, socket_connect_timeout=2,
                                          socket_timeout=POLL_SECONDS + 5)
        self.outage = Outage("redis (intake)")
        self.store_outage = Outage("intake publishing")
        self.stopping = False
        self.running = False

    def run(self) -> None:
        self.running = True
        backoff = 0.25
        try:
            while not self.stopping:
                try:
                    popped = self.redis.blpop([INTAKE_KEY], timeout=POLL_SECONDS)
                except redis.RedisError as exc:
                    self.outage.failed(exc)
                    runtime.sleep(backoff)
                    backoff = min(backoff * 2, MAX_BACKOFF)
                    continue
                self.outage.recovered()
                backoff = 0.25
                if popped is not None:
                    self.handle(popped[1])
        finally:
            self.running = False

    def handle(self, raw: bytes) -> None:
        """Publish one item; dead-letter it if invalid, requeue it if publishing failed."""
        try:
            spec, key, publisher = parse_item(raw)
            with self.app.app_context():
                delivery.publish(spec.users, spec.title, spec.body, spec.data,
                                 publisher=publisher, idempotency_key=key, single=spec.single)
        except Rejected as exc:
            self._dead_letter(raw, exc.reason)
        except ApiError as exc:  # e.g. an idempotency key reused for another request
            self._dead_letter(raw, _reason(exc))
        except Exception as exc:  # noqa: BLE001 - a passing failure: keep the item
            self.store_outage.failed(_Failure(exc))
            self._requeue(raw)
            runtime.sleep(1.0)
        else:
            self.store_outage.recovered()

    def stop(self, timeout: float = POLL_SECONDS + 5) -> None:
        """Stop popping, and let an item already popped finish (it is in nobody's queue)."""
        self.stopping = True
        waited = 0.0
        while self.running and waited < timeout:
            runtime.sleep(0.05)
            waited += 0.05

    def _dead_letter(self, raw: bytes, reason: str) -> None:
        # The reason only: an item's content may be personal data, and logs travel further.
        log.warning("intake item refused (%s, %d bytes); moved to %s", reason, len(raw),
                    DEAD_KEY)
        try:
            with self.redis.pipeline() as pipe:
                pipe.rpush(DEAD_KEY, raw).ltrim(DEAD_KEY, -DEAD_KEEP, -1).execute()
        except redis.RedisError as exc:
            log.error("intake item lost: could not move it to %s: %s", DEAD_KEY, exc)

    def _requeue(self, raw: bytes) -> None:
        try:
            self.redis.rpush(INTAKE_KEY, raw)  # at the tail: one bad item cannot block others
        except redis.RedisError as exc:
            log.error("intake item lost: could not requeue it: %s", exc)


class _Failure(Exception):
    """What ``Outage`` logs for a failed publish: the error's type, never its text, which
    for a database error quotes the statement's parameters (the notification)."""

    def __init__(self, exc: Exception) -> None:
        super().__init__(f"{type(exc).__module__}.{type(exc).__name__}")


def _reason(exc: ApiError) -> str:
    field = exc.details.get("field")
    return f"{exc.code} {str(field)[:64]!r}" if field else exc.code


def _text(value: Any) -> str:
    if not isinstance(value, str):
        raise validation.invalid("idempotency_key", "must be a string")
    return value
