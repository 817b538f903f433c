"""Mailbox shards: a tenant's mailboxes hashed into a fixed number of shards, each
worked under a lease of its own (syncd.ledger.lease), so one large tenant spreads
over several replicas.

The hash is sha256 of the casefolded address, modulo the shard count: the same
address lands in the same shard in every process, on every host and Python
version (unlike `hash()`, which is salted per process), and addresses spread
evenly whatever their domain.
"""

from __future__ import annotations

import hashlib

#: Between a tenant's name and its shard's number in a lease name. Tenant names
#: are `[a-z0-9_-]` (syncd.config.tenant), so no tenant name contains it, and a
#: lease name stays a valid file name (SQLite's lock files).
SEPARATOR = ".shard-"


def shard_of(email: str, count: int) -> int:
    """The shard (0 .. count-1) of a mailbox address."""
    if count < 1:
        raise ValueError(f"a tenant has at least one shard, not {count}")
    digest = hashlib.sha256(email.strip().casefold().encode()).digest()
    return int.from_bytes(digest[:8], "big") % count


def shard_lease(tenant: str, index: int, count: int) -> str:
    """The lease name of a tenant's shard. The count is part of it: replicas that
    disagree on the count (during a rolling change) never hold one name for two
    different sets of mailboxes."""
    return f"{tenant}{SEPARATOR}{index}-of-{count}"


def shard_leases(tenant: str, count: int) -> list[str]:
    """Every shard lease of a tenant (none when its mailboxes are not sharded)."""
    return [shard_lease(tenant, i, count) for i in range(count)] if count > 1 else []


def is_shard_lease(name: str) -> bool:
    return SEPARATOR in name


def tenant_of(name: str) -> str:
    """The tenant of a lease name (a tenant's own lease or one of its shards')."""
    return name.split(SEPARATOR, 1)[0]
