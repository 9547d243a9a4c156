"""Validation of REST input: every refusal is a 400 naming the field."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from common.errors import BadRequest

MAX_USERS = 1000
MAX_USER_LENGTH = 255
MAX_TITLE = 200
MAX_BODY = 4000
MAX_DATA_BYTES = 16 * 1024
MAX_LIMIT = 100
DEFAULT_LIMIT = 20
MAX_IDEMPOTENCY_KEY = 255


@dataclass(frozen=True)
class PublishRequest:
    users: list[str]
    title: str
    body: str
    data: dict
    single: bool  # sent as `user` (answered with one object) rather than `users`


def invalid(field: str, problem: str) -> BadRequest:
    return BadRequest(f"{field}: {problem}", code="invalid_field", details={"field": field})


def parse_publish(payload: Any) -> PublishRequest:
    if not isinstance(payload, dict):
        raise BadRequest("The body must be a JSON object.", code="invalid_json")
    unknown = set(payload) - {"user", "users", "title", "body", "data"}
    if unknown:
        raise invalid(sorted(unknown)[0], "is not a known field")
    users, single = _recipients(payload)
    title = _text(payload, "title", MAX_TITLE, required=True)
    body = _text(payload, "body", MAX_BODY, required=False)
    data = payload.get("data", {})
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise invalid("data", "must be an object")
    if len(json.dumps(data, separators=(",", ":")).encode()) > MAX_DATA_BYTES:
        raise invalid("data", f"must be at most {MAX_DATA_BYTES} bytes as JSON")
    return PublishRequest(users, title, body, data, single)


def parse_limit(raw: str | None) -> int:
    if raw is None:
        return DEFAULT_LIMIT
    if not raw.isdigit() or not 1 <= int(raw) <= MAX_LIMIT:
        raise invalid("limit", f"must be a whole number from 1 to {MAX_LIMIT}")
    return int(raw)


def parse_cursor(raw: str | None) -> int | None:
    if raw is None or raw == "":
        return None
    if not raw.isdigit() or int(raw) >= 2**63:
        raise invalid("before", "must be a notification id")
    return int(raw)


def parse_flag(name: str, raw: str | None) -> bool:
    if raw is None:
        return False
    if raw.lower() in ("true", "1"):
        return True
    if raw.lower() in ("false", "0"):
        return False
    raise invalid(name, "must be true or false")


def parse_idempotency_key(raw: str | None) -> str | None:
    if raw is None:
        return None
    if not 1 <= len(raw) <= MAX_IDEMPOTENCY_KEY or not raw.isprintable():
        raise invalid("Idempotency-Key", f"must be 1 to {MAX_IDEMPOTENCY_KEY} printable characters")
    return raw


def _recipients(payload: dict) -> tuple[list[str], bool]:
    if ("user" in payload) == ("users" in payload):
        raise invalid("user", "give exactly one of `user` or `users`")
    if "user" in payload:
        return [_user("user", payload["user"])], True
    users = payload["users"]
    if not isinstance(users, list) or not users:
        raise invalid("users", "must be a non-empty list")
    if len(users) > MAX_USERS:
        raise invalid("users", f"must list at most {MAX_USERS} users")
    return list(dict.fromkeys(_user("users", u) for u in users)), False


def _user(field: str, value: Any) -> str:
    if not isinstance(value, str) or not value.strip() or len(value) > MAX_USER_LENGTH:
        raise invalid(field, f"users are non-empty strings of at most {MAX_USER_LENGTH} characters")
    return value


def _text(payload: dict, field: str, limit: int, *, required: bool) -> str:
    value = payload.get(field)
    if value is None and not required:
        return ""
    if not isinstance(value, str) or (required and not value.strip()):
        raise invalid(field, "must be a non-empty string" if required else "must be a string")
    if len(value) > limit:
        raise invalid(field, f"must be at most {limit} characters")
    return value
