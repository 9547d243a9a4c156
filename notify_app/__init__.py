"""The notify service: authenticated Socket.IO, the inbox store and its REST API."""

from __future__ import annotations

from flask import Flask, jsonify

from common.config import NotifyConfig
from common.errors import register_error_handlers


def create_app(config: NotifyConfig | None = None) -> Flask:
    """Build the notify app from ``config`` (default: the environment)."""
    config = config or NotifyConfig.from_env()
    app = Flask(__name__)
    app.config.from_object(config)
    app.config["SETTINGS"] = config
    register_error_handlers(app)

    @app.get("/healthz")
    def healthz():
        return jsonify(status="ok", service="notify")

    return app
