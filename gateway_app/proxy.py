"""REST forwarding over one pooled ``requests`` session, streamed both ways.

DESIGN.md section 8 measured what each ``requests`` layer costs per call (``Session.get``
0.91 ms of CPU, ``HTTPAdapter.send`` 0.49 ms, urllib3 alone 0.26 ms), so each request goes
straight to the session adapter's urllib3 pool for its upstream: no per-call environment
lookups, URL re-parsing, hooks or response wrapping, and, above all, no session cookie
jar, which in a proxy would collect every user's cookies and send them for everyone else.
The raw path and query are handed over as they came (urllib3 only upper-cases
percent-escapes and escapes bytes that RFC 3986 does not allow there).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable, Iterator

import requests
from flask import Response, request
from requests.adapters import HTTPAdapter
from urllib3 import HTTPConnectionPool, HTTPHeaderDict
from urllib3.exceptions import (
    ConnectTimeoutError,
    HTTPError,
    NewConnectionError,
    ReadTimeoutError,
)
from urllib3.response import BaseHTTPResponse
from urllib3.util import SKIP_HEADER, Timeout

from common import runtime
from common.config import GatewayConfig
from common.errors import BadGateway, GatewayTimeout
from gateway_app.headers import Forwarding, Headers, request_id, response_headers
from gateway_app.metrics import metrics
from gateway_app.routes import Route
from gateway_app.upstreams import Upstream, session_id

log = logging.getLogger(__name__)

CHUNK = 64 * 1024
NODE_HEADER = "X-Notify-Node"  # set by notify nodes (DESIGN.md section 6)
# Safe to send twice (RFC 9110), as is any request with an Idempotency-Key.
IDEMPOTENT = frozenset({"GET", "HEAD", "OPTIONS", "PUT", "DELETE"})
RETRY_BODY_LIMIT = 1024 * 1024
# Timeouts of the readiness probe: short, an orchestrator asks often.
PROBE_TIMEOUT = Timeout(connect=1.0, read=2.0)


class ProxiedResponse(Response):
    """A response that adds nothing: no default Content-Type, no computed length."""

    default_mimetype = None
    automatically_set_content_length = False


class UpstreamClient:
    """The gateway's one connection pool to every upstream."""

    def __init__(self, config: GatewayConfig, node_count: int = 16) -> None:
        self.session = requests.Session()
        self.session.trust_env = False  # no proxy/netrc lookups
        # One urllib3 pool per node, kept for the process's life (never evicted).
        self.adapter = HTTPAdapter(pool_connections=max(16, node_count),
                                   pool_maxsize=config.UPSTREAM_POOL_SIZE, max_retries=0)
        self.session.mount("http://", self.adapter)
        self.session.mount("https://", self.adapter)
        self.connect_timeout = config.UPSTREAM_CONNECT_TIMEOUT
        self._pools: dict[str, HTTPConnectionPool] = {}
        self._timeouts: dict[float, Timeout] = {}

    def _pool(self, node: Upstream) -> HTTPConnectionPool:
        pool = self._pools.get(node.base)
        if pool is None or pool.pool is None:  # first use, or closed
            pool = self.adapter.poolmanager.connection_from_host(node.host, node.port,
                                                                node.scheme)
            self._pools[node.base] = pool
        return pool

    def send(self, node: Upstream, method: str, target: str, headers: Headers,
             body: object, timeout: Timeout) -> BaseHTTPResponse:
        """Send one request to ``node``; the response body is left unread."""
        fields = _header_dict(headers)
        return self._pool(node).urlopen(
            method, target, body=body, headers=fields, retries=False, redirect=False,
            assert_same_host=False, preload_content=False, decode_content=False,
            timeout=timeout, chunked=body is not None and "Content-Length" not in fields,
        )

    def open(self, nodes: list[Upstream], method: str, target: str, headers: Headers,
             body: object, read_timeout: float, rid: str, *, retry_once: bool = False
             ) -> tuple[Upstream, BaseHTTPResponse]:
        """Send to the first node that accepts the connection.

        With ``retry_once`` (an idempotent request whose body can be sent again), a request
        that a node dropped after it was sent is retried once on the next node.
        :raises BadGateway: every node refused, or the exchange failed.
        :raises GatewayTimeout: the node did not connect or answer in time.
        """
        timeout = self._timeout(read_timeout)
        for attempt, node in enumerate(nodes, 1):
            try:
                upstream = self.send(node, method, target, headers, body, timeout)
            except HTTPError as exc:
                log.warning("upstream %s failed: %s rid=%s", node.url, exc, rid)
                metrics.upstream_errors.labels(type(exc).__name__).inc()
                if attempt == len(nodes) or not _may_try_next(exc, retry_once):
                    raise _api_error(exc) from None
                if not isinstance(exc, ConnectTimeoutError):
                    retry_once = False  # it was sent: once is enough
                node.mark_down()
                continue
            node.mark_up()
            return node, upstream
        raise BadGateway()  # no nodes: unreachable, a group always has one

    def _timeout(self, read: float) -> Timeout:
        timeout = self._timeouts.get(read)
        if timeout is None:
            timeout = self._timeouts[read] = Timeout(connect=self.connect_timeout, read=read)
        return timeout

    def probe(self, node: Upstream) -> tuple[int | None, str | None]:
        """``(status, node id)`` of ``GET /healthz`` on ``node``; status ``None`` when it does
        not answer.  Marks the node up or down (active health check)."""
        try:
            upstream = self.send(node, "GET", "/healthz", [], None, PROBE_TIMEOUT)
            upstream.read(decode_content=False)  # read to the end: the connection is reused
        except (HTTPError, OSError):
            node.mark_down()
            return None, None
        if upstream.status == 200:
            node.mark_up()
        else:
            node.mark_down()
        return upstream.status, upstream.headers.get(NODE_HEADER)


