"""Liveness, readiness and metrics of a real notify process."""

from __future__ import annotations

import contextlib

import requests
import socketio
from prometheus_client.parser import text_string_to_metric_families

from tests.clients import Publisher, Recorder


def scrape(url: str) -> dict[tuple[str, tuple], float]:
    text = requests.get(url + "/metrics", timeout=5).text
    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for family in text_string_to_metric_families(text) for s in family.samples}


def test_healthz_and_readyz(notify):
    assert requests.get(notify.url + "/healthz", timeout=5).json()["status"] == "ok"
    ready = requests.get(notify.url + "/readyz", timeout=5)
    assert ready.status_code == 200
    assert ready.json()["checks"] == {"database": "ok"}


def test_readyz_reports_a_dead_redis(start_service, tmp_path):
    from tests.servers import free_port

    service = start_service("notify", REDIS_URL=f"redis://127.0.0.1:{free_port()}/0",
                            DATABASE_URL=f"sqlite:///{tmp_path}/x.db")
    ready = requests.get(service.url + "/readyz", timeout=5)
    assert ready.status_code == 503
    assert ready.json()["checks"]["redis"] == "unavailable"


def test_metrics_move_with_a_session(notify, token, user):
    before = scrape(notify.url)
    client = Recorder().connect(notify.url, auth={"token": token(user)})
    try:
        sent = Publisher(notify.url).ok(user)
        assert client.next() == sent
        with contextlib.suppress(socketio.exceptions.ConnectionError):
            Recorder().connect(notify.url, auth={"token": "bad"})
        during = scrape(notify.url)
    finally:
        client.close()

    def moved(name: str, **labels) -> float:
        key = (name, tuple(sorted(labels.items())))
        return during.get(key, 0) - before.get(key, 0)

    assert moved("notify_handshakes_total", kind="connect", result="ok") == 1
    assert moved("notify_handshakes_total", kind="connect", result="invalid_token") == 1
    assert moved("notify_notifications_published_total") == 1
    assert moved("notify_notifications_delivered_total") == 1
    assert during[("notify_sockets_authenticated", ())] >= 1
