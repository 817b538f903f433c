"""Mailbox shards (syncd.ledger.shards): the hash is stable across processes and
versions, spreads addresses evenly, ignores case; the count is validated."""

from __future__ import annotations

import math
from collections import Counter

import pytest
from pydantic import ValidationError

from syncd.config.settings import ScaleConfig
from syncd.ledger.shards import is_shard_lease, shard_lease, shard_leases, shard_of, tenant_of


def test_the_hash_is_stable_across_processes_and_versions() -> None:
    # sha256, not Python's per-process salted hash(): every replica, on every host and
    # Python version, puts a mailbox in the same shard. A change of these values moves
    # mailboxes between shards on an upgrade (replicas of two versions would disagree).
    assert shard_of("megan.bowen@contoso.example", 8) == 1
    assert shard_of("lee.gu@northwind.example", 8) == 2
    assert shard_of("a@b.example", 8) == 4
    assert shard_of("megan.bowen@contoso.example", 1_000_003) == 902_107


def test_case_and_surrounding_spaces_do_not_move_a_mailbox() -> None:
    for count in (2, 8, 64):
        assert shard_of(" Megan.Bowen@CONTOSO.example ", count) == shard_of(
            "megan.bowen@contoso.example", count
        )


@pytest.mark.parametrize("count", [2, 4, 8, 16])
def test_addresses_spread_evenly(count: int) -> None:
    # Organizers of one domain, numbered like a directory export: each shard gets its
    # share within 4 standard deviations of a fair draw (sqrt(n p (1 - p))).
    per = Counter(shard_of(f"user{i:05d}@contoso.example", count) for i in range(8000))
    assert sorted(per) == list(range(count))
    share = 8000 / count
    spread = 4 * math.sqrt(share * (1 - 1 / count))
    assert all(abs(n - share) <= spread for n in per.values()), per


def test_lease_names_carry_the_tenant_and_the_count() -> None:
    assert shard_leases("acme", 1) == []  # one shard: the tenant's lease covers it all
    names = shard_leases("acme", 3)
    assert names == [shard_lease("acme", i, 3) for i in range(3)]
    assert len(set(names)) == 3 and not set(names) & set(shard_leases("acme", 4))
    assert all(is_shard_lease(n) and tenant_of(n) == "acme" for n in names)
    assert not is_shard_lease("acme") and tenant_of("acme") == "acme"
    assert "/" not in names[0]  # a lock file's name on SQLite


@pytest.mark.parametrize("bad", [0, -1, 257])
def test_a_shard_count_out_of_range_is_refused(bad: int) -> None:
    with pytest.raises(ValidationError, match="mailbox_shards"):
        ScaleConfig(mailbox_shards=bad)
    with pytest.raises(ValueError, match="at least one shard"):
        shard_of("a@b.example", 0)
