"""The daemon in-process, with real SyncServices against a sandbox of its own:
jobs run and meetings reach Outlook, a running job is never started twice, and
stop() lets in-flight writes finish while the service stops between steps."""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any, cast

import pytest
from apscheduler.events import EVENT_JOB_MAX_INSTANCES, JobEvent
from sqlmodel import Session, select

from syncd.daemon import Daemon, JobSpec, tenant_jobs
from syncd.domain import ErrorCode, MeetingStatus, SyncdError
from syncd.ledger import queries as lq
from syncd.ledger.models import MeetingRecord
from syncd.runtime import Runtime, build_runtime
from syncd.sandbox.salesforce.generator import add_events
from syncd.sdnotify import Notifier
from syncd.sync.service import FEED_EVENT, SyncService
from tests.daemon.helpers import (
    TENANT,
    World,
    drop_events_without_mailbox,
    mailbox_users,
    outlook_meetings,
    wait_until,
)

#: Off: these tests look at jobs, not at systemd (test_sdnotify does that).
NO_SYSTEMD = Notifier(address="")


@pytest.fixture
def runtime(world: World) -> Iterator[Runtime]:
    built = build_runtime(world.config())
    yield built
    built.close()


def ledger_rows(runtime: Runtime) -> list[MeetingRecord]:
    with Session(runtime.engine) as session:
        return list(session.exec(select(MeetingRecord).where(MeetingRecord.tenant == TENANT)))


def test_start_runs_every_job_and_meetings_reach_outlook(
    world: World, runtime: Runtime, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="syncd.daemon")
    stop = threading.Event()
    service = runtime.sync_service(TENANT, should_stop=stop.is_set)
    daemon = Daemon({TENANT: service}, stop_event=stop, notifier=NO_SYSTEMD)
    names = [job.name for job in tenant_jobs(service)]
    assert names == ["resume", "poll", "outlook", "availability", "retry-failed"]
    daemon.start()
    try:
        # Every job reports "<name> done" only when it ran through without an error.
        wait_until(
            lambda: all(f"{name} done" in caplog.text for name in names),
            "every job to run once",
        )
    finally:
        daemon.stop()
    assert "failed unexpectedly" not in caplog.text
    assert "stopped:" not in caplog.text

    synced = [r for r in ledger_rows(runtime) if r.status == MeetingStatus.SYNCED]
    assert synced, "the poll job synced nothing"
    assert outlook_meetings(world.sandbox) == sorted(str(r.graph_event_id) for r in synced)
    assert lq.get_watermark(runtime.engine, TENANT, FEED_EVENT) is not None
    # The availability job wrote busy slots into the org's Users.
    org = world.org
    snapshots = [org.record(i).get("Availability_Snapshot__c") for i in org.ids_of("User")]
    assert any(snapshots), "the availability job wrote no snapshot"


