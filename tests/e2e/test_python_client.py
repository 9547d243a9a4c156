"""The python-socketio client and requests, through the gateway, against real notify."""

from __future__ import annotations

import time

import pytest
import requests
import socketio

from tests.clients import Publisher
from tests.notify_app.test_events import present

TRANSPORTS = {"websocket": ["websocket"], "polling": ["polling"],
              "upgrade": ["polling", "websocket"]}


@pytest.mark.parametrize("transport", sorted(TRANSPORTS))
@pytest.mark.parametrize("way", ["auth", "header", "query", "identify"])
def test_handshake_and_delivery_through_the_gateway(gateway, recorder, token, user, transport,
                                                    way):
    url, options = present(way, gateway.url, token(user))
    client = recorder().connect(url, transports=TRANSPORTS[transport], **options)
    if way == "identify":
        assert client.call("identify", {"token": token(user)}) == {"ok": True, "user": user}
    sent = Publisher(gateway.url).ok(user, f"{way} over {transport}")
    assert client.next() == sent
    if transport == "upgrade":
        assert client.sio.transport() == "websocket"


@pytest.mark.parametrize("path", ["/api/notifications", "/api/notificaciones"])
def test_publish_through_either_rest_path_reaches_a_socket_on_the_gateway(
        gateway, recorder, token, user, path):
    client = recorder().connect(gateway.url, auth={"token": token(user)})
    publisher = Publisher(gateway.url)
    response = publisher.session.post(gateway.url + path, json={"user": user, "title": path},
                                      timeout=10)
    assert response.status_code == 201, response.text
    assert client.next() == response.json()
    inbox = requests.get(gateway.url + path, headers={"Authorization": f"Bearer {token(user)}"},
                         timeout=10).json()
    assert inbox["notifications"][0] == response.json()


@pytest.mark.parametrize("transport", ["websocket", "polling"])
def test_refused_connect_reports_its_code_through_the_gateway(gateway, recorder, token,
                                                              transport):
    client = recorder()
    with pytest.raises(socketio.exceptions.ConnectionError):
        client.connect(gateway.url, auth={"token": token("x", ttl=-5)},
                       transports=[transport])
    assert client.connect_errors.get(timeout=5)["data"]["code"] == "token_expired"


def test_recovery_through_the_gateway(gateway, recorder, token, user):
    publisher = Publisher(gateway.url)
    first = publisher.ok(user, "first")
    missed = [publisher.ok(user, f"missed {i}") for i in range(3)]
    client = recorder().connect(gateway.url, auth={"token": token(user), "last_id": first["id"]})
    assert [client.next() for _ in missed] == missed


def test_rest_errors_keep_their_shape_through_the_gateway(gateway, token):
    response = requests.post(gateway.url + "/api/notifications",
                             headers={"Authorization": f"Bearer {token('u')}"},
                             json={"user": "u", "title": "x"}, timeout=10)
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "insufficient_scope"


def test_the_gateways_request_id_reaches_notifys_logs(stack, token, user):
    notify, gateway = stack
    response = Publisher(gateway.url).session.post(
        gateway.url + "/api/notifications", json={"user": user, "title": "traced"},
        headers={"X-Request-ID": "trace-e2e-1"}, timeout=10)
    assert response.headers["X-Request-ID"] == "trace-e2e-1"
    lines = [line for line in notify.log().splitlines() if "rid=trace-e2e-1" in line]
    assert any("POST /api/notifications 201" in line for line in lines), notify.log()[-2000:]
    # The gateway writes its line when the response body is closed, just after the client
    # has read it: give it a moment.
    deadline = time.monotonic() + 5
    while "rid=trace-e2e-1" not in gateway.log() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert "rid=trace-e2e-1" in gateway.log()
