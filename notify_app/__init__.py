"""The notify service: authenticated Socket.IO, the inbox store and its REST API."""

from __future__ import annotations

import logging

from flask import Flask, Response
from flask_cors import CORS

from common import runtime
from common.auth import TokenVerifier
from common.config import NotifyConfig
from common.errors import DatabaseUnavailable, error_response, register_error_handlers
from common.logs import log_requests
from notify_app import delivery, intake
from notify_app.api import api
from notify_app.events import register_events
from notify_app.extensions import metrics, registry, socketio, store
from notify_app.health import health
from notify_app.limits import limits
from notify_app.manager import make_manager
from notify_app.store import UNAVAILABLE, unavailable

MAX_BODY_BYTES = 1024 * 1024


def create_app(config: NotifyConfig | None = None) -> Flask:
    """Build the notify app from ``config`` (default: the environment)."""
    config = config or NotifyConfig.from_env()
    if config.NODE_ID is None:
        config = config.replace(NODE_ID=f"n{config.NOTIFY_PORT}")
    app = Flask(__name__)
    app.config.from_object(config)
    app.config["SETTINGS"] = config
    # The largest valid publish (1,000 users, a 16 KB data object) is about 300 KB.
    app.config["MAX_CONTENT_LENGTH"] = MAX_BODY_BYTES
    app.extensions["verifier"] = TokenVerifier(config)
    register_error_handlers(app)
    _register_database_errors(app)
    log_requests(app)
    _cors_for_rest(app, config.CORS_ALLOWED_ORIGINS)
    store.init_app(app)
    _quiet_pool_errors(store.engine.pool)
    limits.init_app(app)
    socketio.init_app(
        app,
        async_mode=runtime.ASYNC_MODE,
        client_manager=make_manager(registry, config.REDIS_URL),
        cors_allowed_origins=_cors(config.CORS_ALLOWED_ORIGINS),
        ping_interval=config.PING_INTERVAL,
        ping_timeout=config.PING_TIMEOUT,
        # A bigger message (or polling payload) closes that client's connection, nothing more.
        max_http_buffer_size=config.MAX_MESSAGE_BYTES,
        logger=False,
        engineio_logger=False,
    )
    register_events()
    metrics.init_app(app, registry)
    _start_manager(socketio.server.manager)
    _tag_session_ids(socketio.server.eio, config.NODE_ID)
    app.register_blueprint(api)
    app.register_blueprint(health)
    app.extensions["on_stop"] = _drop_sockets
    intake.init_app(app)  # the Redis intake, when REDIS_URL is set

    app.wsgi_app = _with_node_header(app.wsgi_app, config.NODE_ID)
    return app


def _register_database_errors(app: Flask) -> None:
    """The database down or locked is a 503 the client may retry, not a 500 with a
    traceback: the publish transaction was rolled back, so nothing is half stored."""

    def database_error(exc: Exception) -> Response:
        try:
            with unavailable():
                raise exc
        except DatabaseUnavailable as error:
            return error_response(error)

    for kind in UNAVAILABLE:
        app.register_error_handler(kind, database_error)


class _OneLine(logging.Filter):
    """Log a connection the pool could not close (the database went away) as one line."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.exc_info and record.exc_info[1] is not None:
            error = record.exc_info[1]
            cause = getattr(error, "orig", None) or error.__cause__ or error
            record.msg = f"{record.getMessage()} ({type(cause).__name__})"
            record.args = None
            record.exc_info = record.exc_text = None
            record.levelno, record.levelname = logging.WARNING, "WARNING"
        return True


def _quiet_pool_errors(pool) -> None:
    """SQLAlchemy's pool logs a traceback when it cannot close a connection to a database
    that is gone; that is expected while it is down, and the 503 says so already."""
    logger = logging.getLogger(f"{type(pool).__module__}.{type(pool).__name__}")
    if not any(isinstance(f, _OneLine) for f in logger.filters):
        logger.addFilter(_OneLine())


def _cors_for_rest(app: Flask, origins: tuple[str, ...]) -> None:
    """Let the browser apps in ``CORS_ALLOWED_ORIGINS`` (and only those) call the REST API
    and read its answers, preflight included; Engine.IO checks its own origins."""
    allowed = _cors(origins)
    if allowed is None:
        return  # same origin only: no CORS headers at all
    CORS(app, resources={r"/api/*": {"origins": allowed}}, supports_credentials=False,
         allow_headers=["Authorization", "Content-Type", "Idempotency-Key", "X-Request-ID"],
         expose_headers=["Retry-After", "Idempotent-Replayed", "X-Request-ID"],
         methods=["GET", "POST", "OPTIONS"], max_age=600, vary_header=True)


def _start_manager(manager) -> None:
    """Subscribe to the queue now rather than at the first connection, so that readiness
    can report it and nothing published before the first client is missed."""
    manager.on_catch_up = delivery.start_replay
    manager.on_delivered = metrics.delivered.inc
    if not socketio.server.manager_initialized:
        socketio.server.manager_initialized = True
        manager.initialize()


def _with_node_header(wsgi_app, node_id: str):
    """Name the node on every response, Engine.IO's included (they bypass Flask), so the
    gateway can learn which URL is which node without a session table."""
    header = ("X-Notify-Node", node_id)

    def app(environ, start_response):
        def start(status, headers, exc_info=None):
            return start_response(status, [*headers, header], exc_info)

        return wsgi_app(environ, start)

    return app


def _tag_session_ids(eio_server, node_id: str) -> None:
    """Make every Engine.IO session id start with ``<node_id>.`` so the gateway can route a
    request that carries a ``sid`` back to the node that owns the session."""
    generate = eio_server.generate_id
    eio_server.generate_id = lambda: f"{node_id}.{generate()}"


def _cors(origins: tuple[str, ...]) -> str | list[str] | None:
    # None: only the service's own origin (Engine.IO compares Origin with Host).
    if "*" in origins:
        return "*"
    return list(origins) or None


def _drop_sockets() -> None:
    """At shutdown, close transports without a goodbye so clients reconnect elsewhere."""
    for eio_socket in list(socketio.server.eio.sockets.values()):
        eio_socket.close(wait=False, abort=True)
