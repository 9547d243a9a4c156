"""The route table and path normalisation: units, then through a real gateway."""

from __future__ import annotations

import pytest
import requests

from common.config import ConfigError, GatewayConfig
from common.errors import BadRequest, NotFound
from gateway_app.routes import RouteTable, normalise
from tests.gateway_app.conftest import raw_request
from tests.support import SECRET


def table(**settings) -> RouteTable:
    return RouteTable.from_config(GatewayConfig(JWT_SECRET=SECRET, **settings))


@pytest.mark.parametrize("raw, normal", [
    ("/api/notifications", "/api/notifications"),
    ("//api//notifications", "/api/notifications"),
    ("/socket.io/", "/socket.io/"),
    ("/a///b//", "/a/b/"),
    ("/a/%41b", "/a/%41b"),  # other escapes stay as sent
    ("/a/.hidden/x..y", "/a/.hidden/x..y"),
])
def test_normalise(raw, normal):
    assert normalise(raw) == normal


@pytest.mark.parametrize("raw", [
    "/api/notifications/../../etc/passwd", "/api/notifications/..%2F..%2Fadmin",
    "/socket.io/%2e%2e/", "/socket.io/%2E./x", "/a/./b", "/a/..", "/a%5c..%5cb", "/a\\b",
    "/a%00b", "relative", "/a/%2fb",
])
def test_normalise_refuses(raw):
    with pytest.raises(BadRequest):
        normalise(raw)


def test_default_routes_and_alias():
    routes = table(NOTIFY_URL=("http://n1:3006",))
    route, path = routes.resolve("/api/notificaciones/5/read")
    assert path == "/api/notifications/5/read"
    assert [n.url for n in route.upstreams.nodes] == ["http://n1:3006"]
    assert routes.resolve("/socket.io/")[1] == "/socket.io/"
    assert routes.resolve("/socket.io")[1] == "/socket.io"
    assert routes.resolve("/api/notifications")[1] == "/api/notifications"


@pytest.mark.parametrize("path", ["/", "/api/notificationsX", "/api", "/socket.iox/",
                                  "/healthz", "/extraX"])
def test_unrouted_paths_are_not_found(path):
    with pytest.raises(NotFound):
        table(GATEWAY_ROUTES=("/extra=http://x:1",)).resolve(path)


def test_extra_routes_longest_prefix_and_target_path():
    routes = table(GATEWAY_ROUTES=("/extra=http://a:1", "/extra=http://b:2",
                                   "/api/notifications/admin=http://c:3/internal/"))
    route, path = routes.resolve("/extra/x")
    assert (path, [n.url for n in route.upstreams.nodes]) == ("/extra/x", ["http://a:1",
                                                                          "http://b:2"])
    route, path = routes.resolve("/api/notifications/admin/users")
    assert path == "/internal/users"
    assert routes.resolve("/api/notifications/1")[0].prefix == "/api/notifications"


def test_round_robin_over_nodes():
    route, _ = table(NOTIFY_URL=("http://n1:1", "http://n2:2")).resolve("/socket.io/")
    firsts = {route.upstreams.candidates()[0].url for _ in range(4)}
    assert firsts == {"http://n1:1", "http://n2:2"}


@pytest.mark.parametrize("routes", [("extra=http://x:1",), ("/extra",), ("/extra=ftp://x",)])
def test_bad_gateway_routes_refuse_to_start(routes):
    with pytest.raises(ConfigError) as error:
        GatewayConfig(JWT_SECRET=SECRET, GATEWAY_ROUTES=routes)
    assert error.value.variable == "GATEWAY_ROUTES"


# -- through the gateway -------------------------------------------------------------------

@pytest.mark.parametrize("target, status", [
    ("/api/notifications/../../etc/passwd", 400),
    ("/api/notifications/..%2F..%2Fadmin", 400),
    ("/socket.io/%2e%2e/", 400),
    ("/socket.io/%2e%2e/api/notifications", 400),
    ("/api/notificationsX", 404),
    ("/api/notifications%2Fx", 400),
    ("/etc/passwd", 404),
    ("/static/../../wsgi.py", 404),
])
def test_escape_attempts_never_reach_an_upstream(gateway, upstream, other, target, status):
    before = len(upstream.requests) + len(other.requests)
    code, headers, body = raw_request(gateway, "GET", target)
    assert code == status
    assert headers["Content-Type"] == "application/json"
    assert b'"error"' in body
    assert len(upstream.requests) + len(other.requests) == before


def test_duplicate_slashes_reach_the_route_they_name(gateway, upstream):
    code, _, _ = raw_request(gateway, "GET", "//api//notifications//dup?x=1")
    assert code == 200
    assert upstream.last("/dup")["target"] == "/api/notifications/dup?x=1"


def test_alias_reaches_upstream_as_notifications(gateway, upstream):
    response = requests.post(f"{gateway.url}/api/notificaciones/read-all?x=%C3%B1")
    assert response.status_code == 200
    assert upstream.last("read-all")["target"] == "/api/notifications/read-all?x=%C3%B1"


def test_extra_routes_from_config(gateway, upstream, other):
    assert requests.get(f"{gateway.url}/extra/thing").json()["target"] == "/extra/thing"
    assert requests.get(f"{gateway.url}/mapped/x?q=1").json()["target"] == "/base/x?q=1"
    assert all("/extra/thing" not in r["target"] for r in upstream.requests)


def test_unknown_path_is_404_json(gateway):
    response = requests.post(f"{gateway.url}/nowhere")
    assert response.status_code == 404
    assert response.json() == {"error": {"code": "not_found", "message": "Not found."}}


def test_healthz_answers_locally(gateway):
    assert requests.get(f"{gateway.url}/healthz").json() == {"status": "ok",
                                                           "service": "gateway"}


def test_readyz_up_and_down(gateway, upstream, other):
    ready = requests.get(f"{gateway.url}/readyz")
    assert ready.status_code == 200
    body = ready.json()
    assert body["status"] == "ready"
    assert {u["url"]: u["up"] for u in body["upstreams"]} == {upstream.url: True,
                                                             other.url: True}
    upstream.set_health(503)
    try:
        down = requests.get(f"{gateway.url}/readyz")
        assert down.status_code == 503
        assert {u["url"]: u["up"] for u in down.json()["upstreams"]} == {upstream.url: False,
                                                                        other.url: True}
    finally:
        upstream.set_health(200)


def test_readyz_with_an_upstream_not_listening(start_service, upstream):
    from tests.gateway_app.upstream import free_port

    dead = f"http://127.0.0.1:{free_port()}"
    gateway = start_service("gateway", NOTIFY_URL=dead)
    response = requests.get(f"{gateway.url}/readyz")
    assert response.status_code == 503
    assert response.json()["upstreams"] == [{
        "url": dead, "up": False, "status": None, "node": None,
        "routes": ["/api/notificaciones", "/api/notifications", "/api/openapi.json",
                   "/socket.io"]}]
