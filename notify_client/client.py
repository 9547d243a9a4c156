"""Publish notifications to the notify service over REST, retried without duplicates."""

from __future__ import annotations

import logging
import re
import time
import uuid
from collections.abc import Callable, Iterable
from typing import Any

import requests

from notify_client.errors import NotifyError, NotifyUnavailable, error_for
from notify_client.retry import RETRY_STATUSES, RetryPolicy, parse_retry_after

log = logging.getLogger("notify_client")

PUBLISH_PATH = "/api/notifications"
MAX_BATCH = 1000  # the service's limit of users per request
_ERRNO = re.compile(r"\[Errno -?\d+\] [^'\")]+")

# Failures after which the request may or may not have been stored; the Idempotency-Key
# that every publish carries makes resending it safe either way.
_RETRYABLE = (requests.ConnectionError, requests.Timeout,
              requests.exceptions.ChunkedEncodingError)


class NotifyClient:
    """A publisher of notifications: ``notify()`` one user, ``notify_many()`` several.

    Give ``token`` (a JWT whose ``scope`` holds ``notifications:publish``) or
    ``token_provider``, a callable returning a fresh one, asked before every request.
    ``base_url`` is the gateway or a notify node, e.g. ``https://notify.example.com``.
    Answers 429/502/503/504, connection errors and timeouts are retried ``retries`` times
    with exponential backoff and jitter, honouring ``Retry-After``; other errors raise at once.
    """

    def __init__(self, base_url: str, token: str | None = None, *,
                 token_provider: Callable[[], str] | None = None,
                 timeout: float | tuple[float, float] = 5.0, retries: int = 3,
                 backoff: float = 0.2, session: requests.Session | None = None) -> None:
        if (token is None) == (token_provider is None):
            raise ValueError("give exactly one of token or token_provider")
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout
        self.policy = RetryPolicy(retries=retries, backoff=backoff)
        self._token_provider = token_provider or (lambda: token)
        self._owns_session = session is None
        self.session = session or requests.Session()

    def __repr__(self) -> str:  # the default would be harmless too; this states the intent
        return f"NotifyClient({self.base_url!r})"

    def notify(self, user: str, title: str, body: str = "", data: dict | None = None, *,
               idempotency_key: str | None = None) -> dict:
        """Publish to one user; returns the stored notification.

        Without ``idempotency_key`` a random one is used, so retries inside this call never
        duplicate; pass your own (e.g. ``"order-42-shipped"``) to make *your* retries safe.
        """
        payload = {"user": user, "title": title, "body": body, "data": data or {}}
        return self._publish(payload, idempotency_key or _new_key())

    def notify_many(self, users: Iterable[str], title: str, body: str = "",
                    data: dict | None = None, *, idempotency_key: str | None = None
                    ) -> list[dict]:
        """Publish the same notification to each of ``users`` (repeats are dropped).

        Batches over 1,000 users go as several requests, keyed ``f"{key}:{i}"``; if one fails
        the exception's ``idempotency_key`` is the base key: calling again with it replays the
        batches already stored instead of duplicating them. No users: nothing is sent.
        """
        if isinstance(users, str):
            raise TypeError("users must be a list of user names, not one string")
        unique = list(dict.fromkeys(users))
        batches = [unique[i:i + MAX_BATCH] for i in range(0, len(unique), MAX_BATCH)]
        key = idempotency_key or _new_key()
        created: list[dict] = []
        for i, batch in enumerate(batches):
            payload = {"users": batch, "title": title, "body": body, "data": data or {}}
            try:
                answer = self._publish(payload, key if len(batches) == 1 else f"{key}:{i}")
            except NotifyError as exc:
                exc.idempotency_key = key
                raise
            created.extend(answer["notifications"])
        return created

    def close(self) -> None:
        if self._owns_session:
            self.session.close()

    def __enter__(self) -> NotifyClient:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # -- one request, retried --------------------------------------------------------------

    def _publish(self, payload: dict, key: str) -> dict:
        try:
            return self._send("POST", PUBLISH_PATH, payload, {"Idempotency-Key": key})
        except NotifyError as exc:
            exc.idempotency_key = key
            raise

    def _send(self, method: str, path: str, payload: Any, headers: dict[str, str]) -> Any:
        attempt = 0
        while True:
            token = self._token_provider()
            try:
                return self._attempt(method, path, payload, headers, token)
            except _Retry as retry:
                error, retry_after = retry.error, retry.retry_after
            except NotifyError as exc:
                raise _scrubbed(exc, token) from None
            error.attempts = attempt + 1
            wait = self.policy.delay(attempt, retry_after)
            if wait is None:
                raise _scrubbed(error, token) from error.__cause__
            log.warning("notify %s %s failed (%s), attempt %d; retrying in %.2f s",
                        method, path, error.code, attempt + 1, wait)
            time.sleep(wait)
            attempt += 1

    def _attempt(self, method: str, path: str, payload: Any, headers: dict[str, str],
                 token: str) -> Any:
        """One request; returns the decoded answer, raises :class:`_Retry` for a failure
        worth retrying and :class:`NotifyError` for any other."""
        url = self.base_url + path
        try:
            response = self.session.request(
                method, url, json=payload, timeout=self.timeout,
                headers={**headers, "Authorization": f"Bearer {token}"})
        except _RETRYABLE as exc:
            code = "timeout" if isinstance(exc, requests.Timeout) else "unreachable"
            error = NotifyUnavailable(f"{method} {url}: {_describe(exc)}", code=code)
            error.__cause__ = exc
            raise _Retry(error, None) from None
        with response:
            body = _json(response)
            if 200 <= response.status_code < 300 and body is not None:
                return body
            error = error_for(response.status_code, body, response.reason or "")
            if response.status_code not in RETRY_STATUSES:
                raise error
            raise _Retry(error, parse_retry_after(response.headers.get("Retry-After")))


class _Retry(Exception):
    """Internal: the attempt failed in a way a later attempt may not."""

    def __init__(self, error: NotifyError, retry_after: float | None) -> None:
        super().__init__(error.code)
        self.error = error
        self.retry_after = retry_after


def _new_key() -> str:
    return str(uuid.uuid4())


def _json(response: requests.Response) -> Any:
    try:
        return response.json()
    except ValueError:
        return None


def _describe(exc: Exception) -> str:
    """A short reason, e.g. ``[Errno 111] Connection refused``, not urllib3's paragraph."""
    if isinstance(exc, requests.ConnectTimeout):
        return "timed out connecting"
    if isinstance(exc, requests.Timeout):
        return "timed out waiting for the answer"
    found = _ERRNO.search(str(exc))
    return found.group(0).strip() if found else type(exc).__name__


def _scrubbed(error: NotifyError, token: str) -> NotifyError:
    """``error`` with ``token`` masked wherever the service or a proxy may have echoed it."""
    if token:
        error.message = error.message.replace(token, "[redacted]")
        error.args = (error.message,)
        error.details = {k: v.replace(token, "[redacted]") if isinstance(v, str) else v
                         for k, v in error.details.items()}
    return error
