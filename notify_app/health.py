"""Liveness and readiness, as a load balancer asks for them."""

from __future__ import annotations

from flask import Blueprint, Response, current_app, jsonify

from notify_app.extensions import socketio, store

health = Blueprint("health", __name__)


@health.get("/healthz")
def healthz() -> Response:
    """The process is up and serving."""
    return jsonify(status="ok", service="notify", node=current_app.config["NODE_ID"])


@health.get("/readyz")
def readyz() -> tuple[Response, int]:
    """Ready when the database answers and, with Redis configured, the queue is subscribed."""
    checks = {"database": _check(store.ping)}
    if current_app.config["REDIS_URL"]:
        manager = socketio.server.manager
        checks["redis"] = "ok" if manager.healthy else "unavailable"
    ready = all(result == "ok" for result in checks.values())
    body = jsonify(status="ready" if ready else "unavailable", service="notify",
                   node=current_app.config["NODE_ID"], checks=checks)
    return body, 200 if ready else 503


def _check(probe) -> str:
    try:
        probe()
    except Exception as exc:  # noqa: BLE001 - any failure means not ready; say which kind
        return f"unavailable ({type(exc).__name__})"
    return "ok"
