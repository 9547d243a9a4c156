"""The notify service: authenticated Socket.IO, the inbox store and its REST API."""

from __future__ import annotations

from flask import Flask, jsonify

from common import runtime
from common.auth import TokenVerifier
from common.config import NotifyConfig
from common.errors import register_error_handlers
from notify_app.api import api
from notify_app.events import register_events
from notify_app.extensions import registry, socketio, store
from notify_app.manager import make_manager

MAX_BODY_BYTES = 1024 * 1024


def create_app(config: NotifyConfig | None = None) -> Flask:
    """Build the notify app from ``config`` (default: the environment)."""
    config = config or NotifyConfig.from_env()
    app = Flask(__name__)
    app.config.from_object(config)
    app.config["SETTINGS"] = config
    # The largest valid publish (1,000 users, a 16 KB data object) is about 300 KB.
    app.config["MAX_CONTENT_LENGTH"] = MAX_BODY_BYTES
    app.extensions["verifier"] = TokenVerifier(config)
    register_error_handlers(app)
    store.init_app(app)
    socketio.init_app(
        app,
        async_mode=runtime.ASYNC_MODE,
        client_manager=make_manager(registry, config.REDIS_URL),
        cors_allowed_origins=_cors(config.CORS_ALLOWED_ORIGINS),
        ping_interval=config.PING_INTERVAL,
        ping_timeout=config.PING_TIMEOUT,
        logger=False,
        engineio_logger=False,
    )
    register_events()
    app.register_blueprint(api)
    app.extensions["on_stop"] = _drop_sockets

    @app.get("/healthz")
    def healthz():
        return jsonify(status="ok", service="notify")

    return app


def _cors(origins: tuple[str, ...]) -> str | list[str] | None:
    # None: only the service's own origin (Engine.IO compares Origin with Host).
    if "*" in origins:
        return "*"
    return list(origins) or None


def _drop_sockets() -> None:
    """At shutdown, close transports without a goodbye so clients reconnect elsewhere."""
    for eio_socket in list(socketio.server.eio.sockets.values()):
        eio_socket.close(wait=False, abort=True)
