"""Thread-safe record of a SalesforceClient's API use: the org's own count from
`Sforce-Limit-Info`, and what this client did (calls per resource, logins, waits).

Header format (`api-usage=used/max`, optionally `per-app-api-usage=used/max(appName=x)`):
https://developer.salesforce.com/docs/atlas.en-us.api_rest.meta/api_rest/headers_api_usage.htm
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Mapping
from typing import Any

#: The resources the client names in its counts.
RESOURCES = ("query", "queryAll", "queryMore", "updated", "deleted", "composite", "sobject")


class ApiUsage:
    """Counts kept by one client; `snapshot()` gives a consistent copy."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.reset()

    def reset(self) -> None:
        with self._lock:
            self._calls: Counter[str] = Counter()
            self._used: int | None = None
            self._max: int | None = None
            self._per_app: dict[str, Any] | None = None
            self._logins = 0
            self._relogins = 0
            self._retries = 0
            self._retry_seconds = 0.0
            self._limit_refusals = 0
            self._limit_waits = 0
            self._limit_wait_seconds = 0.0

    # ------------------------------------------------------------ recording

    def call(self, resource: str) -> None:
        """One HTTP request sent to the REST API (each attempt counts: Salesforce counts it)."""
        with self._lock:
            self._calls[resource] += 1

    def limit_info(self, parsed: Mapping[str, Any]) -> None:
        """The org's usage as simple-salesforce parsed it from `Sforce-Limit-Info`."""
        usage, per_app = parsed.get("api-usage"), parsed.get("per-app-api-usage")
        with self._lock:
            if usage is not None:
                self._used, self._max = int(usage.used), int(usage.total)
            if per_app is not None:
                self._per_app = {
                    "app": per_app.name,
                    "used": int(per_app.used),
                    "max": int(per_app.total),
                }

    def login(self, *, again: bool) -> None:
        with self._lock:
            self._logins += 1
            self._relogins += 1 if again else 0

    def retry(self, waited: float) -> None:
        """A transient failure (5xx, timeout, reset) waited out before another attempt."""
        with self._lock:
            self._retries += 1
            self._retry_seconds += waited

    def limit_refused(self) -> None:
        with self._lock:
            self._limit_refusals += 1

    def limit_wait(self, waited: float) -> None:
        with self._lock:
            self._limit_waits += 1
            self._limit_wait_seconds += waited

    # -------------------------------------------------------------- reading

    @property
    def used(self) -> int | None:
        """API requests used in the org's rolling 24 hours, as last reported."""
        with self._lock:
            return self._used

    @property
    def max(self) -> int | None:
        """The org's API request allowance, as last reported."""
        with self._lock:
            return self._max

    def calls(self, resource: str | None = None) -> int:
        with self._lock:
            return self._calls[resource] if resource else sum(self._calls.values())

    def snapshot(self) -> dict[str, Any]:
        with self._lock:
            return {
                "api_usage": {"used": self._used, "max": self._max},
                "per_app_api_usage": dict(self._per_app) if self._per_app else None,
                "calls": dict(self._calls),
                "total_calls": sum(self._calls.values()),
                "logins": self._logins,
                "relogins": self._relogins,
                "retries": self._retries,
                "retry_wait_seconds": round(self._retry_seconds, 6),
                "limit_refusals": self._limit_refusals,
                "limit_waits": self._limit_waits,
                "limit_wait_seconds": round(self._limit_wait_seconds, 6),
            }
