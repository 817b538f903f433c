"""Metrics of the sync: outcomes per action from the pass reports, job runs, and the
lag from a Salesforce change to its Outlook write.

The counts come from the reports `syncd.sync` returns (a job wrapper calls
`count_pass`), so the sync itself keeps no metrics state.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import replace
from datetime import datetime
from typing import TYPE_CHECKING, Any, Protocol

from syncd.metrics import definitions as m

if TYPE_CHECKING:
    from syncd.daemon import JobSpec
    from syncd.sync.plan import Plan
    from syncd.sync.service import PassReport, SyncService

#: Actions that write to Outlook, and so end a change's lag.
_WRITES = frozenset({"create", "update", "cancel"})


class _Changed(Protocol):
    """A Salesforce Event as the lag needs it (syncd.sync.salesforce_event.SalesforceEvent)."""

    @property
    def id(self) -> str: ...

    @property
    def system_modstamp(self) -> datetime | None: ...


def count_pass(tenant: str, report: PassReport) -> None:
    """Count what a pass did per action; a dry run did nothing and counts nothing."""
    if report.dry_run:
        return
    for action, count in report.counts.items():
        if count:
            m.SYNC_RECORDS.labels(tenant, action).inc(count)


def count_result(tenant: str, job: str, result: Any) -> None:
    """Count a job's run (and, for a pass, its outcomes)."""
    from syncd.sync.service import PassReport

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


def observe_lag(
    tenant: str,
    events: Iterable[_Changed],
    plan: Plan,
    report: PassReport,
    now: datetime,
    *,
    stopped: bool = False,
) -> None:
    """After a page's plan ran: each Outlook write it made, from its Event's SystemModstamp
    to `now` (when the page's writes are done). Failed steps wrote nothing; a page a
    stop cut short is left out, since which of its steps ran is not known here."""
    if report.dry_run or stopped:
        return
    changed = {event.id: event.system_modstamp for event in events}
    failed = {event_id for event_id, _ in report.failures}
    for step in plan.steps:
        stamp = changed.get(step.event_id)
        if step.action.value in _WRITES and stamp is not None and step.event_id not in failed:
            m.SYNC_LAG.labels(tenant).observe(max(0.0, (now - stamp).total_seconds()))
