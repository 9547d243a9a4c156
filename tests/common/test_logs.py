"""Tokens and secrets never reach a log line."""

from __future__ import annotations

import io
import logging

from common.auth import mint_token
from common.logs import REDACTED, redact, request_id_from, setup_logging


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


def test_request_id_from_keeps_sane_ids_only():
    assert request_id_from("ok-1.2_3") == "ok-1.2_3"
    assert request_id_from(None) != request_id_from(None)
    assert len(request_id_from("no spaces")) == 32
    assert len(request_id_from("x" * 200)) == 32


def test_json_lines_carry_the_request_id_and_stay_redacted():
    import json

    from flask import Flask

    stream = io.StringIO()
    setup_logging("info", secrets=["top-secret-key"], stream=stream, fmt="json")
    token = mint_token("k" * 40, "alice")
    app = Flask(__name__)
    with app.test_request_context(headers={"X-Request-ID": "rid-42"}):
        logging.getLogger("test").info("with %s and top-secret-key", token)
    entry = json.loads(stream.getvalue())
    assert entry["request_id"] == "rid-42" and entry["level"] == "INFO"
    assert token not in entry["message"] and "top-secret-key" not in entry["message"]
