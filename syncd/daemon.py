"""The sync daemon: APScheduler jobs per tenant, clean shutdown, systemd notify.

Each job runs at most once at a time (max_instances=1: a run still going when
the next is due is skipped, not queued). SIGTERM sets a stop flag that every
job checks between pages (the executor between steps), then waits for running
jobs to finish what they are on, so nothing is half-written.

Several replicas (`syncd run` on several hosts over one PostgreSQL) share the
tenants through leases (syncd.ledger.lease): a tenant's job runs only on the
replica that holds the tenant's lease; the others skip it and try to take the
lease each time the job is due, so a replica that dies is replaced within one
job interval. A replica that takes a lease first finishes what the previous
holder left half done (the `once` jobs: resume), then runs the job. A replica
holding more than its share hands a tenant over at a moment when none of that
tenant's jobs is running on it.
"""

from __future__ import annotations

import logging
import signal
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.schedulers.background import BackgroundScheduler

from syncd.domain import SyncdError
from syncd.ledger.lease import Grant, Leases
from syncd.logs import log_context
from syncd.sdnotify import Notifier
from syncd.sync.service import SyncService

log = logging.getLogger(__name__)

#: Seconds between the first runs of one tenant's jobs, so a start-up does not
#: fire every job at the same instant.
STAGGER_SECONDS = 1
#: How often the main thread looks for a signal (the handler only sets a flag).
SIGNAL_POLL_SECONDS = 0.2
#: How often a replica checks that the leases it holds are still its own.
LEASE_CHECK_SECONDS = 5


@dataclass(frozen=True)
class JobSpec:
    """One job of a tenant: `run` every `seconds`, or once at start when `once`."""

    name: str
    seconds: float
    run: Callable[[], Any]
    once: bool = False


def tenant_jobs(service: SyncService) -> list[JobSpec]:
    """The jobs of one tenant, at the tenant's configured intervals.

    `resume` goes first, once: a daemon killed mid-write (SIGKILL, power loss,
    the watchdog) left intents in the ledger, and the core finishes them
    idempotently before the periodic jobs plan anything new.
    """
    schedules = service.tenant.salesforce.schedules
    return [
        JobSpec("resume", 0, service.scheduler.resume, once=True),
        JobSpec("poll", schedules.poll_seconds, service.poll),
        JobSpec("outlook", schedules.sweep_seconds, service.sweep_outlook),
        JobSpec("availability", schedules.availability_seconds, service.snapshot_availability),
        JobSpec("retry-failed", schedules.retry_failed_seconds, service.retry_failed),
    ]


