"""The daemon's jobs, counted: each run (ok or error) and, for a pass, its outcomes."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from syncd.metrics import definitions as m
from syncd.metrics.sync_metrics import count_pass
from syncd.sync.pass_report import PassReport

if TYPE_CHECKING:
    from syncd.daemon import JobSpec
    from syncd.sync.service import SyncService


def count_result(tenant: str, job: str, result: Any) -> None:
    """Count a job's run (and, for a pass, its outcomes)."""
    if isinstance(result, PassReport):
        count_pass(tenant, result)
    m.JOB_RUNS.labels(tenant, job, "ok").inc()


def metered(tenant: str, job: str, run: Callable[[], Any]) -> Callable[[], Any]:
    """`run`, counted: its result (syncd.metrics) and whether it stopped with an error."""

    def counted() -> Any:
        try:
            result = run()
        except Exception:
            m.JOB_RUNS.labels(tenant, job, "error").inc()
            raise
        count_result(tenant, job, result)
        return result

    return counted


def metered_jobs(
    jobs: Callable[[SyncService], list[JobSpec]],
) -> Callable[[SyncService], list[JobSpec]]:
    """`jobs` (the daemon's job list of a tenant) with every job `metered`."""

    def tenant_jobs(service: SyncService) -> list[JobSpec]:
        tenant = service.tenant.name
        return [replace(spec, run=metered(tenant, spec.name, spec.run)) for spec in jobs(service)]

    return tenant_jobs
