"""Request counters for tests and benchmarks (how many calls did the client make?)."""

from __future__ import annotations

import threading
from collections import Counter
from typing import Any


class Counters:
    """Thread-safe tallies of what reached the sandbox; `reset()` starts over."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._reset_unlocked()

    def _reset_unlocked(self) -> None:
        self.graph_requests = 0
        self.batch_inner_requests = 0
        self.tokens_issued = 0
        self.throttled = 0
        self.faults_injected = 0
        self.per_mailbox: Counter[str] = Counter()
        self.per_route: Counter[str] = Counter()
        self.per_status: Counter[int] = Counter()

    def reset(self) -> None:
        with self._lock:
            self._reset_unlocked()

    def graph_request(self, *, inner: bool) -> None:
        """A Graph HTTP request (inner=False) or one request inside a $batch."""
        with self._lock:
            if inner:
                self.batch_inner_requests += 1
            else:
                self.graph_requests += 1

    def route(self, method: str, template: str, mailbox: str | None) -> None:
        with self._lock:
            self.per_route[f"{method} {template}"] += 1
            if mailbox:
                self.per_mailbox[mailbox.lower()] += 1

    def status(self, status: int) -> None:
        with self._lock:
            self.per_status[status] += 1

    def token_issued(self) -> None:
        with self._lock:
            self.tokens_issued += 1

    def throttle_hit(self) -> None:
        with self._lock:
            self.throttled += 1

    def fault_injected(self) -> None:
        with self._lock:
            self.faults_injected += 1

    def snapshot(self) -> dict[str, Any]:
        """A JSON-friendly copy of every counter."""
        with self._lock:
            return {
                "graph_requests": self.graph_requests,
                "batch_inner_requests": self.batch_inner_requests,
                "tokens_issued": self.tokens_issued,
                "throttled": self.throttled,
                "faults_injected": self.faults_injected,
                "per_mailbox": dict(self.per_mailbox),
                "per_route": dict(self.per_route),
                "per_status": {str(k): v for k, v in self.per_status.items()},
            }
