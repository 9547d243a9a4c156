"""One error hierarchy, rendered by one handler as ``{"error": {"code", "message"}}``.

What the client is told (``code``, ``message``) is kept apart from what is logged, so a
message never carries internals such as a traceback, an upstream address or a token.
"""

from __future__ import annotations

import logging
import math

from flask import Flask, Response, jsonify
from werkzeug.exceptions import HTTPException

log = logging.getLogger(__name__)


class ApiError(Exception):
    """Base of every error a client may see."""

    status = 500
    code = "internal_error"
    message = "Internal server error."

    def __init__(self, message: str | None = None, *, code: str | None = None,
                 status: int | None = None, headers: dict[str, str] | None = None,
                 details: dict | None = None) -> None:
        super().__init__(message or self.message)
        self.message = message or self.message
        self.code = code or self.code
        self.status = status or self.status
        self.headers = headers or {}
        self.details = details or {}  # extra keys for the client, such as the bad `field`

    def to_dict(self) -> dict:
        return {"error": {"code": self.code, "message": self.message, **self.details}}


class BadRequest(ApiError):
    status, code, message = 400, "bad_request", "The request is malformed."


class Unauthorized(ApiError):
    status, code, message = 401, "unauthorized", "Authentication is required."


class Forbidden(ApiError):
    status, code, message = 403, "forbidden", "Not allowed."


class NotFound(ApiError):
    status, code, message = 404, "not_found", "Not found."


class Conflict(ApiError):
    status, code, message = 409, "conflict", "Conflicts with the current state."


class PayloadTooLarge(ApiError):
    status, code, message = 413, "payload_too_large", "The request body is too large."


class TooManyRequests(ApiError):
    status, code, message = 429, "rate_limited", "Too many requests."

    def __init__(self, message: str | None = None, *, retry_after: float = 1, **kwargs) -> None:
        seconds = max(1, math.ceil(retry_after))
        headers = {"Retry-After": str(seconds), **kwargs.pop("headers", {})}
        details = {"retry_after": seconds, **kwargs.pop("details", {})}
        super().__init__(message, headers=headers, details=details, **kwargs)
        self.retry_after = seconds


class ServiceUnavailable(ApiError):
    status, code, message = 503, "unavailable", "The service is temporarily unavailable."


class DatabaseUnavailable(ServiceUnavailable):
    """The database cannot be reached or is locked; nothing was stored.  Retry later."""

    code, message = "database_unavailable", "The database is unavailable; retry later."

    def __init__(self, message: str | None = None, **kwargs) -> None:
        kwargs.setdefault("headers", {"Retry-After": "1"})
        super().__init__(message, **kwargs)


class BadGateway(ApiError):
    status, code, message = 502, "bad_gateway", "The upstream service is unreachable."


class GatewayTimeout(ApiError):
    status, code, message = 504, "gateway_timeout", "The upstream service did not answer in time."


def error_response(error: ApiError) -> Response:
    response = jsonify(error.to_dict())
    response.status_code = error.status
    response.headers.update(error.headers)
    return response


def _http_code(exc: HTTPException) -> str:
    name = (exc.name or "error").lower()
    return "".join(c if c.isalnum() else "_" for c in name).strip("_")


def register_error_handlers(app: Flask) -> None:
    """Render ApiError, werkzeug's HTTP errors and anything unexpected in the one shape."""

    @app.errorhandler(ApiError)
    def _api_error(exc: ApiError) -> Response:
        return error_response(exc)

    @app.errorhandler(HTTPException)
    def _http_error(exc: HTTPException) -> Response:
        error = ApiError(exc.description or exc.name, code=_http_code(exc), status=exc.code or 500)
        response = error_response(error)
        if exc.code == 405 and hasattr(exc, "valid_methods") and exc.valid_methods:
            response.headers["Allow"] = ", ".join(exc.valid_methods)
        return response

    @app.errorhandler(Exception)
    def _unexpected(exc: Exception) -> Response:
        log.exception("unhandled error")
        return error_response(ApiError())
