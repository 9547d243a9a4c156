"""The REST proxy, through a real gateway process to a purpose-built upstream."""

from __future__ import annotations

import gzip
import hashlib
import time

import pytest
import requests

from tests.gateway_app.conftest import MAX_BODY, eventually, proc_status, raw_request
from tests.gateway_app.upstream import GZIP_BODY, GZIP_PLAIN, Upstream, free_port, pattern

API = "/api/notifications"


def header_values(record: dict, name: str) -> list[str]:
    return [v for k, v in record["headers"] if k.lower() == name.lower()]


def assert_error(response: requests.Response, status: int, code: str) -> None:
    assert response.status_code == status
    assert response.headers["Content-Type"] == "application/json"
    assert response.json()["error"]["code"] == code


# -- what passes through unchanged ---------------------------------------------------------

def test_method_path_query_body_and_status_pass_unchanged(gateway, upstream):
    query = "a=1&a=2&empty=&sp=x+y&enc=%20%2F%E2%82%AC&odd=:@/?!$'()*,;"
    response = requests.put(f"{gateway.url}{API}/42/thing?{query}", data=b"\x00payload\xff")
    record = upstream.last("/42/thing")
    assert response.status_code == 200
    assert record["method"] == "PUT"
    assert record["target"] == f"{API}/42/thing?{query}"
    assert record["body_size"] == 9
    assert record["body_sha256"] == hashlib.sha256(b"\x00payload\xff").hexdigest()

    teapot = requests.get(f"{gateway.url}{API}/status?code=418")
    assert teapot.status_code == 418
    assert teapot.reason == "Custom Reason"
    assert teapot.text == "teapot"


def test_head_and_delete(gateway, upstream):
    head = requests.head(f"{gateway.url}{API}/gzip")
    assert head.status_code == 200
    assert head.headers["Content-Length"] == str(len(GZIP_BODY))
    assert requests.delete(f"{gateway.url}{API}/7").json()["method"] == "DELETE"


def test_hop_by_hop_request_headers_are_dropped_the_rest_kept(gateway, upstream):
    requests.get(f"{gateway.url}{API}/hops", headers={
        "Connection": "keep-alive, X-Private", "X-Private": "secret", "Keep-Alive": "300",
        "TE": "trailers", "Trailer": "X-Sum", "Proxy-Authorization": "Basic Zm9vOmJhcg==",
        "Upgrade": "h2c", "Origin": "https://app.example", "Cookie": "sid=1; theme=dark",
        "Authorization": "Bearer abc.def.ghi", "X-Custom": "kept",
    })
    record = upstream.last("/hops")
    names = {k.lower() for k, _ in record["headers"]}
    for dropped in ("connection", "x-private", "keep-alive", "te", "trailer",
                    "proxy-authorization", "upgrade"):
        assert dropped not in names
    assert header_values(record, "Origin") == ["https://app.example"]
    assert header_values(record, "Cookie") == ["sid=1; theme=dark"]
    assert header_values(record, "Authorization") == ["Bearer abc.def.ghi"]
    assert header_values(record, "X-Custom") == ["kept"]
    assert header_values(record, "User-Agent")[0].startswith("python-requests/")


def test_host_is_kept_and_forwarded_headers_are_set(gateway, upstream):
    raw_request(gateway, "GET", f"{API}/host", {"Host": "public.example:8443"})
    record = upstream.last("/host")
    assert header_values(record, "Host") == ["public.example:8443"]
    assert header_values(record, "X-Forwarded-Host") == ["public.example:8443"]
    assert header_values(record, "X-Forwarded-For") == ["127.0.0.1"]
    assert header_values(record, "X-Forwarded-Proto") == ["http"]


def test_forged_forwarded_headers_are_replaced(gateway, upstream):
    requests.get(f"{gateway.url}{API}/forged", headers={
        "X-Forwarded-For": "6.6.6.6", "X-Forwarded-Proto": "https",
        "X-Forwarded-Host": "evil.example", "Forwarded": "for=6.6.6.6", "X-Real-IP": "6.6.6.6",
    })
    record = upstream.last("/forged")
    assert header_values(record, "X-Forwarded-For") == ["127.0.0.1"]
    assert header_values(record, "X-Forwarded-Proto") == ["http"]
    assert header_values(record, "X-Forwarded-Host") == [gateway.url.split("//")[1]]
    assert header_values(record, "Forwarded") == []
    assert header_values(record, "X-Real-IP") == []


