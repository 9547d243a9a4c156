"""Every limit is configurable and holds: rates, sockets per user, message, header and
body sizes.  Each test starts its own servers with a small limit, and checks that a refused
client gets its code and the service goes on serving."""

from __future__ import annotations

import time

import pytest
import requests
import socketio

from tests.clients import Publisher
from tests.hardening.conftest import raw_exchange, still_serving

pytestmark = pytest.mark.timeout(120)


def refused_code(recorder, url, **options) -> dict:
    client = recorder()
    with pytest.raises(socketio.exceptions.ConnectionError):
        client.connect(url, **options)
    return client.connect_errors.get(timeout=5)["data"]


@pytest.mark.parametrize("via", ["direct", "gateway"])
def test_connects_per_address_are_rate_limited(make_stack, recorder, token, user, via):
    stack = make_stack(notify_env={"CONNECT_RATE_LIMIT": "5/minute"})
    url = stack.notify.url if via == "direct" else stack.gateway.url
    for _ in range(5):  # anonymous and authenticated connects both count
        recorder().connect(url, auth={"token": token(user)}).close()
    data = refused_code(recorder, url, auth={"token": token(user)})
    assert data["code"] == "rate_limited"
    assert 1 <= data["retry_after"] <= 60
    data = refused_code(recorder, url, transports=("polling",))  # anonymous too
    assert data["code"] == "rate_limited"
    still_serving(stack.notify.url, stack.gateway.url)
    assert "Traceback" not in stack.logs()


def test_identify_per_address_is_rate_limited(make_stack, recorder, token, user):
    stack = make_stack(notify_env={"IDENTIFY_RATE_LIMIT": "3/minute"})
    client = recorder().connect(stack.gateway.url)
    for _ in range(3):
        assert client.call("identify", {"token": token(user)})["ok"] is True
    answer = client.call("identify", {"token": token(user)})
    assert answer["ok"] is False
    assert answer["error"]["code"] == "rate_limited"
    assert answer["error"]["retry_after"] >= 1
    assert client.sio.connected  # refused, not dropped: it is identified already


def test_publish_per_publisher_is_rate_limited_with_retry_after(make_stack, token, user):
    stack = make_stack(notify_env={"PUBLISH_RATE_LIMIT": "4/minute"})
    first, second = Publisher(stack.gateway.url, "svc-a"), Publisher(stack.gateway.url, "svc-b")
    for _ in range(4):
        first.ok(user)
    response = first.publish(user)
    assert response.status_code == 429
    assert response.json()["error"]["code"] == "rate_limited"
    assert 1 <= int(response.headers["Retry-After"]) <= 60
    # Per publisher: another token's budget is untouched; nothing was stored for the 429.
    second.ok(user)
    inbox = requests.get(stack.gateway.url + "/api/notifications",
                         headers={"Authorization": f"Bearer {token(user)}"},
                         timeout=10).json()["notifications"]
    assert len(inbox) == 5


def test_sockets_per_user_are_capped(make_stack, recorder, token, user):
    stack = make_stack(notify_env={"MAX_SOCKETS_PER_USER": "3"})
    held = [recorder().connect(stack.gateway.url, auth={"token": token(user)})
            for _ in range(3)]
    assert refused_code(recorder, stack.gateway.url,
                        auth={"token": token(user)})["code"] == "too_many_connections"
    # identify counts too: an anonymous socket cannot become the fourth.
    anonymous = recorder().connect(stack.gateway.url)
    answer = anonymous.call("identify", {"token": token(user)})
    assert answer["error"]["code"] == "too_many_connections"
    assert anonymous.disconnected.wait(5)
    # Another user is not affected, and a closed socket frees its place.
    recorder().connect(stack.gateway.url, auth={"token": token(user + "x")})
    held[0].close()
    deadline = time.monotonic() + 5
    while True:
        try:
            recorder().connect(stack.gateway.url, auth={"token": token(user)})
            break
        except socketio.exceptions.ConnectionError:
            assert time.monotonic() < deadline
            time.sleep(0.1)
    assert "Traceback" not in stack.logs()


@pytest.mark.parametrize("transport", ["websocket", "polling"])
def test_a_too_big_message_closes_only_that_client(make_stack, recorder, token, user,
                                                   transport):
    stack = make_stack(notify_env={"MAX_MESSAGE_BYTES": "4096"})
    bystander = recorder().connect(stack.gateway.url, auth={"token": token(user)})
    big = recorder().connect(stack.gateway.url, auth={"token": token(user)},
                             transports=(transport,))
    big.sio.emit("mark_read", {"ids": list(range(1000)), "pad": "x" * 10_000})
    assert big.disconnected.wait(10)
    sent = Publisher(stack.gateway.url).ok(user)
    assert bystander.next() == sent
    still_serving(stack.notify.url, stack.gateway.url)
    assert "Traceback" not in stack.logs()


def test_oversized_heads_are_clean_4xx_on_both_servers(stack):
    for url in (stack.notify.url, stack.gateway.url):
        long_target = b"/api/notifications?token=" + b"A" * (1024 * 1024)
        answer = raw_exchange(url, b"GET " + long_target + b" HTTP/1.1\r\nHost: x\r\n\r\n")
        assert answer.startswith((b"HTTP/1.0 414", b"HTTP/1.1 414")), answer[:100]
        line = b"Authorization: Bearer " + b"A" * (1024 * 1024)
        answer = raw_exchange(url, b"GET /api/notifications HTTP/1.1\r\nHost: x\r\n"
                              + line + b"\r\n\r\n")
        assert answer[:12] in (b"HTTP/1.0 400", b"HTTP/1.1 431", b"HTTP/1.0 431"), answer[:100]
        many = b"".join(b"X-Filler-%d: %s\r\n" % (i, b"y" * 4000) for i in range(40))
        answer = raw_exchange(url, b"GET /healthz HTTP/1.1\r\nHost: x\r\n" + many + b"\r\n")
        assert answer.startswith(b"HTTP/1.0 400"), answer[:100]
        still_serving(url)


def test_a_body_over_the_gateway_limit_is_413_json(make_stack):
    stack = make_stack(gateway_env={"MAX_CONTENT_LENGTH": "65536"})
    response = requests.post(stack.gateway.url + "/api/notifications",
                             data=b"{" + b" " * 100_000 + b"}",
                             headers={"Content-Type": "application/json"}, timeout=10)
    assert response.status_code == 413
    assert response.json()["error"]["code"]
    still_serving(stack.gateway.url)
