"""Socket.IO handlers: authenticate at connect or with `identify`, expiry, `mark_read`."""

from __future__ import annotations

import logging
import time
from typing import Any

from flask import current_app, request
from flask_socketio import ConnectionRefusedError, join_room

from common import runtime
from common.auth import AuthError, Identity, find_token
from common.errors import ApiError, BadRequest
from notify_app import delivery
from notify_app.extensions import metrics, registry, socketio, store, user_room
from notify_app.limits import limits
from notify_app.store import unavailable

TOO_MANY = "too_many_connections"
CLOSE_GRACE = 1.0  # seconds a dropped client has to close its transport itself

log = logging.getLogger(__name__)


def register_events() -> None:
    """Bind the handlers to the extension's server (called by ``create_app``)."""
    socketio.on("connect")(on_connect)
    socketio.on("disconnect")(on_disconnect)
    socketio.on("identify")(on_identify)
    socketio.on("mark_read")(on_mark_read)


def on_connect(auth: Any = None) -> None:
    sid = request.sid
    address = limits.client_address()
    token = find_token(auth, request.headers, request.args)
    try:
        limits.check("connect", address)
        identity = None
        if token is not None:
            identity = current_app.extensions["verifier"].verify(token)
            last_id = _last_id(auth)
    except ApiError as exc:
        metrics.handshakes.labels("connect", exc.code).inc()
        log.info("connect refused: %s addr=%s", exc.code, address)
        raise ConnectionRefusedError(exc.message, _refusal(exc)) from None
    registry.add(sid)
    if identity is None:
        metrics.handshakes.labels("connect", "anonymous").inc()
        registry.schedule(sid, current_app.config["AUTH_TIMEOUT"], _auth_timeout)
        return
    try:
        _authenticate(sid, identity, last_id)
    except ApiError as exc:
        _forget(sid)
        metrics.handshakes.labels("connect", exc.code).inc()
        log.info("connect refused: %s user=%s addr=%s", exc.code, identity.user, address)
        raise ConnectionRefusedError(exc.message, _refusal(exc)) from None
    metrics.handshakes.labels("connect", "ok").inc()
    log.info("socket connected user=%s addr=%s", identity.user, address)


def on_disconnect(*_args: Any) -> None:
    _forget(request.sid)


def on_identify(payload: Any = None) -> dict:
    sid = request.sid
    state = registry.get(sid)
    token = payload.get("token") if isinstance(payload, dict) else None
    try:
        limits.check("identify", limits.client_address())
    except ApiError as exc:
        metrics.handshakes.labels("identify", exc.code).inc()
        return {"ok": False, **exc.to_dict()}
    try:
        identity = current_app.extensions["verifier"].verify(token)
        last_id = _last_id(payload)
    except ApiError as exc:
        metrics.handshakes.labels("identify", exc.code).inc()
        # Answer first: the disconnect runs after the ack is queued.
        runtime.spawn(_disconnect, sid, exc.code)
        return {"ok": False, **exc.to_dict()}
    if state is not None and state.user not in (None, identity.user):
        metrics.handshakes.labels("identify", "user_mismatch").inc()
        error = AuthError("invalid_token", "This socket is identified as another user.")
        return {"ok": False, "error": {**error.to_dict()["error"], "code": "user_mismatch"}}
    try:
        _authenticate(sid, identity, last_id)
    except ApiError as exc:
        metrics.handshakes.labels("identify", exc.code).inc()
        if state is not None and state.user is None:
            runtime.spawn(_disconnect, sid, exc.code)
        return {"ok": False, **exc.to_dict()}
    metrics.handshakes.labels("identify", "ok").inc()
    return {"ok": True, "user": identity.user}


