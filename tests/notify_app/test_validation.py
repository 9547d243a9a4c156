"""Publish input and query parameters: each refusal names its field."""

from __future__ import annotations

import pytest

from common.errors import BadRequest
from notify_app import validation


def test_valid_single_and_batch():
    single = validation.parse_publish({"user": "a", "title": "t"})
    assert (single.users, single.body, single.data, single.single) == (["a"], "", {}, True)
    batch = validation.parse_publish({"users": ["a", "b", "a"], "title": "t", "data": None})
    assert (batch.users, batch.data, batch.single) == (["a", "b"], {}, False)


def test_limits_at_the_edge_are_accepted():
    payload = {"users": [f"u{i}" for i in range(1000)], "title": "t" * 200, "body": "b" * 4000,
               "data": {"k": "v" * (16 * 1024 - 10)}}
    assert len(validation.parse_publish(payload).users) == 1000


def test_limit_cursor_and_flag():
    assert validation.parse_limit(None) == 20
    assert validation.parse_limit("100") == 100
    assert validation.parse_cursor("42") == 42
    assert validation.parse_flag("unread", "TRUE") is True
    for parse, raw in ((validation.parse_limit, "1e3"), (validation.parse_cursor, "9" * 30)):
        with pytest.raises(BadRequest):
            parse(raw)


def test_error_names_the_field():
    with pytest.raises(BadRequest) as caught:
        validation.parse_publish({"user": "a", "title": ""})
    assert caught.value.to_dict()["error"]["field"] == "title"
