"""Pause, resume and retry against both sandboxes over HTTPS: a paused tenant's daemon
jobs and `syncd reconcile` skip it and say so; the operator's retry makes a failed
record due now, and the next retry pass syncs it; the poll job records its figures."""

from __future__ import annotations

import io
import logging
from collections.abc import Iterator
from dataclasses import replace
from datetime import timedelta

import httpx
import pytest

from syncd.api import create_app
from syncd.config import OperatorConfig, SecretRef
from syncd.daemon import JobSpec
from syncd.domain import MeetingStatus
from syncd.ledger import queries as lq
from syncd.ledger import tenant_state as ts
from syncd.operator_jobs import lag_seconds, operator_jobs
from syncd.sandbox.faults import ForcedFailure
from syncd.sync.service import PassReport
from syncd.sync_commands import reconcile
from tests.support import ThreadedServer, suite_now
from tests.sync_e2e.conftest import COLLEAGUE, NO_MAILBOX, ORGANIZER, TENANT, World

TOKEN_ENV = "SYNCD_TEST_OPERATOR_TOKEN"
TOKEN = "console-test-operator-token-0123456789"


def jobs_of(world: World) -> dict[str, JobSpec]:
    return {job.name: job for job in operator_jobs(world.service())}


@pytest.fixture
def status_url(world: World, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """The API (with /status) of the world's runtime, with an operator token."""
    monkeypatch.setenv(TOKEN_ENV, TOKEN)
    settings = world.config().settings.model_copy(
        update={"operator": OperatorConfig(token=SecretRef(env=TOKEN_ENV))}
    )
    config = world.config().model_copy(update={"settings": settings})
    server = ThreadedServer(create_app(replace(world.runtime, config=config)))
    yield server.url
    server.stop()


def test_lag_is_the_median_and_max_from_the_change_to_each_write() -> None:
    base = suite_now()
    writes = [base + timedelta(seconds=s) for s in (4, 10, 30)]
    assert lag_seconds(writes, base) == (10.0, 30.0)
    assert lag_seconds([], base) is None
    assert lag_seconds([base - timedelta(seconds=3)], base) == (0.0, 0.0)  # never negative


def test_a_paused_tenants_jobs_are_skipped_and_say_so(
    world: World, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="syncd.daemon")
    jobs = jobs_of(world)
    event_id = world.create_event(subject="Held back", invitees=[COLLEAGUE])
    ts.pause(world.runtime.engine, TENANT, now=world.now(), by="ops", reason="org migration")
    salesforce_calls, graph_calls = world.sf_state.counters.api_calls, world.graph_calls()

    for name in ("poll", "outlook", "availability", "retry-failed"):
        assert jobs[name].run() == f"skipped: tenant {TENANT} is paused"
    # Nothing was read or written on either side.
    assert world.sf_state.counters.api_calls == salesforce_calls
    assert world.graph_calls() == graph_calls
    assert lq.count_by_status(world.runtime.engine, TENANT) == {}
    said = [r.getMessage() for r in caplog.records if "skipped" in r.getMessage()]
    assert len(said) == 4
    assert f"tenant {TENANT} is paused since" in said[0]
    assert "by ops: org migration" in said[0] and f"syncd resume --tenant {TENANT}" in said[0]
    # Finishing writes an earlier run left half done is not held back by a pause.
    assert jobs["resume"].run() == 0

    assert ts.resume(world.runtime.engine, TENANT, now=world.now())
    report = jobs["poll"].run()
    assert isinstance(report, PassReport) and report.counts["create"] == 1
    assert world.record(event_id).status == MeetingStatus.SYNCED


def test_reconcile_skips_a_paused_tenant_and_says_how_to_resume(world: World) -> None:
    world.create_event(subject="Held back", invitees=[COLLEAGUE])
    ts.pause(world.runtime.engine, TENANT, now=world.now(), by="ops", reason=None)
    out = io.StringIO()

    status = reconcile(
        world.config(), tenant=None, dry_run=False, full=False, show_plan=False, out=out
    )

    assert status == 0
    assert f"tenant {TENANT}: paused since" in out.getvalue()
    assert f"skipped (`syncd resume --tenant {TENANT}` resumes it)" in out.getvalue()
    assert lq.count_by_status(world.runtime.engine, TENANT) == {}


def test_the_poll_job_records_records_read_lag_and_salesforce_usage(world: World) -> None:
    jobs = jobs_of(world)
    first = jobs["poll"].run()
    assert isinstance(first, PassReport) and first.full_resync
    state = ts.read_state(world.runtime.engine, TENANT)
    assert state is not None and state.poll_at is not None
    assert state.lag_max_seconds is None  # a full resync has no change window to measure
    since = lq.get_watermark(world.runtime.engine, TENANT, "salesforce.event")
    assert since is not None

    world.advance(30)
    event_id = world.create_event(subject="Lag", invitees=[COLLEAGUE])
    world.advance(20)
    second = jobs["poll"].run()

    assert isinstance(second, PassReport) and second.counts["create"] == 1
    state = ts.read_state(world.runtime.engine, TENANT)
    assert state is not None and state.poll_records == second.records_read == 1
    written = world.record(event_id).updated_at
    expected = (written.replace(tzinfo=since.tzinfo) - since).total_seconds()
    # The change happened 30 s after the watermark and was written about 20 s later:
    # the recorded lag is the upper bound, measured from the watermark.
    assert expected >= 50
    assert state.lag_p50_seconds == state.lag_max_seconds == pytest.approx(expected, abs=0.01)
    usage = world.runtime.salesforce(TENANT).usage
    assert usage.used is not None and usage.max is not None
    assert (state.salesforce_used, state.salesforce_max) == (usage.used, usage.max)


def test_graph_throttling_is_added_up_per_tenant(world: World) -> None:
    jobs = jobs_of(world)
    jobs["poll"].run()
    world.create_event(subject="Throttled", invitees=[COLLEAGUE])
    world.sandbox.faults.fail_next(ForcedFailure(429, mailbox=ORGANIZER, retry_after=1))

    jobs["poll"].run()

    state = ts.read_state(world.runtime.engine, TENANT)
    assert state is not None
    assert state.graph_throttled == 1
    assert state.graph_seconds_waited >= 1
    assert state.graph_throttled_at is not None


def test_retry_from_the_status_page_makes_a_failed_record_due_and_the_retry_pass_syncs_it(
    world: World, status_url: str
) -> None:
    service = world.service()
    event_id = world.create_event(NO_MAILBOX, subject="Unlicensed owner", invitees=[COLLEAGUE])
    service.poll()
    failed = world.record(event_id)
    assert failed.status == MeetingStatus.FAILED
    assert failed.next_attempt_at is not None and failed.next_attempt_at > world.now()
    operator = {"Authorization": f"Bearer {TOKEN}"}
    with httpx.Client(base_url=status_url, headers=operator, timeout=10) as http:
        page = http.get("/status").text
        link = f"/status/{TENANT}/records/salesforce/{event_id}"
        assert f'href="{link}"' in page and "mailbox" in page
        record_page = http.get(link).text
        assert 'id="record-status">failed' in record_page and 'id="retry"' in record_page

        world.user(NO_MAILBOX).has_mailbox = True  # the cause is fixed
        assert service.retry_failed().records_read == 0  # still backing off

        answer = http.post(f"{link}/retry", follow_redirects=True)
        assert answer.status_code == 200
        assert "back-off cleared: the next retry pass takes this record" in answer.text
        due = world.record(event_id).next_attempt_at
        assert due is not None and due <= world.now()

        retried = service.retry_failed()
        assert retried.records_read == 1 and retried.failures == []
        assert world.record(event_id).status == MeetingStatus.SYNCED
        assert 'id="record-status">synced' in http.get(link).text
        again = http.post(f"{link}/retry", follow_redirects=True)
        assert "this record has not failed: nothing to retry" in again.text
