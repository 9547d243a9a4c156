"""Tokens and secrets never reach a log line."""

from __future__ import annotations

import io
import logging

from common.auth import mint_token
from common.logs import REDACTED, redact, setup_logging


def test_redact_masks_tokens_bearer_values_query_tokens_and_secrets():
    token = mint_token("k" * 40, "alice")
    text = (f"GET /socket.io/?EIO=4&token={token}&x=1 Authorization: Bearer opaque123 "
            f"raw {token} secret=sekrit-value")
    out = redact(text, secrets=["sekrit-value"])
    assert token not in out and "opaque123" not in out and "sekrit-value" not in out
    assert "&x=1" in out and out.count(REDACTED) >= 4


def test_handler_redacts_messages_args_and_tracebacks():
    stream = io.StringIO()
    setup_logging("debug", secrets=["top-secret-key"], stream=stream)
    token = mint_token("k" * 40, "alice")
    log = logging.getLogger("test")
    log.info("token %s key %s", token, "top-secret-key")
    try:
        raise ValueError(f"bad {token}")
    except ValueError:
        log.exception("failed")
    output = stream.getvalue()
    assert token not in output and "top-secret-key" not in output
    assert "ValueError" in output
