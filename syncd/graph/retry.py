"""When to retry a Graph request and how long to wait.

Graph answers 429 (throttled) and 503/504 (busy) with `Retry-After` in seconds
(possibly fractional, e.g. "2.128"); without it, back off exponentially:
https://learn.microsoft.com/graph/throttling#best-practices-to-handle-throttling
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

from syncd.metrics import waits as wait_metrics

#: Statuses that mean "not done, try again later".
RETRY_STATUSES = frozenset({429, 503, 504})

_BACKOFF_BASE_SECONDS = 0.5
_BACKOFF_CAP_SECONDS = 30.0


def parse_retry_after(value: str | None, now: datetime | None = None) -> float | None:
    """Seconds to wait from a `Retry-After` value: delta-seconds or an HTTP-date (RFC 9110)."""
    if value is None or not value.strip():
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - (now or datetime.now(UTC))).total_seconds())


@dataclass
class RetryBudget:
    """Retries left for one client call: a count and a total waiting time."""

    max_retries: int
    max_wait_seconds: float
    retries: int = 0
    waited: float = 0.0
    _rng: random.Random = field(default_factory=random.SystemRandom, repr=False)
    #: Whether the wait `next_wait` chose was Graph's own (Retry-After), for the metrics.
    _named: bool = field(default=False, repr=False)

    def backoff(self) -> float:
        """Exponential backoff with jitter for the next retry (used when Graph names no wait)."""
        ceiling = min(_BACKOFF_CAP_SECONDS, _BACKOFF_BASE_SECONDS * 2**self.retries)
        return ceiling / 2 + self._rng.uniform(0, ceiling / 2)

    def next_wait(self, retry_after: float | None) -> tuple[bool, float]:
        """(allowed, delay): whether one more retry fits the budget, and after how long."""
        delay = retry_after if retry_after is not None else self.backoff()
        self._named = retry_after is not None
        allowed = self.retries < self.max_retries and self.waited + delay <= self.max_wait_seconds
        return allowed, delay

    def spend(self, delay: float) -> None:
        self.retries += 1
        self.waited += delay
        wait_metrics.waited(
            "graph", wait_metrics.THROTTLED if self._named else wait_metrics.BACKOFF, delay
        )
