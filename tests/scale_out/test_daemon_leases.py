"""The daemon under leases: a tenant's jobs run only where its lease is held, a
replica that takes a lease over first finishes what the last holder left, and a
replica over its share hands a tenant over only while none of its jobs runs."""

from __future__ import annotations

import threading
from typing import Any, cast

import pytest

from syncd.daemon import Daemon, JobSpec
from syncd.ledger.lease import Grant
from syncd.sdnotify import Notifier
from syncd.sync.service import SyncService

TENANT = "acme"


class ScriptedLeases:
    """Leases whose answers the test sets."""

    def __init__(self) -> None:
        self.grant = Grant.GAINED
        self.over = False
        self.released: list[str] = []
        self.held: set[str] = set()

    def acquire(self, name: str) -> Grant:
        if self.grant.granted:
            self.held.add(name)
        return self.grant

    def holds(self, name: str) -> bool:
        return name in self.held

    def over_share(self, name: str = "") -> bool:
        return self.over

    def release(self, name: str) -> None:
        self.released.append(name)
        self.held.discard(name)

    def check(self) -> None:
        pass

    def release_all(self) -> None:
        self.held.clear()

    def describe(self) -> str:
        return "scripted"

    def join(self) -> float:
        return 0.0


def make_daemon(leases: ScriptedLeases, calls: list[str], **bodies: Any) -> Daemon:
    def body(name: str) -> Any:
        return bodies.get(name) or (lambda: calls.append(name))

    jobs = [
        JobSpec("resume", 0, body("resume"), once=True),
        JobSpec("poll", 60, body("poll")),
        JobSpec("responses", 60, body("responses")),
    ]
    return Daemon(
        {TENANT: cast(SyncService, None)},
        stop_event=threading.Event(),
        notifier=Notifier(address=""),
        jobs=lambda _service: jobs,
        leases=leases,  # type: ignore[arg-type]
    )


def run(daemon: Daemon, job: str) -> None:
    spec = next(j for j in daemon.specs[TENANT] if j.name == job)
    daemon._guarded(TENANT, spec)()


def test_jobs_run_only_where_the_lease_is_held(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level("INFO", logger="syncd.daemon")
    leases, calls = ScriptedLeases(), []
    daemon = make_daemon(leases, calls)
    leases.grant = Grant.BUSY
    run(daemon, "resume")
    run(daemon, "poll")
    assert calls == []
    assert caplog.text.count("another replica holds the lease of acme: standing by") == 1


def test_a_replica_taking_a_lease_over_resumes_first() -> None:
    leases, calls = ScriptedLeases(), []
    daemon = make_daemon(leases, calls)
    leases.grant = Grant.GAINED
    run(daemon, "poll")
    assert calls == ["resume", "poll"]
    leases.grant = Grant.HELD
    run(daemon, "responses")
    run(daemon, "poll")
    assert calls == ["resume", "poll", "responses", "poll"]
    # The resume job itself, when it is the one that takes the lease, runs once.
    calls.clear()
    leases.grant = Grant.GAINED
    run(daemon, "resume")
    assert calls == ["resume"]


def test_a_lease_is_handed_over_only_while_none_of_the_tenants_jobs_runs() -> None:
    leases, calls = ScriptedLeases(), []
    entered, release = threading.Event(), threading.Event()

    def long_poll() -> None:
        entered.set()
        release.wait(30)
        calls.append("poll")

    daemon = make_daemon(leases, calls, poll=long_poll)
    leases.grant = Grant.HELD
    running = threading.Thread(target=run, args=(daemon, "poll"))
    running.start()
    assert entered.wait(30)
    leases.over = True
    run(daemon, "responses")  # the poll still runs: keep the lease, run the job
    assert leases.released == []
    assert calls == ["responses"]
    release.set()
    running.join(30)
    run(daemon, "responses")  # nothing runs now: hand the tenant over, skip the job
    assert leases.released == [TENANT]
    assert calls == ["responses", "poll"]


def test_a_job_that_fails_still_counts_as_finished() -> None:
    leases, calls = ScriptedLeases(), []

    def broken() -> None:
        raise RuntimeError("boom")

    daemon = make_daemon(leases, calls, poll=broken)
    leases.grant = Grant.HELD
    run(daemon, "poll")
    leases.over = True
    run(daemon, "responses")
    assert leases.released == [TENANT]


def test_the_tenants_other_jobs_wait_for_the_resume_of_a_lease_just_taken() -> None:
    leases, calls = ScriptedLeases(), []
    resuming, release = threading.Event(), threading.Event()

    def slow_resume() -> None:
        resuming.set()
        release.wait(30)
        calls.append("resume")

    daemon = make_daemon(leases, calls, resume=slow_resume)
    leases.grant = Grant.GAINED
    taking = threading.Thread(target=run, args=(daemon, "poll"))
    taking.start()
    assert resuming.wait(30)
    leases.grant = Grant.HELD
    waiting = threading.Thread(target=run, args=(daemon, "responses"))
    waiting.start()
    waiting.join(1)
    assert waiting.is_alive() and calls == []  # it waits; it does not plan anything yet
    release.set()
    taking.join(30)
    waiting.join(30)
    assert calls[0] == "resume" and sorted(calls[1:]) == ["poll", "responses"]
