"""The route table: path prefix -> upstream group, and the path normalisation before it.

A request reaches a route only through a path that names it: dot segments (plain or
percent-encoded), encoded slashes and backslashes are refused, and duplicate slashes are
merged, so nothing an upstream would resolve differently can cross from one prefix into
another.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from urllib.parse import unquote, urlsplit

from common.config import GatewayConfig
from common.errors import BadRequest, NotFound
from gateway_app.upstreams import Upstream, UpstreamGroup

# Paths without any of these are already normal: the common case costs one regex search.
_UNUSUAL = re.compile(r"//|%|/\.|\\|[\x00-\x20\x7f]")
# Encoded "/", "\" and NUL: an upstream decoding them would see other segments than we did.
_FORBIDDEN_ESCAPES = re.compile(r"%(?:2f|5c|00)", re.IGNORECASE)
_CONTROL = re.compile(r"[\x00-\x20\x7f\\]")

NOTIFICATIONS = "/api/notifications"
OPENAPI = "/api/openapi.json"  # the REST API's own description, served by notify
ALIASES = {"/api/notificaciones": NOTIFICATIONS}


@dataclass(frozen=True)
class Route:
    """``prefix`` (no trailing slash) is served by ``upstreams`` under ``target``."""

    prefix: str
    upstreams: UpstreamGroup
    target: str
    read_timeout: float

    def matches(self, path: str) -> bool:
        # On a segment boundary: /api/notifications must not match /api/notificationsX.
        prefix = self.prefix
        return path.startswith(prefix) and (len(path) == len(prefix) or path[len(prefix)] == "/")

    def upstream_path(self, path: str) -> str:
        return (self.target + path[len(self.prefix):]) or "/"


class RouteTable:
    """Routes, longest prefix first."""

    def __init__(self, routes: Iterable[Route]) -> None:
        self.routes = sorted(routes, key=lambda r: len(r.prefix), reverse=True)

    @classmethod
    def from_config(cls, config: GatewayConfig) -> RouteTable:
        notify = UpstreamGroup(config.NOTIFY_URL)
        read = config.UPSTREAM_READ_TIMEOUT
        routes = {
            # Engine.IO long polls wait up to the ping interval: they get the longer timeout.
            "/socket.io": Route("/socket.io", notify, "/socket.io", config.POLLING_READ_TIMEOUT),
            NOTIFICATIONS: Route(NOTIFICATIONS, notify, NOTIFICATIONS, read),
            OPENAPI: Route(OPENAPI, notify, OPENAPI, read),
        }
        for alias, target in ALIASES.items():
            routes[alias] = Route(alias, notify, target, read)
        for prefix, urls in parse_extra_routes(config.GATEWAY_ROUTES).items():
            target = urlsplit(urls[0]).path.rstrip("/") or prefix
            routes[prefix] = Route(prefix, UpstreamGroup(urls), target, read)
        return cls(routes.values())

    def resolve(self, raw_path: str) -> tuple[Route, str]:
        """The route for ``raw_path`` and the path to ask its upstream for.

        :raises BadRequest: the path cannot be normalised safely.
        :raises NotFound: no route names the normalised path.
        """
        path = normalise(raw_path)
        for route in self.routes:
            if route.matches(path):
                return route, route.upstream_path(path)
        raise NotFound()

    def nodes(self) -> dict[str, tuple[Upstream, list[str]]]:
        """Every distinct upstream (by base URL) with the prefixes it serves, for readiness."""
        found: dict[str, tuple[Upstream, list[str]]] = {}
        for route in sorted(self.routes, key=lambda r: r.prefix):
            for node in route.upstreams.nodes:
                found.setdefault(node.base, (node, []))[1].append(route.prefix or "/")
        return found


def parse_extra_routes(items: Iterable[str]) -> dict[str, list[str]]:
    """``/prefix=http://host:port`` items to ``{prefix: [url, ...]}``.

    A prefix given several times gets several nodes (round-robin).
    """
    routes: dict[str, list[str]] = {}
    for item in items:
        prefix, _, url = item.partition("=")
        routes.setdefault(prefix.strip().rstrip("/"), []).append(url.strip())
    return routes


def normalise(raw_path: str) -> str:
    """``raw_path`` (still percent-encoded) with duplicate slashes merged.

    :raises BadRequest: dot segments, encoded ``/``, ``\\`` or NUL, or control characters.
    """
    if not raw_path.startswith("/"):
        raise BadRequest("The request path must start with '/'.")
    if not _UNUSUAL.search(raw_path):
        return raw_path
    if _FORBIDDEN_ESCAPES.search(raw_path) or _CONTROL.search(raw_path):
        raise BadRequest("The request path contains a forbidden character.")
    segments = [segment for segment in raw_path.split("/") if segment]
    if any(unquote(segment) in (".", "..") for segment in segments):
        raise BadRequest("The request path must not contain '.' or '..' segments.")
    path = "/" + "/".join(segments)
    if raw_path.endswith("/") and segments:
        path += "/"
    return path
