"""The client address behind proxies: X-Forwarded-For counts only from trusted peers."""

from __future__ import annotations

import pytest
import socketio

from common.forwarded import TrustedProxies
from gateway_app.headers import Forwarding

LOOPBACK = TrustedProxies(["127.0.0.1/32", "::1/128"])


@pytest.mark.parametrize("peer, xff, client", [
    ("203.0.113.5", "1.2.3.4", "203.0.113.5"),          # untrusted peer: header ignored
    ("127.0.0.1", None, "127.0.0.1"),
    ("127.0.0.1", "1.2.3.4", "1.2.3.4"),                # the gateway says who it was
    ("127.0.0.1", "6.6.6.6, 1.2.3.4", "1.2.3.4"),       # forged left part never wins
    ("127.0.0.1", "1.2.3.4, 127.0.0.1", "1.2.3.4"),     # nginx -> gateway -> notify
    ("127.0.0.1", "127.0.0.1, ::1", "127.0.0.1"),       # all trusted: the leftmost
    ("127.0.0.1", "garbage, 1.2.3.4", "1.2.3.4"),
    ("127.0.0.1", "1.2.3.4, garbage", "127.0.0.1"),     # unparsable: the hop that said it
    ("127.0.0.1", "", "127.0.0.1"),
    ("::ffff:127.0.0.1", "1.2.3.4", "1.2.3.4"),         # v4-mapped peer
    ("127.0.0.1", "[2001:db8::1]:443", "2001:db8::1"),
    ("", "1.2.3.4", ""),
])
def test_client_address(peer, xff, client):
    assert LOOPBACK.client_address(peer, xff) == client


def test_nothing_trusted_means_the_peer_always():
    assert TrustedProxies([]).client_address("127.0.0.1", "1.2.3.4") == "127.0.0.1"


def test_the_gateway_replaces_a_forged_chain_unless_the_peer_is_trusted():
    environ = {"REMOTE_ADDR": "198.51.100.7", "wsgi.url_scheme": "http", "HTTP_HOST": "h"}
    raw = [("X-Forwarded-For", "6.6.6.6")]
    sent = dict(Forwarding([]).upstream_headers(raw, environ, "rid"))
    assert sent["X-Forwarded-For"] == "198.51.100.7"
    trusting = Forwarding(["198.51.100.0/24"])
    assert dict(trusting.upstream_headers(raw, environ, "rid"))["X-Forwarded-For"] \
        == "6.6.6.6, 198.51.100.7"
    assert trusting.client_address({**environ, "HTTP_X_FORWARDED_FOR": "6.6.6.6"}) == "6.6.6.6"


def _refused(recorder, url, **options) -> str | None:
    client = recorder()
    try:
        client.connect(url, **options)
    except socketio.exceptions.ConnectionError:
        return client.connect_errors.get(timeout=5)["data"]["code"]
    client.close()
    return None


def test_a_forged_header_does_not_change_the_limited_address(make_stack, recorder):
    """Direct to notify, which trusts no one here, and through a gateway that trusts no
    one: a new X-Forwarded-For on every connect still lands in the one bucket."""
    stack = make_stack(notify_env={"CONNECT_RATE_LIMIT": "3/minute",
                                   "TRUSTED_GATEWAYS": "10.255.255.0/24"})
    for n in range(3):
        assert _refused(recorder, stack.notify.url,
                        headers={"X-Forwarded-For": f"10.0.0.{n}"}) is None
    assert _refused(recorder, stack.notify.url,
                    headers={"X-Forwarded-For": "10.0.0.99"}) == "rate_limited"
    log = stack.notify.log()
    assert "addr=127.0.0.1" in log and "10.0.0.99" not in log


def test_behind_a_trusted_gateway_each_client_is_limited_apart(make_stack, recorder):
    """notify trusts the local gateway (the default); the gateway trusts the test as its
    proxy, so the address the test names is the one notify limits."""
    stack = make_stack(notify_env={"CONNECT_RATE_LIMIT": "2/minute"},
                       gateway_env={"TRUSTED_PROXIES": "127.0.0.1"})
    for client in ("192.0.2.1", "192.0.2.2"):
        for _ in range(2):
            assert _refused(recorder, stack.gateway.url,
                            headers={"X-Forwarded-For": client}) is None
        assert _refused(recorder, stack.gateway.url,
                        headers={"X-Forwarded-For": client}) == "rate_limited"
    assert "addr=192.0.2.2" in stack.notify.log()


def test_an_untrusting_gateway_makes_forged_headers_useless(make_stack, recorder):
    stack = make_stack(notify_env={"CONNECT_RATE_LIMIT": "2/minute"})
    codes = [_refused(recorder, stack.gateway.url, headers={"X-Forwarded-For": f"192.0.2.{n}"})
             for n in range(3)]
    assert codes == [None, None, "rate_limited"]
    assert "192.0.2." not in stack.notify.log()
