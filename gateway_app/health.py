"""Active health checks: probe every upstream node's ``/healthz`` now and then.

They mark nodes up or down (passive checks only see refusals when a request comes) and
learn each node's id from its ``X-Notify-Node`` header, so that a poll carrying a ``sid``
can be routed to its node even by a gateway process that never proxied its handshake.
"""

from __future__ import annotations

import logging

from common import runtime
from gateway_app.proxy import UpstreamClient
from gateway_app.routes import RouteTable

log = logging.getLogger(__name__)


class HealthChecks:
    """Probes every distinct node of the route table, every ``interval`` seconds."""

    def __init__(self, routes: RouteTable, client: UpstreamClient, interval: float) -> None:
        self.routes = routes
        self.client = client
        self.interval = interval
        self._groups = list({id(r.upstreams): r.upstreams for r in routes.routes}.values())
        self._worker = None

    def start(self) -> None:
        """Probe now and then every ``interval`` seconds, in a green thread."""
        if self._worker is None:
            self._worker = runtime.spawn(self._loop)

    def check_all(self) -> dict[str, int | None]:
        """Probe every node concurrently; ``{base URL: status or None}``."""
        probes = {}
        for group in self._groups:
            for node in group.nodes:
                if node.base not in probes:
                    probes[node.base] = (group, node, runtime.spawn(self.client.probe, node))
        statuses = {}
        for base, (group, node, probe) in probes.items():
            status, node_id = probe.wait()
            group.learn(node, node_id)
            statuses[base] = status
        return statuses

    def _loop(self) -> None:
        while True:
            try:
                self.check_all()
            except Exception:  # a probe bug must not end the checks for good
                log.exception("health check failed")
            runtime.sleep(self.interval)
