"""The notify service's metrics."""

from __future__ import annotations

from flask import Flask
from prometheus_client import CollectorRegistry, Counter, Gauge

from common.metrics import serve_metrics


class NotifyMetrics:
    """Counters and gauges of one notify node, bound with ``init_app``."""

    def init_app(self, app: Flask, sockets) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        self.connected = Gauge("notify_sockets_connected", "Open Socket.IO connections",
                               registry=r)
        self.connected.set_function(lambda: len(sockets.sockets))
        self.authenticated = Gauge("notify_sockets_authenticated",
                                   "Open connections with a verified user", registry=r)
        self.authenticated.set_function(sockets.authenticated_count)
        self.handshakes = Counter("notify_handshakes_total",
                                  "Socket.IO authentications by kind (connect, identify) and "
                                  "result (ok, anonymous or the error code)",
                                  ["kind", "result"], registry=r)
        self.published = Counter("notify_notifications_published_total",
                                 "Notifications stored by publishes", registry=r)
        self.delivered = Counter("notify_notifications_delivered_total",
                                 "Notification events sent live to sockets", registry=r)
        self.replayed = Counter("notify_notifications_replayed_total",
                                "Notification events sent by recovery replays", registry=r)
        self.rate_limited = Counter("notify_rate_limited_total",
                                    "Requests refused by a rate limit", ["limit"], registry=r)
        serve_metrics(app, r)
        app.extensions["metrics"] = self

