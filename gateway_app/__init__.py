"""The gateway: the one public endpoint, proxying REST and tunnelling WebSockets to notify."""

from __future__ import annotations

from flask import Flask, jsonify

from common.config import GatewayConfig
from common.errors import register_error_handlers


def create_app(config: GatewayConfig | None = None) -> Flask:
    """Build the gateway app from ``config`` (default: the environment)."""
    config = config or GatewayConfig.from_env()
    app = Flask(__name__)
    app.config.from_object(config)
    app.config["SETTINGS"] = config
    register_error_handlers(app)

    @app.get("/healthz")
    def healthz():
        return jsonify(status="ok", service="gateway")

    return app
