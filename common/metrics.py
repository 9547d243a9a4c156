"""Prometheus metrics: one registry per app, served at ``/metrics`` in the text format."""

from __future__ import annotations

from flask import Flask, Response
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest


def serve_metrics(app: Flask, registry: CollectorRegistry) -> None:
    """Add ``GET /metrics`` answering with ``registry`` in the Prometheus text format."""

    @app.get("/metrics")
    def metrics() -> Response:
        return Response(generate_latest(registry), content_type=CONTENT_TYPE_LATEST)
