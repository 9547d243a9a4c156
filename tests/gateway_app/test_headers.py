"""Header rules in isolation (the proxy and tunnel tests check them end to end)."""

from __future__ import annotations

from gateway_app.headers import Forwarding, request_id, response_headers

ENVIRON = {"REMOTE_ADDR": "10.1.2.3", "HTTP_HOST": "gw.example", "wsgi.url_scheme": "https"}


def names(headers) -> list[str]:
    return [name.lower() for name, _ in headers]


def test_upgrade_keeps_upgrade_and_sends_connection_upgrade_only():
    raw = [("Host", "gw.example"), ("Connection", "Upgrade, X-Private"), ("Upgrade", "websocket"),
           ("X-Private", "1"), ("Origin", "https://app.example")]
    headers = Forwarding(()).upstream_headers(raw, ENVIRON, "rid", upgrade=True)
    assert ("Upgrade", "websocket") in headers
    assert [v for n, v in headers if n == "Connection"] == ["Upgrade"]
    assert "x-private" not in names(headers)
    assert ("Origin", "https://app.example") in headers


def test_chunked_request_loses_its_content_length():
    raw = [("Content-Length", "10"), ("Transfer-Encoding", "chunked")]
    headers = Forwarding(()).upstream_headers(raw, ENVIRON, "rid")
    assert "content-length" not in names(headers)
    assert "transfer-encoding" not in names(headers)


def test_trust_is_by_network():
    forwarding = Forwarding(("10.0.0.0/8", "::1"))
    assert forwarding.trusts("10.200.0.1")
    assert forwarding.trusts("::1")
    assert not forwarding.trusts("192.168.0.1")
    assert not forwarding.trusts("not-an-ip")
    raw = [("X-Forwarded-For", "1.1.1.1"), ("X-Forwarded-For", "2.2.2.2"),
           ("Forwarded", "for=1.1.1.1")]
    headers = dict(forwarding.upstream_headers(raw, ENVIRON, "rid"))
    assert headers["X-Forwarded-For"] == "1.1.1.1, 2.2.2.2, 10.1.2.3"
    assert headers["X-Forwarded-Proto"] == "https"
    assert headers["Forwarded"] == "for=1.1.1.1"


def test_response_headers_drop_hop_by_hop_and_named_ones():
    items = [("Set-Cookie", "a=1"), ("Set-Cookie", "b=2"), ("Connection", "close, X-Gone"),
             ("X-Gone", "1"), ("Transfer-Encoding", "chunked"), ("X-Request-ID", "theirs")]
    assert response_headers(items, "ours") == [("Set-Cookie", "a=1"), ("Set-Cookie", "b=2"),
                                               ("X-Request-ID", "ours")]


def test_request_id_is_kept_in_the_environ():
    environ = {"HTTP_X_REQUEST_ID": "ok-1.2_3"}
    assert request_id(environ) == "ok-1.2_3" == request_id(environ)
    fresh = {"HTTP_X_REQUEST_ID": "no spaces"}
    assert len(request_id(fresh)) == 32 and request_id(fresh) == request_id(fresh)