class Blocker:
    """A job body that blocks until released and counts how many run at once."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.running = 0
        self.peak = 0
        self.calls = 0
        self.entered = threading.Event()
        self.release = threading.Event()

    def __call__(self) -> None:
        with self.lock:
            self.running += 1
            self.calls += 1
            self.peak = max(self.peak, self.running)
        self.entered.set()
        self.release.wait(30)
        with self.lock:
            self.running -= 1


def test_a_job_still_running_when_due_is_skipped_not_started_twice() -> None:
    blocker = Blocker()
    skipped: list[str] = []
    stop = threading.Event()
    daemon = Daemon(
        {TENANT: cast(SyncService, None)},  # the job below never uses the service
        stop_event=stop,
        notifier=NO_SYSTEMD,
        jobs=lambda _service: [JobSpec("slow", 3600, blocker)],
    )

    def on_skip(event: JobEvent) -> None:
        skipped.append(event.job_id)

    daemon.jobs.add_listener(on_skip, EVENT_JOB_MAX_INSTANCES)
    job_id = f"{TENANT}:slow"
    daemon.start()
    try:
        assert blocker.entered.wait(30), "the job never started"
        for attempt in range(1, 4):
            # Make it due again while it still runs: the scheduler must refuse.
            daemon.jobs.modify_job(job_id, next_run_time=datetime.now(UTC))
            wait_until(lambda n=attempt: len(skipped) >= n, f"skip number {attempt}")
        assert (blocker.calls, blocker.peak) == (1, 1)

        blocker.release.set()
        wait_until(lambda: blocker.running == 0, "the first run to end")
        blocker.entered.clear()
        daemon.jobs.modify_job(job_id, next_run_time=datetime.now(UTC))
        assert blocker.entered.wait(30), "once the first run ended, the job did not run again"
        assert (blocker.calls, blocker.peak) == (2, 1)
    finally:
        blocker.release.set()
        daemon.stop()
    assert skipped == [job_id] * 3


def test_stop_waits_for_in_flight_writes_and_the_pass_stops_between_steps(
    world: World, runtime: Runtime
) -> None:
    stop = threading.Event()
    service = runtime.sync_service(TENANT, should_stop=stop.is_set)
    in_graph = threading.Event()
    release = threading.Event()
    graph = runtime.graphs[TENANT]
    create_events = graph.create_events

    def slow_create(*args: Any, **kwargs: Any) -> Any:
        # The ledger holds the intents of the group by now; its $batch is in flight.
        in_graph.set()
        release.wait(30)
        return create_events(*args, **kwargs)

    graph.create_events = slow_create  # type: ignore[method-assign]
    # One worker: the creates go in groups of up to 20 (one $batch each), and the
    # groups after the first wait for it, whatever the default number of workers.
    service.executor.workers = 1
    add_events(
        world.org,
        30,
        owners=list(mailbox_users(world.sandbox)),
        start=world.sandbox.clock.now().date() + timedelta(days=1),
    )
    planned = service.poll(dry_run=True).counts["create"]
    assert planned > 20, "the test needs more creates than one group holds"

    daemon = Daemon(
        {TENANT: service},
        stop_event=stop,
        notifier=NO_SYSTEMD,
        jobs=lambda s: [JobSpec("poll", 3600, s.poll)],
    )
    daemon.start()
    stopper = threading.Thread(target=daemon.stop)
    try:
        assert in_graph.wait(30), "the poll never reached Graph"
        assert any(r.intent == "create" for r in ledger_rows(runtime))
        stopper.start()
        wait_until(stop.is_set, "stop() to raise the stop flag")
        stopper.join(0.5)
        assert stopper.is_alive(), "stop() returned while a job was still writing"
    finally:
        release.set()
        stopper.join(30)
    assert not stopper.is_alive()

    rows = ledger_rows(runtime)
    assert [r.external_id for r in rows if r.intent is not None] == []
    assert [r.external_id for r in rows if r.status == MeetingStatus.PENDING] == []
    # Steps not started before the stop were never started...
    assert 0 < len(rows) < planned
    # ...every write that started reached Outlook and the ledger alike...
    synced = [r for r in rows if r.status == MeetingStatus.SYNCED]
    assert outlook_meetings(world.sandbox) == sorted(str(r.graph_event_id) for r in synced)
    # ...and the poll did not claim the Events it skipped: the next one reads them again.
    assert lq.get_watermark(runtime.engine, TENANT, FEED_EVENT) is None
    assert lq.last_run(runtime.engine, TENANT, FEED_EVENT) is None


def test_the_resume_job_finishes_writes_a_dead_daemon_left(
    world: World, runtime: Runtime, caplog: pytest.LogCaptureFixture
) -> None:
    # A daemon that died between recording its intent and hearing from Graph:
    # the ledger says "create", Outlook has nothing. (Events whose owner has no
    # mailbox are dropped so that every intent can be finished.)
    drop_events_without_mailbox(world.sandbox)
    service = runtime.sync_service(TENANT)
    graph = runtime.graphs[TENANT]
    create_event = graph.create_event

    def connection_lost(*_args: Any, **_kwargs: Any) -> Any:
        raise SyncdError(ErrorCode.UPSTREAM_UNAVAILABLE, "the connection went down")

    create_events = graph.create_events
    # One create or a $batch of them: the connection goes down either way.
    graph.create_event = graph.create_events = connection_lost  # type: ignore[method-assign]
    service.poll()
    graph.create_event = create_event  # type: ignore[method-assign]
    graph.create_events = create_events  # type: ignore[method-assign]
    unfinished = [r.external_id for r in ledger_rows(runtime) if r.intent == "create"]
    assert unfinished and outlook_meetings(world.sandbox) == []

    caplog.set_level(logging.INFO, logger="syncd.daemon")
    stop = threading.Event()
    daemon = Daemon(
        {TENANT: runtime.sync_service(TENANT, should_stop=stop.is_set)},
        stop_event=stop,
        notifier=NO_SYSTEMD,
        jobs=lambda s: [job for job in tenant_jobs(s) if job.once],
    )
    daemon.start()
    try:
        wait_until(lambda: "resume done" in caplog.text, "the resume job")
    finally:
        daemon.stop()
    rows = {r.external_id: r for r in ledger_rows(runtime)}
    assert [i for i in unfinished if rows[i].intent is not None] == []
    assert (
        len(outlook_meetings(world.sandbox))
        == len([i for i in unfinished if rows[i].status == MeetingStatus.SYNCED])
        > 0
    )
