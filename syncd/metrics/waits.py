"""Counting the waits before a request is sent again (called from the retry budgets
syncd.graph.retry and syncd.salesforce.backoff, which the clients spend)."""

from __future__ import annotations

from syncd.metrics import definitions as m

#: The service named the wait (Graph Retry-After) or refused for its API limit.
THROTTLED = "throttled"
#: syncd chose the wait (growing back-off after a transient failure).
BACKOFF = "backoff"


def waited(service: str, kind: str, seconds: float) -> None:
    """One wait of `seconds` before a retry to `service`."""
    m.RETRY_WAITS.labels(service, kind).inc()
    m.RETRY_WAIT_SECONDS.labels(service, kind).inc(max(0.0, seconds))
