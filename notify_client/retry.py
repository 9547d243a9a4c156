"""When to retry a publish and how long to wait first."""

from __future__ import annotations

import datetime as dt
import email.utils
import random
from dataclasses import dataclass

# Answers that say "not now" rather than "never": the gateway's 502/504 when notify is down or
# slow, notify's 503, and rate limiting.
RETRY_STATUSES = frozenset({429, 502, 503, 504})


@dataclass(frozen=True)
class RetryPolicy:
    """``retries`` more attempts after the first, waiting ``backoff * 2**n`` with jitter.

    A ``Retry-After`` from the service wins over the computed wait, up to ``max_wait``:
    asked to wait longer than that, the client gives up instead of blocking its caller.
    """

    retries: int = 3
    backoff: float = 0.2
    max_backoff: float = 10.0
    max_wait: float = 30.0

    def __post_init__(self) -> None:
        if self.retries < 0 or self.backoff < 0:
            raise ValueError("retries and backoff must not be negative")

    def delay(self, attempt: int, retry_after: float | None = None) -> float | None:
        """Seconds to wait before attempt ``attempt + 1`` (``attempt`` counts from 0), or
        ``None`` when no retry is left or the service asked for too long a wait."""
        if attempt >= self.retries:
            return None
        if retry_after is not None:
            return retry_after if retry_after <= self.max_wait else None
        ceiling = min(self.max_backoff, self.backoff * 2**attempt)
        # "Equal jitter": at least half the step, so retries spread out without ever
        # hammering the service right away.
        return ceiling / 2 + random.uniform(0, ceiling / 2)


def parse_retry_after(value: str | None) -> float | None:
    """Seconds from a ``Retry-After`` header (delta-seconds or an HTTP date), or ``None``."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=dt.UTC)
    return max(0.0, (when - dt.datetime.now(dt.UTC)).total_seconds())
