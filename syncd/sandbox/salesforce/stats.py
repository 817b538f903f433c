"""Counters for the Salesforce side: how many calls, of which kind, with which outcome."""

from __future__ import annotations

import threading
from collections import Counter
from typing import Any


class SalesforceCounters:
    """Thread-safe tallies; `reset()` starts over. Benchmarks read `snapshot()`."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._reset_unlocked()

    def _reset_unlocked(self) -> None:
        self.api_calls = 0
        self.tokens_issued = 0
        self.token_failures = 0
        self.limit_refusals = 0
        self.session_refusals = 0
        self.faults_injected = 0
        self.records_written = 0
        self.records_failed = 0
        self.per_resource: Counter[str] = Counter()
        self.per_route: Counter[str] = Counter()
        self.per_sobject: Counter[str] = Counter()
        self.per_status: Counter[int] = Counter()

    def reset(self) -> None:
        with self._lock:
            self._reset_unlocked()

    def call(self, resource: str, route: str, sobject: str | None) -> None:
        """An API call that passed authentication and the budget (it counts against it)."""
        with self._lock:
            self.api_calls += 1
            self.per_resource[resource] += 1
            self.per_route[route] += 1
            if sobject:
                self.per_sobject[sobject] += 1

    def status(self, status: int) -> None:
        with self._lock:
            self.per_status[status] += 1

    def add(self, name: str, amount: int = 1) -> None:
        """Bump one of the scalar counters by name (tokens_issued, limit_refusals, ...)."""
        with self._lock:
            setattr(self, name, getattr(self, name) + amount)

    def snapshot(self) -> dict[str, Any]:
        with self._lock:
            return {
                "api_calls": self.api_calls,
                "tokens_issued": self.tokens_issued,
                "token_failures": self.token_failures,
                "limit_refusals": self.limit_refusals,
                "session_refusals": self.session_refusals,
                "faults_injected": self.faults_injected,
                "records_written": self.records_written,
                "records_failed": self.records_failed,
                "per_resource": dict(self.per_resource),
                "per_route": dict(self.per_route),
                "per_sobject": dict(self.per_sobject),
                "per_status": {str(k): v for k, v in self.per_status.items()},
            }