def forward(client: UpstreamClient, forwarding: Forwarding, route: Route, path: str
            ) -> Response:
    """Proxy the current request to ``route`` (as ``path``) and stream the answer back."""
    started = time.perf_counter()
    environ = request.environ
    rid = request_id(environ)
    headers = forwarding.upstream_headers(runtime.raw_headers(environ), environ, rid)
    query = environ.get("QUERY_STRING")
    target = f"{path}?{query}" if query else path
    method = environ["REQUEST_METHOD"]
    group = route.upstreams
    body, retry_once = _replayable_body(environ, _body(environ))
    node, upstream = client.open(group.candidates(session_id(query)), method, target,
                                 headers, body, route.read_timeout, rid,
                                 retry_once=retry_once)
    group.learn(node, upstream.headers.get(NODE_HEADER))
    metrics.upstream_answered(route.prefix, started)
    relay = _Relay(upstream, (method, target, node.url, rid, started))
    status = f"{upstream.status} {upstream.reason}" if upstream.reason else upstream.status
    return ProxiedResponse(relay, status=status, direct_passthrough=True,
                           headers=response_headers(upstream.headers.items(), rid))


class _Relay:
    """The upstream body as the client's body: raw bytes (gzip stays gzip), never buffered."""

    def __init__(self, upstream: BaseHTTPResponse, what: tuple) -> None:
        self.upstream = upstream
        self.what = what
        self.sent = 0
        self.failed: Exception | None = None

    def __iter__(self) -> Iterator[bytes]:
        try:
            for chunk in self.upstream.stream(CHUNK, decode_content=False):
                self.sent += len(chunk)
                yield chunk
        except (HTTPError, OSError) as exc:
            # Headers are gone already: all that is left is to cut the client off.
            self.failed = exc
            runtime.abort_response()

    def close(self) -> None:
        self.upstream.close()  # back to the pool if read to the end, else dropped
        method, target, node, rid, started = self.what
        ms = (time.perf_counter() - started) * 1000
        status = self.upstream.status
        if self.failed is not None:
            log.warning("%s %s %s cut mid-body after %d bytes: %s rid=%s", method,
                        target.split("?", 1)[0], node, self.sent, self.failed, rid)
        elif log.isEnabledFor(logging.DEBUG):
            log.debug("%s %s -> %s %d %.1fms %d bytes rid=%s", method, target, node, status,
                      ms, self.sent, rid)
        else:
            log.info("%s %s %d %.1fms rid=%s", method, target.split("?", 1)[0], status, ms,
                     rid)


def _body(environ: dict) -> object:
    """The request body to send upstream: ``None``, a file (sized) or chunks (chunked)."""
    chunked = "chunked" in environ.get("HTTP_TRANSFER_ENCODING", "").lower()
    if not chunked and environ.get("CONTENT_LENGTH", "0") in ("", "0"):
        return None
    stream = request.stream  # 413 here when the declared length is over MAX_CONTENT_LENGTH
    if chunked:
        return iter(lambda: stream.read(CHUNK), b"")  # 413 while reading past the limit
    return stream


def _may_try_next(exc: HTTPError, retry_once: bool) -> bool:
    if isinstance(exc, ConnectTimeoutError):  # refusals included: nothing was sent
        return True
    # Sent, then dropped without an answer; a slow answer is not retried (it would double).
    return retry_once and not isinstance(exc, ReadTimeoutError)


def _replayable_body(environ: dict, body: object) -> tuple[object, bool]:
    """``(body, retry_once)``: an idempotent request's small body is read so it can be resent."""
    method = environ["REQUEST_METHOD"]
    if method not in IDEMPOTENT and "HTTP_IDEMPOTENCY_KEY" not in environ:
        return body, False
    if body is None:
        return None, True
    length = environ.get("CONTENT_LENGTH", "")
    if length.isdigit() and int(length) <= RETRY_BODY_LIMIT:
        return body.read(), True
    return body, False  # chunked or large: streamed once, not retried


def _header_dict(headers: Iterable[tuple[str, str]]) -> HTTPHeaderDict:
    result = HTTPHeaderDict()
    for name, value in headers:
        result.add(name, value)
    # urllib3 would add its own User-Agent and "Accept-Encoding: identity"; a proxy must not.
    for name in ("User-Agent", "Accept-Encoding"):
        if name not in result:
            result[name] = SKIP_HEADER
    return result


def _api_error(exc: HTTPError) -> Exception:
    # NewConnectionError is a ConnectTimeoutError too, but a refusal is not a timeout.
    if isinstance(exc, (ReadTimeoutError, ConnectTimeoutError)) \
            and not isinstance(exc, NewConnectionError):
        return GatewayTimeout()
    return BadGateway()