class Daemon:
    """Runs every tenant's jobs until stopped."""

    def __init__(
        self,
        services: dict[str, SyncService],
        *,
        stop_event: threading.Event,
        notifier: Notifier | None = None,
        workers: int | None = None,
        jobs: Callable[[SyncService], list[JobSpec]] = tenant_jobs,
        leases: Leases | None = None,
    ) -> None:
        self.services = services
        self.stop_event = stop_event
        self.notifier = notifier or Notifier()
        self.specs = {tenant: jobs(service) for tenant, service in services.items()}
        #: None: every tenant's jobs run here (one process, no other replica)
        self.leases = leases
        self._standing_by: set[str] = set()
        # Jobs of each tenant running here; a lease is only handed over at zero.
        self._running: dict[str, int] = dict.fromkeys(self.specs, 0)
        # Tenants whose lease was just taken and whose `once` jobs (resume) run:
        # their other jobs wait until that is done.
        self._resuming: dict[str, threading.Event] = {}
        self._lease_guard = threading.Lock()
        self._signalled: int | None = None
        # A thread per job (max_instances=1 caps each job at one run) plus one
        # for the watchdog ping and one for the lease check: a long pass can
        # never hold up the ping, so systemd only restarts us when the
        # job runner itself stalls. (`jobs`, not `scheduler`: the meeting Scheduler
        # is syncd.core's.)
        pool = workers or sum(len(specs) for specs in self.specs.values()) + 2
        self.jobs = BackgroundScheduler(
            executors={"default": ThreadPoolExecutor(pool)},
            job_defaults={"max_instances": 1, "coalesce": True, "misfire_grace_time": 30},
            timezone=UTC,
        )

    def _guarded(self, tenant: str, job: JobSpec) -> Callable[[], None]:
        def run() -> None:
            if self.stop_event.is_set():
                return
            with log_context(tenant_name=tenant, correlation=f"{tenant}-{job.name}"):
                grant = self._enter(tenant)
                while grant is None:  # the tenant's resume runs: wait for it
                    done = self._resuming.get(tenant)
                    if done is not None:
                        done.wait(SIGNAL_POLL_SECONDS)
                    if self.stop_event.is_set():
                        return
                    grant = self._enter(tenant)
                if not grant.granted:
                    return
                try:
                    if grant is Grant.GAINED:
                        self._resume(tenant)
                        if job.once:
                            return  # it just ran
                    self._run_job(job)
                finally:
                    with self._lease_guard:
                        self._running[tenant] -= 1

        return run

    def _resume(self, tenant: str) -> None:
        """The lease was just taken (at start, or over from a replica that stopped or
        died): finish what was left half done before planning anything new."""
        try:
            for once in self.specs[tenant]:
                if once.once and not self.stop_event.is_set():
                    self._run_job(once)
        finally:
            with self._lease_guard:
                self._resuming.pop(tenant).set()

    def _enter(self, tenant: str) -> Grant | None:
        """May this replica run one of the tenant's jobs now (see syncd.ledger.lease)?
        None: not yet (the tenant's lease was just taken and its resume runs)."""
        if self.leases is None:
            with self._lease_guard:
                self._running[tenant] += 1
            return Grant.HELD
        with self._lease_guard:
            if tenant in self._resuming:
                return None
            grant = self.leases.acquire(tenant)
            if grant is Grant.HELD and self._running[tenant] == 0 and self.leases.over_share():
                self.leases.release(tenant)
                log.info(
                    "handed the lease of %s over: this replica held more than its share", tenant
                )
                grant = Grant.BUSY
            if grant.granted:
                self._running[tenant] += 1
            if grant is Grant.GAINED:
                self._resuming[tenant] = threading.Event()
        if grant.granted:
            self._standing_by.discard(tenant)
        elif tenant not in self._standing_by:
            self._standing_by.add(tenant)
            log.info("another replica holds the lease of %s: standing by", tenant)
        return grant

    @staticmethod
    def _run_job(job: JobSpec) -> None:
        try:
            result = job.run()
            log.info("%s done: %s", job.name, _summary(result))
        except SyncdError as error:
            log.warning("%s stopped: %s (%s)", job.name, error.message, error.code)
        except Exception:
            log.exception("%s failed unexpectedly; it runs again at its next time", job.name)

    def _add_tenant_jobs(self, tenant: str, now: datetime) -> None:
        for index, job in enumerate(self.specs[tenant]):
            first = now + timedelta(seconds=index * STAGGER_SECONDS)
            trigger: dict[str, Any] = (
                {"trigger": "date", "run_date": first}
                if job.once
                else {"trigger": "interval", "seconds": job.seconds, "next_run_time": first}
            )
            self.jobs.add_job(
                self._guarded(tenant, job),
                id=f"{tenant}:{job.name}",
                name=f"{tenant}:{job.name}",
                **trigger,
            )

    def start(self) -> None:
        """Schedule every job, start the job runner, then tell systemd we are ready."""
        now = datetime.now(UTC)
        if self.leases is not None:
            now += timedelta(seconds=self.leases.join())
        for tenant in self.specs:
            self._add_tenant_jobs(tenant, now)
        interval = self.notifier.watchdog_interval() if self.notifier.enabled else None
        if interval:
            self.jobs.add_job(
                lambda: self.notifier.notify("WATCHDOG=1"),
                "interval",
                seconds=interval,
                id="watchdog",
                name="watchdog",
            )
        if self.leases is not None:
            self.jobs.add_job(
                self.leases.check,
                "interval",
                seconds=LEASE_CHECK_SECONDS,
                id="leases",
                name="leases",
            )
        self.jobs.start()
        self.notifier.notify("READY=1\nSTATUS=syncing " + ", ".join(self.services))
        log.info("daemon started for tenants: %s", ", ".join(self.services))
        if self.leases is not None:
            log.info("a tenant's jobs run where its lease is held (%s)", self.leases.describe())

    def stop(self) -> None:
        """Set the stop flag, then wait for running jobs; safe to call twice."""
        self.stop_event.set()
        if not self.jobs.running:
            return
        self.notifier.notify("STOPPING=1\nSTATUS=finishing running jobs")
        log.info("daemon stopping: running jobs finish the page they are on")
        self.jobs.shutdown(wait=True)
        if self.leases is not None:
            self.leases.release_all()
        log.info("daemon stopped")

    def _on_signal(self, signum: int, _frame: object) -> None:
        # Only a flag: Event.set() takes a lock the interrupted main thread may
        # hold (it is inside Event.wait), which would deadlock.
        self._signalled = signum

    def wait(self) -> None:
        """Block the calling thread until a signal arrives or stop_event is set."""
        while self._signalled is None and not self.stop_event.wait(SIGNAL_POLL_SECONDS):
            pass
        if self._signalled is not None:
            log.info("received %s", signal.Signals(self._signalled).name)

    def run_until_signalled(self) -> None:
        """Start, wait for SIGTERM/SIGINT (call from the main thread), stop cleanly."""
        signals = (signal.SIGTERM, signal.SIGINT)
        previous = {sig: signal.signal(sig, self._on_signal) for sig in signals}
        try:
            self.start()
            self.wait()
        finally:
            # Handlers stay ours until the jobs are done: a second SIGTERM must
            # not kill a process that is finishing its writes.
            self.stop()
            for sig, handler in previous.items():
                signal.signal(sig, handler)


def _summary(result: Any) -> str:
    """One readable line of what a job did (the reconcile command prints the same)."""
    from syncd.reports import availability_line, pass_lines, responses_line
    from syncd.sync.service import AvailabilityReport, PassReport, ResponseReport

    if isinstance(result, PassReport):
        return pass_lines("", result)[0].removeprefix("tenant : ")
    if isinstance(result, ResponseReport):
        return responses_line("", result).removeprefix("tenant : ")
    if isinstance(result, AvailabilityReport):
        return availability_line("", result).removeprefix("tenant : ")
    return str(result)
