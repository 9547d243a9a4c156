"""What this node knows about each of its sockets: who, until when, and what it was sent.

The per-socket watermark (``last_id``) is what lets recovery replay from the store without
losing or repeating a notification: while a socket replays, live notifications for it are
held back, then sent after the replay if they are newer than what the replay sent.
"""

from __future__ import annotations

import enum
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from common import runtime


class Admission(enum.Enum):
    SEND = "send"
    SKIP = "skip"
    GAP = "gap"  # held back; the socket must catch up from the store


@dataclass
class SocketState:
    user: str | None = None
    expires_at: float = 0.0
    last_id: int = 0  # highest notification id sent to (or already held by) this socket
    replaying: bool = False
    held: list[dict] = field(default_factory=list)  # live ones that arrived mid-replay
    timer: Any = None  # the auth timeout or the expiry, whichever is pending


class SocketRegistry:
    """The sockets of this node, by Socket.IO sid."""

    def __init__(self) -> None:
        self.sockets: dict[str, SocketState] = {}

    def get(self, sid: str) -> SocketState | None:
        return self.sockets.get(sid)

    def add(self, sid: str) -> SocketState:
        return self.sockets.setdefault(sid, SocketState())

    def remove(self, sid: str) -> None:
        state = self.sockets.pop(sid, None)
        if state is not None:
            _cancel(state)

    def schedule(self, sid: str, seconds: float, action: Callable[[str], None]) -> None:
        """Run ``action(sid)`` after ``seconds`` unless rescheduled or removed first."""
        state = self.sockets[sid]
        _cancel(state)
        state.timer = runtime.spawn_after(max(seconds, 0.0), action, sid)

    def admit(self, sid: str, notification: dict) -> Admission:
        """What to do with a live ``notification`` for ``sid`` (noted as sent if SEND)."""
        state = self.sockets.get(sid)
        if state is None or state.user != notification.get("user"):
            return Admission.SKIP  # anonymous, gone, or (defensively) someone else's
        if state.replaying:
            state.held.append(notification)
            return Admission.SKIP
        if notification["id"] <= state.last_id:
            return Admission.SKIP  # already sent
        if notification.get("prev_id", 0) > state.last_id:
            # It overtook an earlier one (published on another node, still in flight):
            # sending it now would break the order, and `last_id` recovery would skip the other.
            state.held.append(notification)
            return Admission.GAP
        state.last_id = notification["id"]
        return Admission.SEND

    def authenticated_count(self) -> int:
        return sum(1 for s in self.sockets.values() if s.user is not None)


def _cancel(state: SocketState) -> None:
    if state.timer is not None:
        state.timer.cancel()
        state.timer = None
