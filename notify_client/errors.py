"""The one exception hierarchy of the publisher client.

Each error carries what the notify service said (``status``, ``code``, ``message`` and, for a
bad field, ``field``) parsed from its ``{"error": {"code", "message"}}`` answers. Messages
never carry the publisher's token: the client scrubs it before raising.
"""

from __future__ import annotations

from typing import Any


class NotifyError(Exception):
    """Base of every error the client raises.

    ``status`` is the HTTP status (``None`` when no answer arrived), ``code`` the service's
    stable error code, ``message`` its readable text and ``details`` any extra keys it sent.
    ``attempts`` counts the requests made; ``idempotency_key`` is the key the publish carried,
    so that the caller can try again later without a duplicate.
    """

    attempts: int = 1
    idempotency_key: str | None = None

    def __init__(self, message: str, *, status: int | None = None, code: str = "error",
                 details: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.status = status
        self.code = code
        self.details = details or {}

    @property
    def field(self) -> str | None:
        """The request field the service refused, if it named one."""
        return self.details.get("field")

    def __str__(self) -> str:
        status = f"{self.status} " if self.status is not None else ""
        return f"{status}{self.code}: {self.message}"


class NotifyRequestError(NotifyError):
    """The service refused the request itself (400, 404, 409, 413...); retrying won't help."""


class NotifyAuthError(NotifyRequestError):
    """The token is missing, invalid, expired or lacks ``notifications:publish`` (401/403)."""


class NotifyUnavailable(NotifyError):
    """The service could not be reached, or kept answering 429/502/503/504, after retries."""


def error_for(status: int, body: Any, reason: str = "") -> NotifyError:
    """The exception for a non-success answer ``status`` with JSON ``body`` (or ``None``)."""
    error = body.get("error") if isinstance(body, dict) else None
    if isinstance(error, dict):
        code = str(error.get("code") or f"http_{status}")
        message = str(error.get("message") or reason or "error")
        details = {k: v for k, v in error.items() if k not in ("code", "message")}
    else:
        code, message, details = f"http_{status}", reason or "unexpected answer", {}
    if status in (401, 403):
        kind: type[NotifyError] = NotifyAuthError
    elif status in (429, 502, 503, 504):
        kind = NotifyUnavailable
    elif 400 <= status < 500:
        kind = NotifyRequestError
    else:
        kind = NotifyError
    return kind(message, status=status, code=code, details=details)
