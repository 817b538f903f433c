"""The daemon's jobs with the operator's hooks around them: a paused tenant's jobs are
skipped (and say so), and after each job the tenant's operator state records the last
poll and its lag, the org's Salesforce API usage and Graph's throttling.

The hooks wrap `syncd.daemon.tenant_jobs`; the sync itself knows nothing of them.
"""

from __future__ import annotations

import logging
import statistics
import threading
from collections.abc import Callable, Iterable, Sequence
from datetime import UTC, datetime
from typing import Any

from sqlmodel import Session, col, select

from syncd.daemon import JobSpec, tenant_jobs
from syncd.domain import Source
from syncd.ledger import queries as lq
from syncd.ledger import tenant_state as ts
from syncd.ledger.models import MeetingRecord
from syncd.sync.plan import Action
from syncd.sync.service import FEED_EVENT, PassReport, SyncService

log = logging.getLogger("syncd.daemon")

#: Jobs that finish writes an earlier run left half done: they run for a paused tenant
#: too, because a meeting left half written is worse than one finished.
RUNS_WHEN_PAUSED = frozenset({"resume"})
_WRITES = frozenset({Action.CREATE, Action.UPDATE, Action.CANCEL})


def lag_seconds(written_at: Iterable[datetime], changed_at: datetime) -> tuple[float, float] | None:
    """(median, max) seconds from a Salesforce change to its Outlook write.

    Without each Event's SystemModstamp in the pass report, `changed_at` is the
    earliest a change the pass read can have happened (the watermark before the
    pass), so the figures are upper bounds: too high by at most the time between the
    two polls.
    """
    lags = [max(0.0, (_utc(at) - _utc(changed_at)).total_seconds()) for at in written_at]
    if not lags:
        return None
    return round(statistics.median(lags), 3), round(max(lags), 3)


def _utc(value: datetime) -> datetime:
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def operator_jobs(
    service: SyncService, jobs: Callable[[SyncService], list[JobSpec]] = tenant_jobs
) -> list[JobSpec]:
    """`jobs(service)`, each wrapped in the pause check and the operator's records."""
    tally = GraphTally(service)
    return [
        JobSpec(job.name, job.seconds, _wrapped(service, job, tally), once=job.once)
        for job in jobs(service)
    ]


def _wrapped(service: SyncService, job: JobSpec, tally: GraphTally) -> Callable[[], Any]:
    tenant, engine = service.tenant.name, service.engine

    def run() -> Any:
        if job.name not in RUNS_WHEN_PAUSED:
            paused = ts.is_paused(engine, tenant)
            if paused is not None:
                log.info(
                    "%s skipped: tenant %s is %s (`syncd resume --tenant %s` resumes it)",
                    job.name,
                    tenant,
                    paused.describe(),
                    tenant,
                )
                return f"skipped: tenant {tenant} is paused"
        since = lq.get_watermark(engine, tenant, FEED_EVENT) if job.name == "poll" else None
        try:
            result = job.run()
        finally:
            tally.record()
        if isinstance(result, PassReport) and job.name == "poll":
            record_pass(service, result, since)
        return result

    return run


def record_pass(service: SyncService, report: PassReport, since: datetime | None) -> None:
    """Write the poll's records read, lag and the org's API usage to the operator state."""
    tenant, engine = service.tenant.name, service.engine
    now = service.clock()
    lag = None
    if since is not None and not report.full_resync:
        written = [s.salesforce_id for s in report.steps if s.action in _WRITES]
        failed = {salesforce_id for salesforce_id, _ in report.failures}
        lag = lag_seconds(_written_at(service, [i for i in written if i not in failed]), since)
    usage = getattr(service.salesforce, "usage", None)
    ts.record_poll(
        engine,
        tenant,
        now=now,
        records=report.records_read,
        lag_p50=lag[0] if lag else None,
        lag_max=lag[1] if lag else None,
        salesforce_used=usage.used if usage is not None else None,
        salesforce_max=usage.max if usage is not None else None,
    )


def _written_at(service: SyncService, event_ids: Sequence[str]) -> list[datetime]:
    """When the ledger last recorded each meeting's write (its Outlook write)."""
    found: list[datetime] = []
    with Session(service.engine) as session:
        for offset in range(0, len(event_ids), 500):
            found += session.exec(
                select(MeetingRecord.updated_at).where(
                    MeetingRecord.tenant == service.tenant.name,
                    MeetingRecord.source == Source.SALESFORCE.value,
                    col(MeetingRecord.external_id).in_(event_ids[offset : offset + 500]),
                )
            ).all()
    return found


class GraphTally:
    """Moves what the tenant's Graph client counted since the last record into the
    operator state. The counter is the client's, shared by the tenant's jobs running
    side by side: each job end records the difference since the last record, under
    a lock, so nothing is counted twice."""

    def __init__(self, service: SyncService) -> None:
        self.service = service
        self._lock = threading.Lock()
        self._last = self._counts()

    def _counts(self) -> tuple[int, float] | None:
        counter = getattr(self.service.graph, "counter", None)
        if counter is None:
            return None
        snapshot = counter.snapshot()
        return int(snapshot["throttled_responses"]), float(snapshot["seconds_waited"])

    def record(self) -> None:
        with self._lock:
            now, last = self._counts(), self._last
            if now is None or last is None:
                return
            self._last = now
            ts.record_graph_throttling(
                self.service.engine,
                self.service.tenant.name,
                now=self.service.clock(),
                throttled=now[0] - last[0],
                seconds_waited=round(now[1] - last[1], 3),
            )
