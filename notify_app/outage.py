"""Logging an outage once when it starts and once when it ends, not at every failure."""

from __future__ import annotations

import logging
import time

log = logging.getLogger(__name__)


class Outage:
    """Logs the start and the end of an outage once each, not every failure in between."""

    def __init__(self, what: str) -> None:
        self.what = what
        self.since: float | None = None

    def failed(self, exc: Exception) -> None:
        if self.since is None:
            self.since = time.monotonic()
            log.error("%s unavailable: %s", self.what, exc)

    def recovered(self) -> bool:
        """Note success; true if an outage just ended."""
        if self.since is None:
            return False
        log.warning("%s back after %.1f s", self.what, time.monotonic() - self.since)
        self.since = None
        return True
