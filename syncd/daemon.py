"""The sync daemon: APScheduler jobs per tenant, clean shutdown, systemd notify.

Each job runs at most once at a time (max_instances=1: a run still going when
the next is due is skipped, not queued). SIGTERM sets a stop flag that every
job checks between pages, then waits for running jobs to finish their page, so
nothing is half-written.
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
from syncd.logs import log_context
from syncd.sdnotify import Notifier
from syncd.sync.service import SyncService

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class JobSpec:
    name: str
    seconds: int
    run: Callable[[], Any]


def tenant_jobs(service: SyncService) -> list[JobSpec]:
    """The four jobs of one tenant, at the tenant's configured intervals."""
    schedules = service.tenant.salesforce.schedules
    return [
        JobSpec("poll", schedules.poll_seconds, service.poll),
        JobSpec("responses", schedules.responses_seconds, service.refresh_responses),
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
        workers: int = 8,
    ) -> None:
        self.services = services
        self.stop_event = stop_event
        self.notifier = notifier or Notifier()
        self.scheduler = BackgroundScheduler(
            executors={"default": ThreadPoolExecutor(workers)},
            job_defaults={"max_instances": 1, "coalesce": True, "misfire_grace_time": 30},
            timezone=UTC,
        )

    def _guarded(self, tenant: str, job: JobSpec) -> Callable[[], None]:
        def run() -> None:
            if self.stop_event.is_set():
                return
            with log_context(tenant_name=tenant, correlation=f"{tenant}-{job.name}"):
                try:
                    result = job.run()
                    log.info("%s done: %s", job.name, _summary(result))
                except SyncdError as error:
                    log.warning("%s stopped: %s (%s)", job.name, error.message, error.code)
                except Exception:
                    log.exception(
                        "%s failed unexpectedly; it runs again at its next time", job.name
                    )

        return run

    def start(self) -> None:
        now = datetime.now(UTC)
        for tenant, service in self.services.items():
            for index, job in enumerate(tenant_jobs(service)):
                self.scheduler.add_job(
                    self._guarded(tenant, job),
                    "interval",
                    seconds=job.seconds,
                    id=f"{tenant}:{job.name}",
                    name=f"{tenant}:{job.name}",
                    # Stagger first runs so a start-up does not fire everything at once.
                    next_run_time=now + timedelta(seconds=index * 2),
                )
        interval = self.notifier.watchdog_interval()
        if interval:
            # The ping goes through the job pool: a wedged pool stops the pings
            # and systemd restarts us.
            self.scheduler.add_job(
                lambda: self.notifier.notify("WATCHDOG=1"),
                "interval",
                seconds=interval,
                id="watchdog",
            )
        self.scheduler.start()
        self.notifier.notify("READY=1\nSTATUS=syncing " + ", ".join(self.services))
        log.info("daemon started for tenants: %s", ", ".join(self.services))

    def stop(self) -> None:
        self.notifier.notify("STOPPING=1")
        self.stop_event.set()
        self.scheduler.shutdown(wait=True)
        log.info("daemon stopped")

    def run_until_signalled(self) -> None:
        """Start, wait for SIGTERM/SIGINT (main thread), stop cleanly."""
        previous = {
            sig: signal.signal(sig, lambda *_: self.stop_event.set())
            for sig in (signal.SIGTERM, signal.SIGINT)
        }
        try:
            self.start()
            self.stop_event.wait()
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)
            self.stop()


def _summary(result: Any) -> str:
    counts = getattr(result, "counts", None)
    if isinstance(counts, dict):
        done = {k: v for k, v in counts.items() if v}
        failed = len(getattr(result, "failures", ()))
        return f"{done or 'nothing to do'}; failed={failed}"
    return str(result)
