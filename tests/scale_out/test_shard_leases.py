"""Shard leases over PostgreSQL: replicas share a tenant's shards (a pool apart from
the tenants'), and `syncd reconcile`'s leases (not a replica, no share) keep it off
what a daemon holds and the daemon off what it holds."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from sqlalchemy import Engine

from syncd.ledger.db import make_engine
from syncd.ledger.lease import AdvisoryLeases, FileLeases, Grant, LocalLeases, holders
from syncd.ledger.shards import shard_leases
from syncd.reconcile_leases import tenant_leases
from syncd.sync_commands import owns_mailbox

SHARDS = shard_leases("acme", 8)


@contextmanager
def engine_of(url: str) -> Iterator[Engine]:
    engine = make_engine(url)
    try:
        yield engine
    finally:
        engine.dispose()


@pytest.mark.postgres
def test_two_replicas_share_one_tenants_shards_half_each(pg_store: str) -> None:
    with engine_of(pg_store) as engine_a, engine_of(pg_store) as engine_b:
        a = AdvisoryLeases(engine_a, total=1, shards=len(SHARDS))
        b = AdvisoryLeases(engine_b, total=1, shards=len(SHARDS))
        try:
            a.join(), b.join()  # both present, as replicas started together
            # The tenant's lease is a pool of its own: holding it takes no shard's place.
            assert a.acquire("acme") is Grant.GAINED
            assert [a.acquire(s) for s in SHARDS] == [Grant.GAINED] * 4 + [Grant.BUSY] * 4
            assert [b.acquire(s) for s in SHARDS] == [Grant.BUSY] * 4 + [Grant.GAINED] * 4
            assert b.acquire("acme") is Grant.BUSY
            held = holders(engine_a, ["acme", *SHARDS])
            assert len(held) == 9 and len(set(held.values())) == 1  # one process: one pid
            assert not a.over_share("acme") and not a.over_share(SHARDS[0])
            # B goes: A may take B's shards over (its share is all of them again).
            b.release_all()
            assert [a.acquire(s) for s in SHARDS[4:]] == [Grant.GAINED] * 4
        finally:
            a.release_all()
            b.release_all()


@pytest.mark.postgres
def test_a_replica_over_its_share_of_shards_hands_one_over(pg_store: str) -> None:
    with engine_of(pg_store) as engine_a, engine_of(pg_store) as engine_b:
        a = AdvisoryLeases(engine_a, total=1, shards=len(SHARDS))
        b = AdvisoryLeases(engine_b, total=1, shards=len(SHARDS))
        try:
            a.join()
            assert a.acquire("acme") is Grant.GAINED
            assert all(a.acquire(s) is Grant.GAINED for s in SHARDS)
            b.join()  # a second replica starts: A holds 8 shards, its share is 4
            assert a.over_share(SHARDS[0])
            assert not a.over_share("acme")  # the one tenant lease is within its share
        finally:
            a.release_all()
            b.release_all()


@pytest.mark.postgres
def test_reconcile_takes_every_lease_of_a_tenant_or_none(pg_store: str) -> None:
    with engine_of(pg_store) as engine_d, engine_of(pg_store) as engine_r:
        daemon = AdvisoryLeases(engine_d, total=1, shards=len(SHARDS))
        reconcile = AdvisoryLeases(engine_r, fair=False)
        try:
            daemon.join()
            assert daemon.acquire(SHARDS[5]) is Grant.GAINED  # the daemon holds one shard
            with tenant_leases(reconcile, engine_r, "acme", 8) as busy:
                assert busy is not None
                assert f"its mailbox shard {SHARDS[5]}" in busy
                assert f"syncd-replica {os.getpid()} from " in busy
                assert not any(reconcile.holds(n) for n in ["acme", *SHARDS])  # none kept
            daemon.release(SHARDS[5])
            with tenant_leases(reconcile, engine_r, "acme", 8) as busy:
                assert busy is None
                assert all(reconcile.holds(n) for n in ["acme", *SHARDS])
                # Not a replica: the daemon's share is unchanged, yet it is kept off.
                assert daemon.acquire("acme") is Grant.BUSY
                assert daemon.acquire(SHARDS[0]) is Grant.BUSY
                reconcile_holder = holders(engine_d, ["acme"])["acme"]
                assert reconcile_holder == f"syncd-reconcile {os.getpid()}"
            assert not any(reconcile.holds(n) for n in ["acme", *SHARDS])
            assert daemon.acquire("acme") is Grant.GAINED
        finally:
            daemon.release_all()
            reconcile.release_all()


def test_on_sqlite_each_shard_is_a_lock_file(tmp_path: Path) -> None:
    directory = tmp_path / "leases"
    daemon, other = FileLeases(directory), FileLeases(directory)
    try:
        assert all(daemon.acquire(s) is Grant.GAINED for s in SHARDS[:2])
        assert sorted(p.name for p in directory.iterdir()) == sorted(
            f"{s}.lock" for s in SHARDS[:2]
        )
        assert other.acquire(SHARDS[0]) is Grant.BUSY  # flock is per open file
        assert other.acquire(SHARDS[2]) is Grant.GAINED
    finally:
        daemon.release_all()
        other.release_all()


def test_the_tenant_holder_writes_itself_only_while_it_holds_every_shard() -> None:
    leases = LocalLeases()
    assert owns_mailbox(leases, "acme", 1) is None  # not sharded: the executor of old
    owns = owns_mailbox(leases, "acme", 8)
    assert owns is not None
    for shard in SHARDS[:-1]:
        leases.acquire(shard)
    # Another replica holds a shard: every write is claimed, this replica's shards' too,
    # so that no poll page waits for its writes.
    assert not owns("megan.bowen@contoso.example")
    leases.acquire(SHARDS[-1])
    assert owns("megan.bowen@contoso.example") and owns("lee.gu@northwind.example")
