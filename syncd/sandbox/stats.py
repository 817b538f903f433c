"""Request counters for tests and benchmarks (how many calls did the client make?)."""

from __future__ import annotations

import copy
import logging
import threading
from collections import Counter, deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

#: How many routed Graph requests the request log keeps (the oldest drop out first).
REQUEST_LOG_SIZE = 500

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class GraphExchange:
    """One Graph request and the sandbox's answer to it, for exchange observers.

    Test instrumentation, not a Graph behaviour. A `$batch` envelope is one exchange
    (its body and answer hold the inner requests and responses); each inner request is
    also reported on its own with `inner=True`. Bodies are the live objects: an
    observer reads them and must not change them.
    """

    method: str
    path: str  # below /v1.0, as requested
    headers: Mapping[str, str]  # the request's headers, lower-cased names
    body: Any  # the parsed JSON request body, or None
    status: int
    answer: Any  # the JSON response body, or None
    inner: bool


ExchangeObserver = Callable[[GraphExchange], None]
_observers: list[ExchangeObserver] = []
_observers_lock = threading.Lock()


def observe_exchanges(observer: ExchangeObserver) -> Callable[[], None]:
    """Call `observer` with every Graph exchange of every sandbox in this process, until
    the returned function is called. Off by default: with no observer nothing is built.

    Used by the test suite to hold every body against Microsoft's published schema.
    """
    with _observers_lock:
        _observers.append(observer)

    def stop() -> None:
        with _observers_lock:
            if observer in _observers:
                _observers.remove(observer)

    return stop


def report_exchange(
    method: str,
    path: str,
    headers: Mapping[str, str],
    body: Any,
    status: int,
    answer: Any,
    *,
    inner: bool,
) -> None:
    """Hand one exchange to the observers (a no-op without any)."""
    if not _observers:
        return
    with _observers_lock:
        observers = list(_observers)
    exchange = GraphExchange(method.upper(), path, headers, body, status, answer, inner)
    for observer in observers:
        try:
            observer(exchange)
        except Exception:  # an observer's fault must never break the sandbox's answer
            logger.exception("a Graph exchange observer failed on %s %s", method, path)


@dataclass(frozen=True)
class LoggedRequest:
    """One routed Graph request as the sandbox received it (a $batch's inner requests
    each count as one; the envelope itself is not logged).

    Test instrumentation, not a Graph behaviour: it lets a test check what a client
    sent, e.g. that a PATCH carries only the properties to change, as
    https://learn.microsoft.com/en-us/graph/api/event-update asks ("only the values
    for properties that should be updated").
    """

    method: str
    route: str  # the path template, e.g. "/users/{user}/events/{event}"
    path: str  # the path as requested, below /v1.0
    mailbox: str | None  # the addressed user's address, lower-cased
    body: Any  # the parsed JSON body (a private copy), or None


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
        self._requests: deque[LoggedRequest] = deque(maxlen=REQUEST_LOG_SIZE)

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

    def log_request(
        self, method: str, route: str, path: str, mailbox: str | None, body: Any
    ) -> None:
        """Keep a routed request in the bounded request log (see LoggedRequest)."""
        entry = LoggedRequest(
            method.upper(), route, path, mailbox.lower() if mailbox else None, copy.deepcopy(body)
        )
        with self._lock:
            self._requests.append(entry)

    def requests(self, method: str | None = None, route: str | None = None) -> list[LoggedRequest]:
        """The logged requests, oldest first, optionally only one method and/or route."""
        with self._lock:
            entries = list(self._requests)
        wanted = method.upper() if method else None
        return [
            e
            for e in entries
            if (wanted is None or e.method == wanted) and (route is None or e.route == route)
        ]

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
