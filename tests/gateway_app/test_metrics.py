"""The gateway's /metrics after real traffic, in one process and across two."""

from __future__ import annotations

import requests

from tests.clients import Publisher, Recorder
from tests.notify_app.test_health import scrape
from tests.support import Service


def test_metrics_count_requests_tunnels_and_upstream_latency(stack, token, user):
    _notify, gateway = stack
    client = Recorder().connect(gateway.url, auth={"token": token(user)})
    sent = Publisher(gateway.url).ok(user)
    assert client.next() == sent
    requests.get(gateway.url + "/api/notifications", timeout=5)  # 401: no token
    during = scrape(gateway.url)
    client.close()

    def sample(name: str, **labels) -> float:
        return during.get((name, tuple(sorted(labels.items()))), 0)

    assert sample("gateway_requests_total", route="/api/notifications", kind="http",
                  status="201") >= 1
    assert sample("gateway_requests_total", route="/api/notifications", kind="http",
                  status="401") >= 1
    assert sample("gateway_tunnels_open") >= 1
    assert sample("gateway_upstream_seconds_count", route="/api/notifications") >= 2


def test_two_processes_sharing_a_port_report_together(tmp_path, stack):
    notify, _ = stack
    metrics_dir = tmp_path / "prom"
    metrics_dir.mkdir()
    env = {"NOTIFY_URL": notify.url, "PROMETHEUS_MULTIPROC_DIR": str(metrics_dir)}
    first = Service("gateway", env, tmp_path, args=["--reuse-port"]).start()
    second = Service("gateway", env, tmp_path,
                     args=["--reuse-port", "--port", str(first.port)]).start()
    try:
        for _ in range(40):  # the kernel spreads new connections over both processes
            requests.get(first.url + "/api/notifications/unread-count", timeout=5,
                         headers={"Connection": "close"})
        total = scrape(first.url).get(("gateway_requests_total", (
            ("kind", "http"), ("route", "/api/notifications"), ("status", "401"))), 0)
        assert total == 40
        assert "listening" in second.log()
    finally:
        second.stop()
        first.stop()
