"""`syncd status` for people: the lease and mailbox-shard lines of a sharded tenant."""

from __future__ import annotations

from typing import Any

from syncd.reports import status_lines

A = "syncd-replica 812 from 10.0.0.7"
B = "syncd-replica 90 from 10.0.0.8"


def row(**extra: Any) -> dict[str, Any]:
    return {
        "tenant": "big",
        "counts": {"synced": 3},
        "last_poll": None,
        "backlog": 0,
        "due_for_retry": 0,
        "failures": [],
        "failures_total": 0,
        **extra,
    }


def test_each_replica_is_named_once_with_the_shards_it_holds() -> None:
    lines = status_lines(row(lease=A, shards=[A, B, A, None]))
    assert lines[1:] == [f"  lease: {A}", f"  mailbox shards: 0, 2 {A}; 1 {B}; 3 not held"]


def test_an_unsharded_tenant_shows_its_lease_only() -> None:
    assert status_lines(row(lease=None))[1:] == [
        "  lease: not held (no replica runs this tenant now)"
    ]
    assert status_lines(row())[1:] == []  # SQLite: no lease line at all
