"""Publishing (store first, then emit) and recovery replay from the store.

Because the store is written before anything is emitted, a crash between the two loses
nothing: a client that reconnects with ``last_id`` gets what it missed from the store.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Sequence

from common import runtime
from common.errors import Conflict
from notify_app.extensions import metrics, registry, socketio, store, user_room
from notify_app.manager import NOTIFICATION_EVENT, PREV_ID
from notify_app.store import UNAVAILABLE, IntegrityError, Notification

log = logging.getLogger(__name__)
REPLAY_PAGE = 500


def publish(users: Sequence[str], title: str, body: str, data: dict, *, publisher: str,
            idempotency_key: str | None = None, single: bool = False
            ) -> tuple[list[Notification], bool]:
    """Store one notification per user, then deliver them live.

    Returns ``(notifications, replayed)``; ``replayed`` is true when ``idempotency_key``
    was seen within its window and the first result is returned instead.
    """
    if idempotency_key is None:
        created = store.publish(users, title, body, data)
    else:
        request_hash = _request_hash(users, title, body, data, single)
        prior = _prior(publisher, idempotency_key, request_hash)
        if prior is not None:
            return prior, True
        store.forget_expired_keys()
        try:
            created = store.publish(users, title, body, data, idempotency=(
                publisher, idempotency_key, request_hash, single))
        except IntegrityError:
            prior = _prior(publisher, idempotency_key, request_hash)
            if prior is None:
                raise
            return prior, True  # a concurrent retry stored it first
    metrics.published.inc(len(created))
    emit_live(created)
    return created, False


def emit_live(created: Sequence[Notification]) -> None:
    """Emit each notification to its user's room; failures are recovered by replay."""
    for notification in created:
        try:
            live = {**notification.to_dict(), PREV_ID: notification.prev_id}
            socketio.emit(NOTIFICATION_EVENT, live, to=user_room(notification.user))
        except Exception:  # noqa: BLE001 - stored already; clients recover with last_id
            log.exception("live delivery of notification %s failed", notification.id)


def start_replay(sid: str) -> None:
    """Replay ``sid`` from the store in a green thread (no-op if anonymous or replaying)."""
    state = registry.get(sid)
    if state is None or state.user is None or state.replaying:
        return
    state.replaying = True  # from now on live ones are held back until the replay ends
    runtime.spawn(_replay_or_drop, sid)


def _replay_or_drop(sid: str) -> None:
    """Replay; if the database is gone, drop the transport so that the client reconnects
    with its ``last_id`` later, rather than keeping a socket that silently misses some."""
    try:
        replay(sid)
    except UNAVAILABLE as exc:
        log.warning("replay failed, dropping the socket to recover later: %s",
                    type(exc).__name__)
        registry.remove(sid)
        eio_sid = socketio.server.manager.eio_sid_from_sid(sid, "/")
        eio_socket = socketio.server.eio.sockets.get(eio_sid) if eio_sid else None
        if eio_socket is not None:
            eio_socket.close(wait=False, abort=True)


def replay(sid: str) -> None:
    """Send ``sid`` what was stored after its ``last_id``, then what arrived meanwhile."""
    state = registry.get(sid)
    manager = socketio.server.manager
    while state is not None and state.replaying:
        missed = store.after(state.user, state.last_id, limit=REPLAY_PAGE)
        for notification in missed:
            manager.send_to(sid, notification.to_dict())
            state.last_id = notification.id
        metrics.replayed.inc(len(missed))
        if len(missed) == REPLAY_PAGE:
            continue
        # No green-thread switch from here on, so nothing new can be held back meanwhile.
        held, state.held = sorted(state.held, key=lambda n: n["id"]), []
        for position, notification in enumerate(held):
            if notification["id"] <= state.last_id:
                continue
            if notification.get(PREV_ID, 0) > state.last_id:
                state.held = held[position:]  # overtook one not stored yet: query again
                break
            manager.send_to(sid, notification)
            metrics.delivered.inc()
            state.last_id = notification["id"]
        else:
            state.replaying = False


def _prior(publisher: str, key: str, request_hash: str) -> list[Notification] | None:
    prior = store.prior_publish(publisher, key)
    if prior is None:
        return None
    if prior.request_hash != request_hash:
        raise Conflict("This Idempotency-Key was used with a different request.",
                       code="idempotency_key_reused")
    return prior.notifications


def _request_hash(users: Sequence[str], title: str, body: str, data: dict,
                  single: bool) -> str:
    canonical = json.dumps([list(users), title, body, data, single], sort_keys=True)
    return hashlib.sha256(canonical.encode()).hexdigest()
