"""The operator state of a tenant in the ledger: each writer keeps to its own columns."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine

from syncd.ledger import tenant_state as ts
from tests.api.fakes import migrate_template, migrated_copy
from tests.support import suite_now


@pytest.fixture
def engine(tmp_path: Path) -> Iterator[Engine]:
    built = migrated_copy(migrate_template(tmp_path / "template.db"), tmp_path / "ledger.db")
    yield built
    built.dispose()


def test_nothing_recorded_reads_as_none_and_not_paused(engine: Engine) -> None:
    assert ts.read_state(engine, "demo") is None
    assert ts.is_paused(engine, "demo") is None
    assert ts.resume(engine, "demo", now=suite_now()) is False


def test_pause_and_resume_keep_the_other_columns(engine: Engine) -> None:
    now = suite_now()
    ts.record_poll(engine, "demo", now=now, records=7, lag_p50=3.0, lag_max=9.5)
    ts.pause(engine, "demo", now=now, by="ops", reason="cut-over")
    ts.pause(engine, "acme", now=now, by="ops", reason=None)

    paused = ts.is_paused(engine, "demo")
    assert paused is not None and (paused.at, paused.by, paused.reason) == (now, "ops", "cut-over")
    assert paused.describe() == f"paused since {now.isoformat(timespec='seconds')} by ops: cut-over"
    assert ts.resume(engine, "demo", now=now + timedelta(minutes=5)) is True
    assert ts.is_paused(engine, "demo") is None
    assert ts.is_paused(engine, "acme") is not None  # one tenant's switch only
    state = ts.read_state(engine, "demo")
    assert state is not None
    assert (state.poll_records, state.lag_p50_seconds, state.lag_max_seconds) == (7, 3.0, 9.5)


def test_a_poll_without_writes_keeps_the_last_lag_and_unknown_usage_keeps_the_last(
    engine: Engine,
) -> None:
    now = suite_now()
    ts.record_poll(
        engine,
        "demo",
        now=now,
        records=3,
        lag_p50=2.0,
        lag_max=4.0,
        salesforce_used=120,
        salesforce_max=15000,
    )
    later = now + timedelta(minutes=1)
    ts.record_poll(engine, "demo", now=later, records=0, lag_p50=None, lag_max=None)

    state = ts.read_state(engine, "demo")
    assert state is not None
    assert state.poll_records == 0 and (state.lag_p50_seconds, state.lag_max_seconds) == (2.0, 4.0)
    assert (state.salesforce_used, state.salesforce_max) == (120, 15000)


def test_graph_throttling_adds_up(engine: Engine) -> None:
    now = suite_now()
    ts.record_graph_throttling(engine, "demo", now=now, throttled=2, seconds_waited=3.5)
    ts.record_graph_throttling(engine, "demo", now=now, throttled=0, seconds_waited=0)
    later = now + timedelta(seconds=30)
    ts.record_graph_throttling(engine, "demo", now=later, throttled=1, seconds_waited=1.25)
    ts.record_graph_throttling(
        engine, "demo", now=later + timedelta(seconds=9), throttled=0, seconds_waited=2.0
    )

    state = ts.read_state(engine, "demo")
    assert state is not None
    assert (state.graph_throttled, state.graph_seconds_waited) == (3, 6.75)
    assert state.graph_throttled_at == later  # the last 429, not the last retry


def test_doctor_results_are_kept_with_their_report(engine: Engine) -> None:
    report = {"ok": False, "checks": [{"name": "graph", "ok": False, "message": "401"}]}
    ts.record_doctor(engine, "demo", now=suite_now(), ok=False, report=report)
    state = ts.read_state(engine, "demo")
    assert state is not None and state.doctor_ok is False and state.doctor_report == report
