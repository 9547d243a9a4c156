"""Logging setup with token redaction: no JWT, bearer value or secret reaches a log line."""

from __future__ import annotations

import logging
import re
import sys
from collections.abc import Iterable

# Three base64url segments starting with a JSON header ("eyJ" is `{"` encoded).
_JWT = re.compile(r"eyJ[A-Za-z0-9_-]*\.[A-Za-z0-9_-]*\.[A-Za-z0-9_-]*")
_BEARER = re.compile(r"(?i)(bearer\s+)[^\s,;\"']+")
_TOKEN_PARAM = re.compile(r"(?i)([?&](?:token|access_token)=)[^&\s\"']*")
REDACTED = "[redacted]"


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

    def __init__(self, fmt: str, secrets: Iterable[str] = ()) -> None:
        super().__init__(fmt)
        self.secrets = tuple(s for s in secrets if s)

    def format(self, record: logging.LogRecord) -> str:
        return redact(super().format(record), self.secrets)


def setup_logging(level: str = "info", secrets: Iterable[str] = (), stream=None) -> None:
    """Route every logger to one redacting handler on stderr."""
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(RedactingFormatter(
        "%(asctime)s %(levelname)s %(name)s: %(message)s", secrets))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    # Socket.IO's own loggers are chatty at info; ours say what matters.
    for name in ("engineio.server", "socketio.server", "werkzeug"):
        logging.getLogger(name).setLevel(max(logging.WARNING, root.level))
