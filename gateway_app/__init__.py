"""The gateway: the one public endpoint, proxying REST and tunnelling WebSockets to notify."""

from __future__ import annotations

from flask import Flask

from common import runtime
from common.config import GatewayConfig
from common.errors import register_error_handlers
from gateway_app import views
from gateway_app.headers import Forwarding
from gateway_app.health import HealthChecks
from gateway_app.metrics import metrics
from gateway_app.page import page
from gateway_app.proxy import UpstreamClient
from gateway_app.routes import RouteTable
from gateway_app.tunnel import Tunnels


def create_app(config: GatewayConfig | None = None) -> Flask:
    """Build the gateway app from ``config`` (default: the environment)."""
    config = config or GatewayConfig.from_env()
    app = Flask(__name__)
    app.config.from_object(config)
    app.config["SETTINGS"] = config
    register_error_handlers(app)
    app.wsgi_app = runtime.streaming_environ(app.wsgi_app)  # type: ignore[method-assign]
    routes = RouteTable.from_config(config)
    client = UpstreamClient(config, node_count=len(routes.nodes()))
    gateway = views.Gateway(
        routes=routes,
        client=client,
        forwarding=Forwarding(config.TRUSTED_PROXIES),
        tunnels=Tunnels(config),
        health=HealthChecks(routes, client, config.HEALTH_CHECK_INTERVAL),
    )
    gateway.health.start()
    metrics.init_app(app)
    app.register_blueprint(page)
    views.init_app(app, gateway)
    # wsgi.py runs this on SIGTERM: tunnels never end by themselves within the grace time.
    app.extensions["on_stop"] = gateway.tunnels.stop
    return app
