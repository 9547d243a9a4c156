"""The REST API: publish (services) and read the inbox (users)."""

from __future__ import annotations

from flask import Blueprint, Response, current_app, jsonify, request

from common.auth import PUBLISH_SCOPE, Identity, find_token, require_scope
from common.errors import BadRequest, NotFound
from notify_app import delivery, validation
from notify_app.extensions import socketio, store, user_room
from notify_app.limits import limits
from notify_app.openapi import openapi_document

api = Blueprint("api", __name__, url_prefix="/api")


def authenticate() -> Identity:
    """The caller's identity from ``Authorization: Bearer``, or an AuthError."""
    return current_app.extensions["verifier"].verify(find_token(headers=request.headers))


@api.post("/notifications")
def publish() -> tuple[Response, int]:
    identity = authenticate()
    require_scope(identity, PUBLISH_SCOPE)
    limits.check("publish", identity.user)
    payload = request.get_json(force=True, silent=True)
    if payload is None:
        raise BadRequest("The body must be valid JSON.", code="invalid_json")
    spec = validation.parse_publish(payload)
    key = validation.parse_idempotency_key(request.headers.get("Idempotency-Key"))
    created, replayed = delivery.publish(
        spec.users, spec.title, spec.body, spec.data, publisher=identity.user,
        idempotency_key=key, single=spec.single)
    items = [n.to_dict() for n in created]
    response = jsonify(items[0] if spec.single else {"notifications": items})
    if replayed:
        response.headers["Idempotent-Replayed"] = "true"
    return response, 201


@api.get("/notifications")
def inbox() -> Response:
    identity = authenticate()
    limit = validation.parse_limit(request.args.get("limit"))
    before = validation.parse_cursor(request.args.get("before"))
    unread = validation.parse_flag("unread", request.args.get("unread"))
    found = store.inbox(identity.user, limit=limit, before=before, unread_only=unread)
    next_before = found[-1].id if len(found) == limit else None
    return jsonify(notifications=[n.to_dict() for n in found], next_before=next_before)


@api.get("/notifications/unread-count")
def unread_count() -> Response:
    return jsonify(unread=store.unread_count(authenticate().user))


@api.post("/notifications/<notification_id>/read")
def mark_read(notification_id: str) -> Response:
    identity = authenticate()
    if not notification_id.isdigit() or int(notification_id) >= 2**63:
        raise NotFound("No such notification.")
    marked = store.mark_read(identity.user, [int(notification_id)])
    if not marked:
        raise NotFound("No such notification.")  # also when it is someone else's
    _announce_unread(identity.user)
    return jsonify(marked[0].to_dict())


@api.post("/notifications/read-all")
def mark_all_read() -> Response:
    identity = authenticate()
    marked = store.mark_all_read(identity.user)
    _announce_unread(identity.user)
    return jsonify(marked=marked, unread=store.unread_count(identity.user))


@api.get("/openapi.json")
def openapi() -> Response:
    return jsonify(openapi_document())


def _announce_unread(user: str) -> None:
    """Tell the user's sockets the new count, so other tabs stay in step."""
    socketio.emit("unread_count", {"unread": store.unread_count(user)}, to=user_room(user))
