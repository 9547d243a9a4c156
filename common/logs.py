"""Logging setup with token redaction: no JWT, bearer value or secret reaches a log line."""

from __future__ import annotations

import json
import logging
import os
import re
import sys
from collections.abc import Iterable

from flask import has_request_context, request

# Three base64url segments starting with a JSON header ("eyJ" is `{"` encoded).
_JWT = re.compile(r"eyJ[A-Za-z0-9_-]*\.[A-Za-z0-9_-]*\.[A-Za-z0-9_-]*")
_BEARER = re.compile(r"(?i)(bearer\s+)[^\s,;\"']+")
_TOKEN_PARAM = re.compile(r"(?i)([?&](?:token|access_token)=)[^&\s\"']*")
REDACTED = "[redacted]"
_SANE_REQUEST_ID = re.compile(r"[A-Za-z0-9._-]{1,128}")
REQUEST_ID_KEY = "notify.request_id"  # where the gateway keeps the id it assigned


def redact(text: str, secrets: Iterable[str] = ()) -> str:
    """``text`` with tokens, bearer values, ``token=`` query values and ``secrets`` masked."""
    text = _JWT.sub(REDACTED, text)
    text = _BEARER.sub(rf"\g<1>{REDACTED}", text)
    text = _TOKEN_PARAM.sub(rf"\g<1>{REDACTED}", text)
    for secret in secrets:
        if secret:
            text = text.replace(secret, REDACTED)
    return text


class RedactingFormatter(logging.Formatter):
    """Formats as usual, then masks secrets in the whole line (message, args and traceback)."""

    def __init__(self, fmt: str | None = None, secrets: Iterable[str] = ()) -> None:
        super().__init__(fmt)
        self.secrets = tuple(s for s in secrets if s)

    def format(self, record: logging.LogRecord) -> str:
        return redact(super().format(record), self.secrets)


class TextFormatter(RedactingFormatter):
    """``time level logger: message rid=...`` on one line."""

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s: %(message)s", secrets)

    def formatMessage(self, record: logging.LogRecord) -> str:  # noqa: N802 - logging's name
        line = super().formatMessage(record)
        rid = getattr(record, "request_id", None)
        return f"{line} rid={rid}" if rid and "rid=" not in line else line


class JsonFormatter(RedactingFormatter):
    """One JSON object per line, for log shippers (``LOG_FORMAT=json``)."""

    def format(self, record: logging.LogRecord) -> str:
        entry = {"ts": self.formatTime(record), "level": record.levelname,
                 "logger": record.name, "message": record.getMessage()}
        if getattr(record, "request_id", None):
            entry["request_id"] = record.request_id
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return redact(json.dumps(entry, ensure_ascii=False), self.secrets)


class RequestIdFilter(logging.Filter):
    """Puts the current request's id on every record logged while serving it."""

    def filter(self, record: logging.LogRecord) -> bool:
        if not hasattr(record, "request_id"):
            record.request_id = current_request_id()
        return True


def request_id_from(sent: str | None) -> str:
    """The client's ``X-Request-ID`` if it is sane, a new random one otherwise."""
    if sent and _SANE_REQUEST_ID.fullmatch(sent):
        return sent
    return os.urandom(16).hex()


def current_request_id() -> str | None:
    """The id the gateway assigned to the request being served (Socket.IO handshakes too)."""
    if not has_request_context():
        return None
    environ = request.environ
    rid = environ.get(REQUEST_ID_KEY) or environ.get("HTTP_X_REQUEST_ID")
    return rid if rid and _SANE_REQUEST_ID.fullmatch(rid) else None


def log_requests(app) -> None:
    """One info line per request served by ``app``'s views (with its request id)."""
    access = logging.getLogger(f"{app.name}.access")

    @app.after_request
    def _log(response):
        access.info("%s %s %s", request.method, request.path, response.status_code)
        return response


def setup_logging(level: str = "info", secrets: Iterable[str] = (), stream=None,
                  fmt: str = "text") -> None:
    """Route every logger to one redacting handler on stderr."""
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(JsonFormatter(secrets=secrets) if fmt == "json"
                         else TextFormatter(secrets))
    handler.addFilter(RequestIdFilter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    # Socket.IO's own loggers are chatty at info; ours say what matters.
    for name in ("engineio.server", "socketio.server", "werkzeug"):
        logging.getLogger(name).setLevel(max(logging.WARNING, root.level))
