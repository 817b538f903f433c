"""The leases `syncd reconcile` takes before a tenant's pass: the tenant's and each of
its mailbox shards', so that a pass never writes beside a running daemon.

Reconcile refuses (does not wait) when a daemon holds any of them: the daemon is
syncing that tenant already, and a pass queued behind it would only start after the
daemon stops, which for a daemon means never. It is not counted as a replica and
takes no share (syncd.ledger.lease, `fair=False`), so daemons keep their balance.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import Engine

from syncd.ledger.lease import Leases, holders
from syncd.ledger.shards import shard_leases

#: Exit status of `syncd reconcile` when a running daemon holds a tenant's leases.
EXIT_BUSY = 3


@contextmanager
def tenant_leases(leases: Leases, engine: Engine, tenant: str, shards: int) -> Iterator[str | None]:
    """Hold the tenant's lease and its shards' for the block; yields None when all are
    held, else the message saying who holds which (nothing is held then)."""
    taken: list[str] = []
    refused = None
    try:
        for name in [tenant, *shard_leases(tenant, shards)]:
            if not leases.acquire(name).granted:
                refused = name
                break
            taken.append(name)
        if refused is None:
            yield None
            return
        for name in taken:
            leases.release(name)
        taken.clear()
        yield busy_message(engine, tenant, refused)
    finally:
        for name in taken:
            leases.release(name)


def busy_message(engine: Engine, tenant: str, lease: str) -> str:
    where = "another syncd process on this host"
    if engine.dialect.name == "postgresql":
        held = holders(engine, [lease], with_address=True).get(lease)
        where = held or "another syncd process (it has just let go: try again)"
    what = "its lease" if lease == tenant else f"the lease of its mailbox shard {lease}"
    return (
        f"tenant {tenant}: skipped: a running daemon holds {what} ({where}) and syncs it; "
        "`syncd status` shows its last poll. Stop the daemon first to run a pass by hand"
    )
