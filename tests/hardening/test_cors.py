"""CORS: a browser origin not in CORS_ALLOWED_ORIGINS can neither open a socket nor read
a REST answer, through the gateway or direct; an allowed origin can, preflight included."""

from __future__ import annotations

import pytest
import requests
import websocket

from common.auth import mint_token
from tests.support import SECRET

pytestmark = pytest.mark.timeout(120)

ALLOWED = "https://app.example"
OTHER = "https://evil.example"


@pytest.fixture(scope="module")
def cors_stack(tmp_path_factory):
    from tests.hardening.conftest import Stack

    env = {"CORS_ALLOWED_ORIGINS": ALLOWED}
    stack = Stack(tmp_path_factory.mktemp("cors"), notify_env=env, gateway_env=env).start()
    yield stack
    assert stack.stop() == [0, 0]
    assert "Traceback" not in stack.logs()


@pytest.fixture(params=["direct", "gateway"])
def url(request, cors_stack):
    return cors_stack.notify.url if request.param == "direct" else cors_stack.gateway.url


def polling_handshake(url: str, origin: str) -> requests.Response:
    return requests.get(url + "/socket.io/?EIO=4&transport=polling", timeout=10,
                        headers={"Origin": origin})


def websocket_handshake(url: str, origin: str) -> bool:
    try:
        ws = websocket.create_connection(
            url.replace("http", "ws") + "/socket.io/?EIO=4&transport=websocket",
            origin=origin, timeout=5)
    except (websocket.WebSocketException, OSError):
        return False
    try:
        return ws.recv().startswith("0{")  # the Engine.IO open packet
    except (websocket.WebSocketException, OSError):
        return False
    finally:
        ws.close()


def test_sockets_only_from_allowed_origins(url):
    assert polling_handshake(url, ALLOWED).status_code == 200
    refused = polling_handshake(url, OTHER)
    assert refused.status_code == 400
    assert "Access-Control-Allow-Origin" not in refused.headers
    assert websocket_handshake(url, ALLOWED)
    assert not websocket_handshake(url, OTHER)


def test_rest_answers_are_readable_only_by_allowed_origins(url):
    headers = {"Authorization": f"Bearer {mint_token(SECRET, 'cors-user')}"}
    allowed = requests.get(url + "/api/notifications", timeout=10,
                           headers={**headers, "Origin": ALLOWED})
    assert allowed.status_code == 200
    assert allowed.headers["Access-Control-Allow-Origin"] == ALLOWED
    other = requests.get(url + "/api/notifications", timeout=10,
                         headers={**headers, "Origin": OTHER})
    assert "Access-Control-Allow-Origin" not in other.headers
    # Errors too: an allowed page can read why it failed, another cannot.
    error = requests.get(url + "/api/notifications", timeout=10, headers={"Origin": ALLOWED})
    assert error.status_code == 401
    assert error.headers["Access-Control-Allow-Origin"] == ALLOWED


def test_preflight(url):
    ask = {"Access-Control-Request-Method": "POST",
           "Access-Control-Request-Headers": "authorization, content-type, idempotency-key"}
    allowed = requests.options(url + "/api/notifications", timeout=10,
                               headers={**ask, "Origin": ALLOWED})
    assert allowed.status_code in (200, 204)
    assert allowed.headers["Access-Control-Allow-Origin"] == ALLOWED
    assert "POST" in allowed.headers["Access-Control-Allow-Methods"]
    assert "authorization" in allowed.headers["Access-Control-Allow-Headers"].lower()
    other = requests.options(url + "/api/notifications", timeout=10,
                             headers={**ask, "Origin": OTHER})
    assert "Access-Control-Allow-Origin" not in other.headers


def test_without_allowed_origins_no_cross_origin_rest_at_all(stack):
    response = requests.get(stack.gateway.url + "/api/notifications", timeout=10,
                            headers={"Origin": OTHER})
    assert "Access-Control-Allow-Origin" not in response.headers
    assert polling_handshake(stack.gateway.url, OTHER).status_code == 400