def test_forwarded_headers_of_a_trusted_proxy_are_extended(start_service, upstream):
    gateway = start_service("gateway", NOTIFY_URL=upstream.url, TRUSTED_PROXIES="127.0.0.0/8")
    requests.get(f"{gateway.url}{API}/trusted", headers={
        "X-Forwarded-For": "203.0.113.7", "X-Forwarded-Proto": "https",
        "X-Forwarded-Host": "public.example",
    })
    record = upstream.last("/trusted")
    assert header_values(record, "X-Forwarded-For") == ["203.0.113.7, 127.0.0.1"]
    assert header_values(record, "X-Forwarded-Proto") == ["https"]
    assert header_values(record, "X-Forwarded-Host") == ["public.example"]


@pytest.mark.parametrize("sent, kept", [
    ("abc-123.XYZ_9", True), ("a" * 128, True), ("a" * 129, False), ("bad id", False),
    ("<script>", False), ("", False),
])
def test_request_id_is_kept_when_sane_generated_otherwise_and_returned(gateway, upstream,
                                                                       sent, kept):
    response = requests.get(f"{gateway.url}{API}/rid", headers={"X-Request-ID": sent})
    forwarded = header_values(upstream.last("/rid"), "X-Request-ID")
    assert len(forwarded) == 1
    assert response.headers["X-Request-ID"] == forwarded[0]
    if kept:
        assert forwarded[0] == sent
    else:
        assert forwarded[0] != sent
        assert len(forwarded[0]) == 32


def test_response_headers_repeated_kept_hop_by_hop_dropped(gateway):
    response = requests.get(f"{gateway.url}{API}/cookies")
    headers = response.raw.headers
    assert headers.getlist("Set-Cookie") == ["a=1; Path=/; HttpOnly", "b=2; Path=/"]
    assert headers.getlist("X-Repeated") == ["one", "two"]
    for dropped in ("X-Hop-Secret", "Proxy-Authenticate", "Trailer", "Upgrade"):
        assert dropped not in headers
    assert headers.get("Keep-Alive", "") != "timeout=5"  # eventlet's own, not the upstream's
    assert response.cookies.get("a") == "1"


def test_redirects_are_passed_back_not_followed(gateway, upstream):
    count = len(upstream.requests)
    response = requests.get(f"{gateway.url}{API}/redirect", allow_redirects=False)
    assert response.status_code == 302
    assert response.headers["Location"] == "/elsewhere"
    assert len(upstream.requests) == count + 1


def test_gzip_bytes_pass_untouched(gateway):
    response = requests.get(f"{gateway.url}{API}/gzip", stream=True,
                            headers={"Accept-Encoding": "gzip"})
    raw = response.raw.read(decode_content=False)
    assert response.headers["Content-Encoding"] == "gzip"
    assert raw == GZIP_BODY
    assert gzip.decompress(raw) == GZIP_PLAIN
    assert requests.get(f"{gateway.url}{API}/gzip").content == GZIP_PLAIN


def test_no_content_type_is_invented(gateway):
    status, headers, body = raw_request(gateway, "GET", f"{API}/redirect")
    assert status == 302
    assert "Content-Type" not in headers
    assert body == b""


# -- streaming -----------------------------------------------------------------------------

@pytest.mark.parametrize("chunked", ["0", "1"])
def test_a_50_mb_download_is_streamed_not_held(gateway, chunked):
    size = 50 * 1000 * 1000
    expected = hashlib.sha256()
    for piece in pattern(size):
        expected.update(piece)
    requests.get(f"{gateway.url}{API}/big?size=1000000").raise_for_status()  # warm up
    rss_before = proc_status(gateway.proc.pid, "VmRSS")
    digest, received = hashlib.sha256(), 0
    with requests.get(f"{gateway.url}{API}/big?size={size}&chunked={chunked}",
                      stream=True) as response:
        for piece in response.iter_content(256 * 1024):
            digest.update(piece)
            received += len(piece)
            if received < 5_000_000:
                time.sleep(0.001)  # a slow start: a buffering proxy would fill up now
    rss_after = proc_status(gateway.proc.pid, "VmRSS")
    assert received == size
    assert digest.hexdigest() == expected.hexdigest()
    assert rss_after - rss_before < 20_000, (rss_before, rss_after)  # kB; the body is 50 MB


