"""The brute-force guard: thresholds, growing and bounded waits, the window."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlmodel import select

from syncd.auth.throttle import BruteForceGuard, BruteForcePolicy, caller_key, token_key
from syncd.ledger.db import session_scope
from syncd.ledger.models import AuthFailure
from tests.api.fakes import MutableClock, migrated_copy


@pytest.fixture
def clock() -> MutableClock:
    return MutableClock()


@pytest.fixture
def guard(
    auth_ledger_template: Path, tmp_path: Path, clock: MutableClock
) -> Iterator[BruteForceGuard]:
    engine = migrated_copy(auth_ledger_template, tmp_path / "ledger.db")
    yield BruteForceGuard(engine, clock)
    engine.dispose()


def test_delays_double_from_the_fifth_failure_and_are_bounded(guard: BruteForceGuard) -> None:
    delays = [guard.delay_for(n) for n in range(4, 14)]
    assert delays == [0, 5, 10, 20, 40, 80, 160, 300, 300, 300]
    assert guard.delay_for(10_000) == 300


def test_a_key_is_blocked_after_five_failures_until_the_delay_passes(
    guard: BruteForceGuard, clock: MutableClock
) -> None:
    keys = ["client:a"]
    for _ in range(4):
        guard.record_failure(keys)
    assert guard.retry_after(keys) is None
    guard.record_failure(keys)
    assert guard.retry_after(keys) == 5
    clock.advance(3)
    assert guard.retry_after(keys) == 2
    clock.advance(2)
    assert guard.retry_after(keys) is None
    guard.record_failure(keys)
    assert guard.retry_after(keys) == 10
    assert guard.retry_after(["client:b"]) is None
    assert guard.retry_after(["client:b", "client:a"]) == 10


def test_failures_older_than_the_window_no_longer_count(
    guard: BruteForceGuard, clock: MutableClock
) -> None:
    for _ in range(5):
        guard.record_failure(["addr:1"])
    clock.advance(301)
    assert guard.retry_after(["addr:1"]) is None
    guard.record_failure(["addr:1"])  # also purges the old rows
    with session_scope(guard.engine) as session:
        assert len(session.exec(select(AuthFailure)).all()) == 1


def test_a_custom_policy() -> None:
    policy = BruteForcePolicy(max_failures=2, base_delay_seconds=1, max_delay_seconds=3)
    guard = BruteForceGuard(engine=None, clock=MutableClock(), policy=policy)  # type: ignore[arg-type]
    assert [guard.delay_for(n) for n in range(1, 6)] == [0, 1, 2, 3, 3]


def test_failure_keys_fit_the_column_and_hold_no_credential() -> None:
    key = caller_key("user", "2001:db8::1", "späte\nzeile")
    assert key.startswith("user:2001:db8::/64|") and "\n" not in key
    assert len(caller_key("client", "x" * 1000, "y" * 1000)) <= 128
    assert caller_key("client", "192.0.2.1", "a") != caller_key("client", "192.0.2.1", "b")
    token = "syat_" + "t" * 43
    assert token_key(token).startswith("token#sha256:") and "syat" not in token_key(token)
    assert len(token_key(token)) <= 128
