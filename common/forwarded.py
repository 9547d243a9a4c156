"""Who the client is: its address, believing ``X-Forwarded-For`` only from trusted peers.

Anyone can send ``X-Forwarded-For``.  A hop counts only when the machine that added it is
trusted, so the chain is read from the right (the hop nearest to us) and the first address
that is not a trusted proxy is the client, as werkzeug's ``ProxyFix`` and nginx's
``real_ip_recursive`` do.  The gateway uses this to decide whether to extend or replace the
headers it forwards (``TRUSTED_PROXIES``); notify uses it to find the address its per-IP
rate limits and logs see behind the gateway (``TRUSTED_GATEWAYS``).
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable

Network = ipaddress.IPv4Network | ipaddress.IPv6Network

# Longer chains are not worth reading: no real deployment has that many proxies.
MAX_HOPS = 32


class TrustedProxies:
    """A set of networks whose ``X-Forwarded-For`` is believed."""

    def __init__(self, networks: Iterable[str]) -> None:
        self.networks: list[Network] = [ipaddress.ip_network(n, strict=False) for n in networks]

    def trusts(self, address: str | None) -> bool:
        """Whether ``address`` (an IP, possibly with a zone or brackets) is a trusted proxy."""
        parsed = _parse(address)
        return parsed is not None and any(parsed in network for network in self.networks)

    def client_address(self, peer: str | None, forwarded_for: str | None) -> str:
        """The client's address, given the direct ``peer`` and its ``X-Forwarded-For``.

        An untrusted peer is the client whatever it claims.  Behind trusted peers, the
        rightmost address that is not trusted is the client; an entry that is not an IP
        address stops the walk at the trusted hop that reported it.
        """
        peer = peer or ""
        if not forwarded_for or not self.trusts(peer):
            return peer
        current = peer
        hops = [hop.strip() for hop in forwarded_for.split(",")][-MAX_HOPS:]
        for hop in reversed(hops):
            parsed = _parse(hop)
            if parsed is None:
                return current  # garbage: the trusted hop that passed it on is all we know
            current = str(parsed)
            if not any(parsed in network for network in self.networks):
                return current
        return current  # every hop trusted: the leftmost one is the client

    def client_address_of(self, environ: dict) -> str:
        """:meth:`client_address` for a WSGI request."""
        return self.client_address(environ.get("REMOTE_ADDR"),
                                   environ.get("HTTP_X_FORWARDED_FOR"))


def _parse(text: str | None) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    if not text:
        return None
    text = text.strip()
    if text.startswith("[") and "]" in text:  # "[::1]:1234" as some proxies write it
        text = text[1:text.index("]")]
    try:
        address = ipaddress.ip_address(text.split("%", 1)[0])
    except ValueError:
        return None
    mapped = getattr(address, "ipv4_mapped", None)
    return mapped or address
