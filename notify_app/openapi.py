"""The OpenAPI 3.1 document of the REST API, served at ``/api/openapi.json``.

``tests/notify_app/test_openapi.py`` keeps it true: routes, methods and response shapes.
"""

from __future__ import annotations

from notify_app import validation as v

_ERROR = {"$ref": "#/components/schemas/Error"}


def _response(description: str, schema: dict | None = None) -> dict:
    if schema is None:
        schema = _ERROR
    return {"description": description, "content": {"application/json": {"schema": schema}}}


_ERRORS = {
    "400": _response("Invalid input; `error.field` names the field"),
    "401": _response("Token missing or invalid"),
    "413": _response("Body too large"),
    "503": _response("The database is unavailable (`database_unavailable`); see Retry-After"),
}

NOTIFICATION = {
    "type": "object",
    "required": ["id", "user", "title", "body", "data", "created_at", "read"],
    "additionalProperties": False,
    "properties": {
        "id": {"type": "integer", "description": "Ordered: later notifications have larger ids"},
        "user": {"type": "string"},
        "title": {"type": "string", "maxLength": v.MAX_TITLE},
        "body": {"type": "string", "maxLength": v.MAX_BODY},
        "data": {"type": "object"},
        "created_at": {"type": "string", "format": "date-time"},
        "read": {"type": "boolean"},
    },
}

PUBLISH = {
    "type": "object",
    "additionalProperties": False,
    "required": ["title"],
    "properties": {
        "user": {"type": "string", "minLength": 1, "maxLength": v.MAX_USER_LENGTH},
        "users": {"type": "array", "minItems": 1, "maxItems": v.MAX_USERS,
                  "items": {"type": "string", "minLength": 1, "maxLength": v.MAX_USER_LENGTH}},
        "title": {"type": "string", "minLength": 1, "maxLength": v.MAX_TITLE},
        "body": {"type": "string", "maxLength": v.MAX_BODY},
        "data": {"type": "object", "description": f"At most {v.MAX_DATA_BYTES} bytes as JSON"},
    },
    "oneOf": [{"required": ["user"]}, {"required": ["users"]}],
}

_NOTIFICATION = {"$ref": "#/components/schemas/Notification"}
_LIST = {"type": "object", "required": ["notifications"],
         "properties": {"notifications": {"type": "array", "items": _NOTIFICATION}}}
_UNREAD = {"type": "object", "required": ["unread"],
           "properties": {"unread": {"type": "integer", "minimum": 0}}}
_BEARER = [{"bearer": []}]


def _paths() -> dict:
    return {
        "/api/notifications": {
            "post": {
                "summary": "Publish to one user (`user`) or many (`users`); needs the "
                           "`notifications:publish` scope",
                "security": _BEARER,
                "parameters": [{"name": "Idempotency-Key", "in": "header", "required": False,
                                "schema": {"type": "string", "maxLength":
                                           v.MAX_IDEMPOTENCY_KEY},
                                "description": "A retry within 24 h returns the first result"}],
                "requestBody": {"required": True, "content": {"application/json": {
                    "schema": {"$ref": "#/components/schemas/Publish"}}}},
                "responses": {
                    "201": _response("Stored and delivered: the notification for `user`, "
                                     "or a list for `users`",
                                     {"oneOf": [_NOTIFICATION, _LIST]}),
                    **_ERRORS,
                    "403": _response("The token lacks `notifications:publish`"),
                    "409": _response("Idempotency-Key reused with another request"),
                    "429": _response("Over the publisher's rate limit (`rate_limited`); "
                                     "see Retry-After"),
                },
            },
            "get": {
                "summary": "The caller's inbox, newest first",
                "security": _BEARER,
                "parameters": [
                    {"name": "unread", "in": "query", "schema": {"type": "boolean"}},
                    {"name": "limit", "in": "query", "schema": {
                        "type": "integer", "minimum": 1, "maximum": v.MAX_LIMIT,
                        "default": v.DEFAULT_LIMIT}},
                    {"name": "before", "in": "query", "schema": {"type": "integer",
                                                                 "minimum": 0},
                     "description": "Cursor: only ids below this (use `next_before`)"},
                ],
                "responses": {
                    "200": _response("A page of the inbox", {
                        "type": "object", "required": ["notifications", "next_before"],
                        "properties": {
                            "notifications": {"type": "array", "items": _NOTIFICATION},
                            "next_before": {"type": ["integer", "null"]}}}),
                    **_ERRORS,
                },
            },
        },
        "/api/notifications/unread-count": {"get": {
            "summary": "How many of the caller's notifications are unread",
            "security": _BEARER,
            "responses": {"200": _response("The count", _UNREAD), **_ERRORS},
        }},
        "/api/notifications/{notification_id}/read": {"post": {
            "summary": "Mark one of the caller's notifications read",
            "security": _BEARER,
            "parameters": [{"name": "notification_id", "in": "path", "required": True,
                            "schema": {"type": "integer", "minimum": 0}}],
            "responses": {"200": _response("The notification, now read", _NOTIFICATION),
                          "404": _response("No such notification of the caller's"),
                          **_ERRORS},
        }},
        "/api/notifications/read-all": {"post": {
            "summary": "Mark all of the caller's notifications read",
            "security": _BEARER,
            "responses": {"200": _response("How many changed, and the new unread count", {
                "type": "object", "required": ["marked", "unread"],
                "properties": {"marked": {"type": "integer"}, "unread": {"type": "integer"}}}),
                **_ERRORS},
        }},
        "/api/openapi.json": {"get": {
            "summary": "This document",
            "responses": {"200": {"description": "OpenAPI 3.1",
                                  "content": {"application/json": {}}}},
        }},
    }


def openapi_document() -> dict:
    return {
        "openapi": "3.1.0",
        "info": {"title": "Notify API", "version": "1.0.0",
                 "description": "Publish notifications to users and read their inbox. "
                                "Live delivery is over Socket.IO at /socket.io."},
        "paths": _paths(),
        "components": {
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer",
                                           "bearerFormat": "JWT"}},
            "schemas": {
                "Notification": NOTIFICATION,
                "Publish": PUBLISH,
                "Error": {"type": "object", "required": ["error"], "properties": {"error": {
                    "type": "object", "required": ["code", "message"], "properties": {
                        "code": {"type": "string"}, "message": {"type": "string"},
                        "field": {"type": "string"}}}}},
            },
        },
    }
