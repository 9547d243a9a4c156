"""Upstream nodes: which one serves a request, which are down, how to reach them.

A route names a :class:`UpstreamGroup`.  For now a group spreads requests round-robin and
skips, for a short while, a node that refused a connection.  Engine.IO stickiness (DESIGN.md
section 6) will plug in at :meth:`UpstreamGroup.candidates`: a request that carries a ``sid``
naming a node goes to that node first; nothing else has to change.
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from urllib.parse import urlsplit

# How long a node that refused a connection is passed over (unless every node is down).
DOWN_SECONDS = 2.0


@dataclass(eq=False)
class Upstream:
    """One node: ``url`` like ``http://10.0.0.5:3006`` (a path, if any, is the route's)."""

    url: str
    scheme: str = field(init=False)
    host: str = field(init=False)
    port: int = field(init=False)
    base: str = field(init=False)
    down_until: float = 0.0

    def __post_init__(self) -> None:
        parts = urlsplit(self.url)
        self.scheme = parts.scheme
        self.host = parts.hostname or "127.0.0.1"
        self.port = parts.port or (443 if parts.scheme == "https" else 80)
        self.base = f"{parts.scheme}://{parts.netloc}"

    @property
    def address(self) -> tuple[str, int]:
        return self.host, self.port

    def is_up(self, now: float) -> bool:
        return now >= self.down_until

    def mark_down(self) -> None:
        self.down_until = time.monotonic() + DOWN_SECONDS

    def mark_up(self) -> None:
        self.down_until = 0.0


class UpstreamGroup:
    """The nodes of one route, tried in round-robin order, nodes known down last."""

    def __init__(self, urls: Iterable[str]) -> None:
        self.nodes = [Upstream(url) for url in urls]
        if not self.nodes:
            raise ValueError("an upstream group needs at least one node")
        self._turn = itertools.count()

    def candidates(self, sid: str | None = None) -> list[Upstream]:
        """Nodes to try for one request, best first.

        ``sid`` is the Engine.IO session id of the request, unused until nodes put their
        id into session ids; then the node named by it will come first.
        """
        nodes = self.nodes
        if len(nodes) == 1:
            return nodes
        start = next(self._turn) % len(nodes)
        ordered = nodes[start:] + nodes[:start]
        now = time.monotonic()
        return sorted(ordered, key=lambda node: not node.is_up(now))

    def __repr__(self) -> str:
        return f"UpstreamGroup({[node.url for node in self.nodes]!r})"