def on_mark_read(payload: Any = None) -> dict:
    state = registry.get(request.sid)
    if state is None or state.user is None:
        return {"ok": False, **AuthError("token_missing", "Identify first.").to_dict()}
    try:
        with unavailable():
            if isinstance(payload, dict) and payload.get("all") is True:
                store.mark_all_read(state.user)
            elif isinstance(payload, dict) and _ids(payload.get("ids")) is not None:
                store.mark_read(state.user, _ids(payload["ids"]))
            else:
                raise BadRequest('Send {"ids": [...]} or {"all": true}.')
            unread = store.unread_count(state.user)
    except ApiError as exc:
        return {"ok": False, **exc.to_dict()}
    socketio.emit("unread_count", {"unread": unread}, to=user_room(state.user))
    return {"ok": True, "unread": unread}


def _authenticate(sid: str, identity: Identity, last_id: int | None) -> None:
    """Join the user's room, arm the expiry, and start a replay if ``last_id`` was given.

    :raises ApiError: ``too_many_connections`` over the per-user cap, or
        ``database_unavailable``; the socket is then left as it was.
    """
    state = registry.get(sid)
    if state is None:
        return  # disconnected meanwhile
    first_time = state.user is None
    if first_time:
        if not limits.admit_socket(sid, identity.user):
            raise ApiError("This user has too many open connections.", code=TOO_MANY,
                           status=429)
        try:
            # The watermark starts at what the client says it has, or else at what is
            # stored now, so that a later catch-up (after a queue outage) replays only what
            # it really missed.
            with unavailable():
                watermark = last_id if last_id is not None else store.last_id(identity.user)
        except ApiError:
            limits.forget_socket(sid)
            raise
        if registry.get(sid) is not state:
            limits.forget_socket(sid)
            return  # disconnected while the database answered
        state.last_id = watermark
    state.user = identity.user
    state.expires_at = identity.expires_at + current_app.config["JWT_LEEWAY"]
    registry.schedule(sid, state.expires_at - time.time(), _expire)
    if not first_time:
        return
    join_room(user_room(identity.user), sid=sid)
    if last_id is not None:
        # Not inline: at connect the client has not been told it is connected yet.
        delivery.start_replay(sid)


def _auth_timeout(sid: str) -> None:
    state = registry.get(sid)
    if state is not None and state.user is None:
        _disconnect(sid, "token_missing")


def _expire(sid: str) -> None:
    state = registry.get(sid)
    if state is not None and state.expires_at <= time.time() + 0.05:
        socketio.server.emit("session_expired", {"code": "token_expired",
                                          "message": "The token has expired."}, to=sid)
        _disconnect(sid, "token_expired")


def _disconnect(sid: str, reason: str) -> None:
    log.info("disconnecting socket: %s", reason)
    _forget(sid)
    server = socketio.server
    eio_sid = server.manager.eio_sid_from_sid(sid, "/")
    server.disconnect(sid)
    if eio_sid is not None:
        # A Socket.IO disconnect leaves the Engine.IO connection to the client, which a
        # hostile one would keep open (and with it a tunnel and descriptors): close it
        # ourselves once a polite client has had a moment to do so.
        runtime.spawn_after(CLOSE_GRACE, _close_transport, eio_sid)


def _close_transport(eio_sid: str) -> None:
    eio_socket = socketio.server.eio.sockets.get(eio_sid)
    if eio_socket is not None and not eio_socket.closed:
        eio_socket.close(wait=False)


def _forget(sid: str) -> None:
    registry.remove(sid)
    limits.forget_socket(sid)


def _refusal(exc: ApiError) -> dict:
    """The ``data`` of a refused connect: the code, and when to retry if rate limited."""
    data = {"code": exc.code}
    if "retry_after" in exc.details:
        data["retry_after"] = exc.details["retry_after"]
    return data


def _last_id(payload: Any) -> int | None:
    value = payload.get("last_id") if isinstance(payload, dict) else None
    if value is None or value == "":
        return None
    if isinstance(value, str) and value.isdigit():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value < 2**63:
        raise BadRequest("last_id must be a notification id.", code="invalid_last_id")
    return value


def _ids(value: Any) -> list[int] | None:
    if not isinstance(value, list) or len(value) > 1000:
        return None
    if not all(isinstance(i, int) and not isinstance(i, bool) for i in value):
        return None
    return value
