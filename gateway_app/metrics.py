"""The gateway's metrics, multi-process safe.

Several gateway processes may share a port (``--reuse-port``); with
``PROMETHEUS_MULTIPROC_DIR`` set, each writes its samples there and ``/metrics`` in any of
them answers for all (prometheus_client's multiprocess mode).
"""

from __future__ import annotations

import time

from flask import Flask, Response, request
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

from common.metrics import serve_metrics

ROUTE_KEY = "gateway.route"  # set by the views once the route is known
TUNNEL_KEY = "gateway.tunnel"  # set once a tunnel was spliced


class GatewayMetrics:
    """Counters of one gateway process, bound with ``init_app``."""

    def init_app(self, app: Flask) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        self.requests = Counter(
            "gateway_requests_total", "Requests by route prefix, kind and status",
            ["route", "kind", "status"], registry=r)
        self.upstream_seconds = Histogram(
            "gateway_upstream_seconds", "Time from request to upstream response headers",
            ["route"], registry=r,
            buckets=(.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60))
        self.tunnels_open = Gauge("gateway_tunnels_open", "WebSocket tunnels open now",
                                  registry=r, multiprocess_mode="livesum")
        self.upstream_errors = Counter(
            "gateway_upstream_errors_total", "Failed upstream exchanges by kind",
            ["kind"], registry=r)
        serve_metrics(app, r)
        app.after_request(self._count)

    def _count(self, response: Response) -> Response:
        environ = request.environ
        route = environ.get(ROUTE_KEY, "none")
        if environ.get(TUNNEL_KEY):
            self.requests.labels(route, "websocket", "101").inc()
        else:
            kind = "websocket" if environ.get("HTTP_UPGRADE", "").lower() == "websocket" \
                else "http"
            self.requests.labels(route, kind, str(response.status_code)).inc()
        return response

    def upstream_answered(self, route: str, started: float) -> None:
        self.upstream_seconds.labels(route).observe(time.perf_counter() - started)


metrics = GatewayMetrics()
