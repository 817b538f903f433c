"""The org's daily API request budget over a rolling 24 hours on the sandbox clock.

API Request Limits and Allocations
(https://developer.salesforce.com/docs/atlas.en-us.salesforce_app_limits_cheatsheet.meta/salesforce_app_limits_cheatsheet/salesforce_app_limits_platform_api.htm):
the daily total is a rolling 24-hour window; past it calls answer 403
REQUEST_LIMIT_EXCEEDED "TotalRequests Limit exceeded.". Usage is reported in the
`Sforce-Limit-Info: api-usage=N/M` header (headers_api_usage.htm) and by the limits
resource as DailyApiRequests (resources_limits.htm). Salesforce lets an org run a
little past its limit before refusing; the sandbox refuses exactly at the limit so
tests are deterministic.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from syncd.sandbox.salesforce.errors import limit_exceeded

WINDOW = timedelta(hours=24)
DEFAULT_DAILY_LIMIT = 100_000


@dataclass
class _Bucket:
    second: datetime
    count: int


class ApiBudget:
    """Counts API calls per second bucket; `consume()` refuses once the window is full."""

    def __init__(self, now: Callable[[], datetime], daily_limit: int = DEFAULT_DAILY_LIMIT) -> None:
        self._now = now
        self._lock = threading.Lock()
        self.daily_limit = daily_limit
        self._buckets: deque[_Bucket] = deque()
        self._used = 0

    def _expire(self, now: datetime) -> None:
        cutoff = now - WINDOW
        while self._buckets and self._buckets[0].second <= cutoff:
            self._used -= self._buckets.popleft().count

    def _add(self, now: datetime, count: int) -> None:
        second = now.replace(microsecond=0)
        if self._buckets and self._buckets[-1].second == second:
            self._buckets[-1].count += count
        else:
            self._buckets.append(_Bucket(second, count))
        self._used += count

    def consume(self) -> tuple[int, int]:
        """Count one call; raises SalesforceError 403 when the budget is spent."""
        now = self._now()
        with self._lock:
            self._expire(now)
            if self._used >= self.daily_limit:
                raise limit_exceeded()
            self._add(now, 1)
            return self._used, self.daily_limit

    def usage(self) -> tuple[int, int]:
        """(used, limit) in the current window."""
        with self._lock:
            self._expire(self._now())
            return self._used, self.daily_limit

    def configure(self, *, daily_limit: int | None = None, used: int | None = None) -> None:
        """Change the limit and/or pretend `used` calls were made just now."""
        with self._lock:
            if daily_limit is not None:
                if daily_limit < 0:
                    raise ValueError(f"daily_limit must be >= 0, got {daily_limit}")
                self.daily_limit = daily_limit
            if used is not None:
                if used < 0:
                    raise ValueError(f"used must be >= 0, got {used}")
                self._buckets.clear()
                self._used = 0
                if used:
                    self._add(self._now(), used)

    def reset(self, daily_limit: int = DEFAULT_DAILY_LIMIT) -> None:
        with self._lock:
            self._buckets.clear()
            self._used = 0
            self.daily_limit = daily_limit

    def header(self) -> str:
        used, limit = self.usage()
        return f"api-usage={used}/{limit}"
