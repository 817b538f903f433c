"""Prometheus metrics of syncd: what the clients, the sync and the API did, and the
ledger's backlog read at scrape time.

Every metric lives in prometheus_client's default registry (`registry()`), so
`generate_latest()` on the API's `/metrics` and the daemon's own metrics port
serve the same text. Labels never carry ids or e-mail addresses: routes are
templates (`syncd.metrics.routes`), tenants and lease names are configuration.
The metrics are listed, with their meaning, in `syncd.metrics.definitions`.
"""

from __future__ import annotations

from prometheus_client import REGISTRY, CollectorRegistry


def registry() -> CollectorRegistry:
    """The registry syncd's metrics are in (prometheus_client's default one)."""
    return REGISTRY
