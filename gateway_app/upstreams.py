"""Upstream nodes: which one serves a request, which are down, how to reach them.

A route names a :class:`UpstreamGroup`.  A group spreads requests round-robin and skips, for
a short while, a node that refused a connection (passive checks) or failed its ``/healthz``
(active checks).  Engine.IO stickiness without a session table (DESIGN.md section 6): each
notify node starts its session ids with its node id and names itself in ``X-Notify-Node``;
the group learns node id -> node from those headers, so a request carrying ``sid=n1.xyz``
goes to the node that owns session ``n1.xyz`` and nowhere else.
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from urllib.parse import unquote, urlsplit

from common.errors import BadRequest

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
    node_id: str | None = None  # learned from its X-Notify-Node header

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
        self.by_id: dict[str, Upstream] = {}

    def candidates(self, sid: str | None = None) -> list[Upstream]:
        """Nodes to try for one request, best first.

        A request of an Engine.IO session (``sid``) can only be served by the node that owns
        the session: it gets that node alone.
        :raises BadRequest: ``sid`` names no known node.
        """
        nodes = self.nodes
        if sid is not None and len(nodes) > 1:
            return [self.owner(sid)]
        if len(nodes) == 1:
            return nodes
        start = next(self._turn) % len(nodes)
        ordered = nodes[start:] + nodes[:start]
        now = time.monotonic()
        return sorted(ordered, key=lambda node: not node.is_up(now))

    def owner(self, sid: str) -> Upstream:
        node_id, dot, _ = sid.partition(".")
        node = self.by_id.get(node_id) if dot else None
        if node is None:
            raise BadRequest("The session id names no known node.", code="unknown_session")
        return node

    def learn(self, node: Upstream, node_id: str | None) -> None:
        """Note that ``node`` calls itself ``node_id`` (from a response header)."""
        if node_id and node.node_id != node_id:
            if node.node_id is not None:
                self.by_id.pop(node.node_id, None)  # the node restarted under another id
            node.node_id = node_id
            self.by_id[node_id] = node

    def __repr__(self) -> str:
        return f"UpstreamGroup({[node.url for node in self.nodes]!r})"


def session_id(query: str | None) -> str | None:
    """The Engine.IO ``sid`` of a query string, if any (cheap when there is none)."""
    if not query or "sid=" not in query:
        return None
    for pair in query.split("&"):
        name, _, value = pair.partition("=")
        if name == "sid":
            return unquote(value) or None
    return None
