"""Growing waits within a budget, for one client call (pure: the caller sleeps).

Salesforce sends no Retry-After. Two budgets apply to a call:
- transient failures (5xx, timeouts, resets): a few quick retries;
- REQUEST_LIMIT_EXCEEDED: the daily allowance is counted over a rolling 24 hours,
  so capacity comes back as old requests age out; wait longer, up to a total, then
  let the daemon reschedule.
"""

from __future__ import annotations

from dataclasses import dataclass

from syncd.metrics import waits as wait_metrics


@dataclass
class Backoff:
    """Delays first, first*factor, ... (each at most `cap`), at most `max_waits` of them
    and `total` seconds in all."""

    first: float
    factor: float
    cap: float
    total: float
    max_waits: int | None = None
    #: What the waits are for, in the metrics (syncd.metrics.waits).
    kind: str = wait_metrics.BACKOFF
    waits: int = 0
    waited: float = 0.0

    def nominal(self) -> float:
        """The next delay ignoring the remaining budget (what a retry-after should say)."""
        return min(self.cap, self.first * self.factor**self.waits)

    def next_delay(self) -> float | None:
        """The next delay to sleep, or None when the budget is spent."""
        if self.max_waits is not None and self.waits >= self.max_waits:
            return None
        remaining = self.total - self.waited
        if remaining <= 0:
            return None
        return min(self.nominal(), remaining)

    def spend(self, delay: float) -> None:
        self.waits += 1
        self.waited += delay
        wait_metrics.waited("salesforce", self.kind, delay)


def transient_backoff(max_retries: int) -> Backoff:
    """1 s, 2 s, 4 s ... for errors a moment may cure."""
    return Backoff(first=1.0, factor=2.0, cap=30.0, total=120.0, max_waits=max_retries)


def limit_backoff(max_wait_seconds: float) -> Backoff:
    """30 s, 60 s, 120 s, 240 s, then every 5 min, within `max_wait_seconds` in all."""
    return Backoff(
        first=30.0, factor=2.0, cap=300.0, total=max_wait_seconds, kind=wait_metrics.THROTTLED
    )
