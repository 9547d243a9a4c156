"""The gateway's URL rules: health, readiness, and one catch-all for the route table.

Routing by prefix is the route table's job (on the raw path, see ``routes.py``); werkzeug
only tells plain requests from WebSocket upgrades, which need a rule made with
``websocket=True`` or werkzeug answers them 400.
"""

from __future__ import annotations

from dataclasses import dataclass

from flask import Blueprint, Flask, Response, current_app, jsonify, request
from werkzeug.routing import BaseConverter

from common import runtime
from gateway_app.headers import Forwarding
from gateway_app.health import HealthChecks
from gateway_app.metrics import ROUTE_KEY
from gateway_app.proxy import UpstreamClient, forward
from gateway_app.routes import RouteTable
from gateway_app.tunnel import Tunnels

METHODS = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]

bp = Blueprint("gateway", __name__)


@dataclass
class Gateway:
    """What the views share, kept in ``app.extensions["gateway"]``."""

    routes: RouteTable
    client: UpstreamClient
    forwarding: Forwarding
    tunnels: Tunnels
    health: HealthChecks


class AnyPath(BaseConverter):
    """Everything after the first slash, even empty or starting with another slash."""

    regex = ".*"
    part_isolating = False


def init_app(app: Flask, gateway: Gateway) -> None:
    app.extensions["gateway"] = gateway
    app.url_map.converters["anypath"] = AnyPath
    app.register_blueprint(bp)
    # merge_slashes=False: the route table merges them itself instead of a redirect.
    app.add_url_rule("/<anypath:_path>", "proxy", proxy, methods=METHODS,
                     merge_slashes=False)
    app.add_url_rule("/<anypath:_path>", "tunnel", tunnel, methods=["GET"], websocket=True,
                     merge_slashes=False)


def _gateway() -> Gateway:
    return current_app.extensions["gateway"]


def proxy(_path: str) -> Response:
    gateway = _gateway()
    route, path = gateway.routes.resolve(runtime.raw_path(request.environ))
    request.environ[ROUTE_KEY] = route.prefix
    return forward(gateway.client, gateway.forwarding, route, path)


def tunnel(_path: str) -> Response:
    gateway = _gateway()
    route, path = gateway.routes.resolve(runtime.raw_path(request.environ))
    request.environ[ROUTE_KEY] = route.prefix
    return gateway.tunnels.open(gateway.forwarding, route, path)


@bp.get("/healthz")
def healthz() -> Response:
    return jsonify(status="ok", service="gateway")


@bp.get("/readyz")
def readyz() -> tuple[Response, int]:
    """Ready when every route has at least one upstream node answering ``/healthz``."""
    gateway = _gateway()
    statuses = gateway.health.check_all()
    nodes = gateway.routes.nodes()
    upstreams = [{"url": url, "routes": prefixes, "up": statuses[url] == 200,
                  "status": statuses[url], "node": node.node_id}
                 for url, (node, prefixes) in nodes.items()]
    ready = all(any(statuses[node.base] == 200 for node in route.upstreams.nodes)
                for route in gateway.routes.routes)
    body = {"status": "ready" if ready else "unavailable", "upstreams": upstreams}
    return jsonify(body), 200 if ready else 503
