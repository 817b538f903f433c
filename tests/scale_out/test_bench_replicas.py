"""Smoke run of bench/replicas.py at a small size: counts only, never times."""

from __future__ import annotations

import pytest

from bench import replicas

pytestmark = [pytest.mark.postgres, pytest.mark.timeout(600)]


def test_the_replica_benchmark_syncs_every_event_once_with_the_tenants_spread(
    postgres_url: str,
) -> None:
    results = [
        replicas.measure(postgres_url, count, tenants=2, mailboxes=3, events=12, latency=0.01)
        for count in (1, 2)
    ]
    for result in results:
        # Every Event is a meeting in Outlook, and no Event is one twice.
        assert result.meetings == result.expected == 24
        assert result.live_replicas_holding == result.replicas
        assert result.bound > 0 and result.throughput > 0


def test_the_one_large_tenant_run_spreads_its_shards_over_the_replicas(
    postgres_url: str,
) -> None:
    result = replicas.measure(
        postgres_url, 2, tenants=1, mailboxes=8, events=40, latency=0.01, shards=4
    )
    # One tenant, yet both replicas hold leases (its shards'); each Event one meeting.
    assert result.meetings == result.expected == 40
    assert result.live_replicas_holding == 2
