"""Thread-safe tally of the calls a `GraphClient` makes; benchmarks and tests read it."""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Iterable
from typing import Any


class CallCounter:
    """Counts HTTP round trips, Graph requests (a $batch's inner requests count one each,
    as Graph's throttling counts them), retries and time spent waiting."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.reset()

    def reset(self) -> None:
        with self._lock:
            self._round_trips = 0
            self._by_method: Counter[str] = Counter()
            self._by_operation: Counter[str] = Counter()
            self._retries = 0
            self._seconds_waited = 0.0
            self._throttled = 0
            self._token_refreshes = 0

    def round_trip(self, graph_methods: Iterable[str]) -> None:
        """One HTTP exchange carrying the given Graph requests (one, or a batch's inner ones)."""
        with self._lock:
            self._round_trips += 1
            self._by_method.update(m.upper() for m in graph_methods)

    def operation(self, name: str) -> None:
        with self._lock:
            self._by_operation[name] += 1

    def retry(self, waited_seconds: float) -> None:
        with self._lock:
            self._retries += 1
            self._seconds_waited += waited_seconds

    def throttled(self, count: int = 1) -> None:
        with self._lock:
            self._throttled += count

    def token_refresh(self) -> None:
        with self._lock:
            self._token_refreshes += 1

    def snapshot(self) -> dict[str, Any]:
        """A consistent copy of every count."""
        with self._lock:
            return {
                "http_round_trips": self._round_trips,
                "graph_requests": sum(self._by_method.values()),
                "by_method": dict(self._by_method),
                "by_operation": dict(self._by_operation),
                "retries": self._retries,
                "seconds_waited": round(self._seconds_waited, 6),
                "throttled_responses": self._throttled,
                "forced_token_refreshes": self._token_refreshes,
            }
