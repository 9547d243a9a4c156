"""Prometheus metrics: one registry per app, served at ``/metrics`` in the text format."""

from __future__ import annotations

import os

from flask import Flask, Response
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from prometheus_client.multiprocess import MultiProcessCollector


def serve_metrics(app: Flask, registry: CollectorRegistry) -> None:
    """Add ``GET /metrics`` answering with ``registry`` in the Prometheus text format.

    In prometheus_client's multiprocess mode (``PROMETHEUS_MULTIPROC_DIR``, which the library
    reads itself at import) the answer covers every process of the service instead.
    """
    multiprocess = "PROMETHEUS_MULTIPROC_DIR" in os.environ

    @app.get("/metrics")
    def metrics() -> Response:
        source = registry
        if multiprocess:
            source = CollectorRegistry()
            MultiProcessCollector(source)
        return Response(generate_latest(source), content_type=CONTENT_TYPE_LATEST)
