"""Outlook's per-app, per-mailbox limits: concurrent requests and requests per window.

https://learn.microsoft.com/en-us/graph/throttling-limits#outlook-service-limits
(4 concurrent requests; 10,000 API requests in a 10 minute period; a mailbox
over its limit does not affect another mailbox). Over a limit: 429 with Retry-After
(https://learn.microsoft.com/en-us/graph/throttling).

"Outlook service limits are evaluated for each app ID and mailbox combination": the
count is per app (the token's client id) and mailbox, whichever process, connection or
$batch a request comes through, so a daemon and API processes of one app share the 4.
"""

from __future__ import annotations

import math
import threading
from collections import deque
from dataclasses import asdict, dataclass
from typing import Any

from syncd.sandbox.clock import SandboxClock
from syncd.sandbox.microsoft.errors import GraphError


@dataclass
class ThrottleLimits:
    """The knobs; the defaults are Microsoft's documented numbers."""

    enabled: bool = True
    concurrent_requests: int = 4
    requests_per_window: int = 10_000
    window_seconds: float = 600.0
    concurrency_retry_after: int = 1


def throttled(message: str, retry_after: int) -> GraphError:
    return GraphError(
        429, "ApplicationThrottled", message, headers={"Retry-After": str(retry_after)}
    )


class Throttle:
    """Admission control keyed by (client id, mailbox id)."""

    def __init__(self, clock: SandboxClock, limits: ThrottleLimits | None = None) -> None:
        self._clock = clock
        self._lock = threading.Lock()
        self._limits = limits or ThrottleLimits()
        self._in_flight: dict[tuple[str, str], int] = {}
        self._history: dict[tuple[str, str], deque[float]] = {}
        # Test instrumentation, not a Graph behaviour: the most requests ever admitted
        # at once per (app, mailbox), and how many were refused for concurrency.
        self._peak: dict[tuple[str, str], int] = {}
        self._concurrency_refusals = 0

    @property
    def limits(self) -> ThrottleLimits:
        with self._lock:
            return ThrottleLimits(**asdict(self._limits))

    def configure(self, **settings: Any) -> None:
        """Change limits by name, e.g. configure(requests_per_window=20, window_seconds=10)."""
        with self._lock:
            merged = {**asdict(self._limits), **settings}
            unknown = set(merged) - set(asdict(ThrottleLimits()))
            if unknown:
                raise ValueError(f"unknown throttle settings: {sorted(unknown)}")
            self._limits = ThrottleLimits(**merged)

    def reset(self) -> None:
        """Default limits and empty windows (requests in flight keep their slots)."""
        with self._lock:
            self._limits = ThrottleLimits()
            self._history.clear()
            self._peak = dict(self._in_flight)
            self._concurrency_refusals = 0

    def peak_in_flight(self, mailbox_id: str | None = None) -> int:
        """The most requests one app had in flight at once in one mailbox (in `mailbox_id`
        only, when given) since the start or the last reset."""
        with self._lock:
            return max(
                (n for (_, mailbox), n in self._peak.items() if mailbox_id in (None, mailbox)),
                default=0,
            )

    @property
    def concurrency_refusals(self) -> int:
        """How many requests were answered 429 MailboxConcurrency."""
        with self._lock:
            return self._concurrency_refusals

    def acquire(self, client_id: str, mailbox_id: str) -> None:
        """Take a concurrency slot and a place in the window, or raise the 429."""
        key = (client_id.lower(), mailbox_id)
        now = self._clock.time()
        with self._lock:
            limits = self._limits
            in_flight = self._in_flight.get(key, 0)
            if limits.enabled and in_flight >= limits.concurrent_requests:
                self._concurrency_refusals += 1
                raise throttled(
                    "Application is over its MailboxConcurrency limit.",
                    limits.concurrency_retry_after,
                )
            window = self._history.setdefault(key, deque())
            while window and window[0] <= now - limits.window_seconds:
                window.popleft()
            if limits.enabled and len(window) >= limits.requests_per_window:
                wait = window[0] + limits.window_seconds - now
                raise throttled(
                    "Application is over its MailboxRequestRate limit.",
                    max(1, math.ceil(wait)),
                )
            # Only admitted requests count, so waiting Retry-After is always enough.
            window.append(now)
            self._in_flight[key] = in_flight + 1
            self._peak[key] = max(self._peak.get(key, 0), in_flight + 1)

    def release(self, client_id: str, mailbox_id: str) -> None:
        key = (client_id.lower(), mailbox_id)
        with self._lock:
            remaining = self._in_flight.get(key, 0) - 1
            if remaining > 0:
                self._in_flight[key] = remaining
            else:
                self._in_flight.pop(key, None)