def test_a_large_upload_is_streamed_with_or_without_length(gateway, upstream):
    body = b"0123456789abcdef" * (1 << 20)  # 16 MiB
    digest = hashlib.sha256(body).hexdigest()
    sized = requests.post(f"{gateway.url}{API}/upload", data=body).json()
    assert (sized["body_size"], sized["body_sha256"]) == (len(body), digest)
    chunks = (body[i:i + 65536] for i in range(0, len(body), 65536))
    chunked = requests.post(f"{gateway.url}{API}/upload", data=chunks).json()
    assert (chunked["body_size"], chunked["body_sha256"]) == (len(body), digest)
    assert "chunked" in header_values(upstream.last("/upload"), "Transfer-Encoding")


def test_an_oversized_upload_is_413_json(gateway, upstream):
    count = len(upstream.requests)
    too_big = b"x" * (MAX_BODY + 1)
    assert_error(requests.post(f"{gateway.url}{API}/upload", data=too_big), 413,
                 "request_entity_too_large")
    assert len(upstream.requests) == count  # refused before any upstream call
    chunks = (too_big[i:i + 1 << 20] for i in range(0, len(too_big), 1 << 20))
    response = requests.post(f"{gateway.url}{API}/upload", data=chunks)
    assert_error(response, 413, "request_entity_too_large")
    assert requests.get(f"{gateway.url}/healthz").ok


def test_upstream_dying_mid_body_cuts_the_client_off(gateway):
    with pytest.raises(requests.exceptions.ChunkedEncodingError):
        _ = requests.get(f"{gateway.url}{API}/die").content
    assert requests.get(f"{gateway.url}{API}/after-die").ok


# -- failures ------------------------------------------------------------------------------

def test_upstream_down_is_502_json_then_served_once_it_is_back(start_service):
    port = free_port()
    gateway = start_service("gateway", NOTIFY_URL=f"http://127.0.0.1:{port}")
    response = requests.get(f"{gateway.url}{API}", headers={"X-Request-ID": "trace-502"})
    assert_error(response, 502, "bad_gateway")
    assert "127.0.0.1" not in response.text  # no upstream address for the client
    assert eventually(lambda: "trace-502" in gateway.log())
    revived = Upstream(port).start()
    try:
        assert requests.get(f"{gateway.url}{API}/back").json()["path"] == f"{API}/back"
    finally:
        revived.stop()


def test_slow_upstream_is_504_json_and_the_gateway_serves_right_after(gateway):
    started = time.monotonic()
    assert_error(requests.get(f"{gateway.url}{API}/slow?seconds=3"), 504, "gateway_timeout")
    assert time.monotonic() - started < 2.5
    assert requests.get(f"{gateway.url}{API}/fine").ok


def test_engineio_polls_get_the_longer_read_timeout(gateway):
    # 1.5 s is past UPSTREAM_READ_TIMEOUT (1 s) but within POLLING_READ_TIMEOUT (5 s).
    response = requests.get(f"{gateway.url}/socket.io/slow?EIO=4&transport=polling&seconds=1.5")
    assert response.status_code == 200
    assert response.text == "late"


def test_a_refusing_node_is_skipped(start_service, upstream):
    dead = f"http://127.0.0.1:{free_port()}"
    gateway = start_service("gateway", NOTIFY_URL=f"{dead},{upstream.url}")
    for _ in range(4):
        assert requests.get(f"{gateway.url}{API}/spread").ok


def test_tokens_are_not_logged(gateway):
    token = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJhbGljZSJ9.c2lnbmF0dXJlLXNpZ25hdHVyZQ"
    requests.get(f"{gateway.url}{API}/logged?token={token}",
                 headers={"Authorization": f"Bearer {token}"})
    assert eventually(lambda: "/logged" in gateway.log())
    assert token not in gateway.log()
