"""Header rules both the REST proxy and the tunnel follow.

Hop-by-hop headers and the names listed in ``Connection`` stop at the gateway in both
directions.  ``X-Forwarded-*`` and ``X-Request-ID`` are set by the gateway; the client's own
forwarded headers count only when the direct peer is a trusted proxy.  ``Host`` and
``Origin`` pass unchanged (Engine.IO compares them).
"""

from __future__ import annotations

from collections.abc import Iterable

from common.forwarded import TrustedProxies
from common.logs import REQUEST_ID_KEY, request_id_from

HOP_BY_HOP = frozenset({
    "connection", "keep-alive", "proxy-authenticate", "proxy-authorization", "te",
    "trailer", "trailers", "transfer-encoding", "upgrade",
    # Not hop-by-hop by name, but the gateway answers "100 Continue" itself.
    "expect",
})
FORWARDED = frozenset({
    "x-forwarded-for", "x-forwarded-proto", "x-forwarded-host", "x-forwarded-port",
    "x-forwarded-prefix", "forwarded", "x-real-ip",
})

Headers = list[tuple[str, str]]


def request_id(environ: dict) -> str:
    """The id of this request: the client's sane ``X-Request-ID`` or a new one, noted in the
    environ so that every log line written while serving it carries it."""
    rid = environ.get(REQUEST_ID_KEY)
    if rid is None:
        rid = environ[REQUEST_ID_KEY] = request_id_from(environ.get("HTTP_X_REQUEST_ID"))
    return rid


def connection_names(values: Iterable[str]) -> set[str]:
    """Lower-case header names listed in ``Connection`` values."""
    return {name.strip().lower() for value in values for name in value.split(",")} - {""}


class Forwarding:
    """Builds the headers sent upstream for one trust policy (``TRUSTED_PROXIES``)."""

    def __init__(self, trusted_proxies: Iterable[str]) -> None:
        self.proxies = TrustedProxies(trusted_proxies)
        self.networks = self.proxies.networks

    def trusts(self, peer: str) -> bool:
        return bool(self.networks) and self.proxies.trusts(peer)

    def client_address(self, environ: dict) -> str:
        """The client's address (the peer unless it is a trusted proxy), for logs."""
        return self.proxies.client_address_of(environ)

    def upstream_headers(self, raw: Iterable[tuple[str, str]], environ: dict, rid: str,
                         upgrade: bool = False) -> Headers:
        """``raw`` client headers as the upstream should see them.

        ``upgrade`` keeps ``Upgrade`` and sends ``Connection: Upgrade`` (the tunnel).
        """
        peer = environ.get("REMOTE_ADDR", "")
        trusted = self.trusts(peer)
        kept, connection, forwarded, reframed = _split(raw, trusted, upgrade)
        if connection:
            kept = _drop_named(kept, connection, upgrade)
        if upgrade:
            kept.append(("Connection", "Upgrade"))
        if reframed:
            # The body is re-framed upstream; a Content-Length beside chunked would be a lie.
            kept = [(n, v) for n, v in kept if n.lower() != "content-length"]
        kept.extend(_forwarded(forwarded, environ, peer, trusted))
        kept.append(("X-Request-ID", rid))
        return kept


def response_headers(items: Iterable[tuple[str, str]], rid: str) -> Headers:
    """Upstream response headers minus hop-by-hop ones, with our ``X-Request-ID``."""
    items = list(items)
    connection = [v for n, v in items if n.lower() == "connection"]
    named = connection_names(connection) if connection else ()
    kept = [(n, v) for n, v in items
            if (lower := n.lower()) not in HOP_BY_HOP and lower not in named
            and lower != "x-request-id"]
    kept.append(("X-Request-ID", rid))
    return kept


def _split(raw: Iterable[tuple[str, str]], trusted: bool, upgrade: bool
           ) -> tuple[Headers, list[str], dict[str, str], bool]:
    """Sort client headers: kept, ``Connection`` values, forwarded ones, chunked or not."""
    kept: Headers = []
    connection: list[str] = []
    forwarded: dict[str, str] = {}
    reframed = False
    for name, value in raw:
        lower = name.lower()
        if lower in HOP_BY_HOP:
            if lower == "connection":
                connection.append(value)
            elif lower == "transfer-encoding":
                reframed = True
            elif upgrade and lower == "upgrade":
                kept.append((name, value))
        elif lower in FORWARDED:
            if trusted:
                previous = forwarded.get(lower)
                forwarded[lower] = f"{previous}, {value}" if previous else value
        elif lower != "x-request-id":
            kept.append((name, value))
    return kept, connection, forwarded, reframed


def _drop_named(kept: Headers, connection: list[str], upgrade: bool) -> Headers:
    named = connection_names(connection)
    if upgrade:
        named.discard("upgrade")
    return [(n, v) for n, v in kept if n.lower() not in named]


def _forwarded(sent: dict[str, str], environ: dict, peer: str, trusted: bool) -> Headers:
    host = environ.get("HTTP_HOST") or environ.get("SERVER_NAME", "")
    if not trusted:
        return [("X-Forwarded-For", peer), ("X-Forwarded-Proto", environ["wsgi.url_scheme"]),
                ("X-Forwarded-Host", host)]
    chain = sent.pop("x-forwarded-for", "")
    result = [("X-Forwarded-For", f"{chain}, {peer}" if chain else peer),
              ("X-Forwarded-Proto", sent.pop("x-forwarded-proto", environ["wsgi.url_scheme"])),
              ("X-Forwarded-Host", sent.pop("x-forwarded-host", host))]
    # Whatever else a trusted proxy said (Forwarded, X-Real-IP...) passes unchanged.
    return result + [("-".join(p.capitalize() for p in name.split("-")), value)
                     for name, value in sent.items()]
