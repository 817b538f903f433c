"""A mailbox shard's drain: the holder of a shard's lease finishes the writes the
tenant's poll claimed for the shard's mailboxes (syncd.sync.sharded_executor), and
writes their results back to Salesforce in sObject Collections of up to 200.

A create the poll claimed is queued (Intent.QUEUED): no Graph call has touched it, so
the drain sends a group of them as one $batch without looking them up
(Scheduler.batch.send_queued, which first turns them into CREATEs in one transaction).
Everything else goes through the core's resume (Scheduler.resume: a CREATE, which a
crash may have sent, looks for the event stamped with the meeting's key before it
POSTs; an update PATCHes what the intent holds), the path that finishes what a crash
left half done: so a shard taken over from a replica that died is finished by the
same code, and exactly once.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from concurrent.futures import Executor
from dataclasses import dataclass, field
from datetime import datetime

from syncd.core.records import request_to_meeting
from syncd.core.scheduler import Scheduler
from syncd.domain import Intent, MeetingStatus, Source, SyncdError, WritebackStatus, utc
from syncd.ledger import queries as lq
from syncd.ledger.models import MeetingRecord
from syncd.ledger.shards import shard_of
from syncd.sync.reader import PAGE, chunks
from syncd.sync.salesforce_writer import SalesforceWriter
from syncd.sync.sharded_executor import InFlight
from syncd.sync.writeback import Outcome

log = logging.getLogger(__name__)

#: Creates a drain sends in one $batch. Graph hands 4 requests of a batch to Outlook at
#: once (https://learn.microsoft.com/graph/throttling#throttling-and-batching), so a
#: batch of 20 takes five of Outlook's round trips and holds its mailboxes' share of
#: their concurrent requests all that time; a drain's writes wait on Outlook, so it
#: sends batches Outlook answers in one round trip (still a quarter of the requests
#: and ledger transactions of one create at a time).
DRAIN_BATCH = 4


@dataclass
class DrainReport:
    """What one drain of a shard did."""

    finished: int = 0
    failed: list[tuple[str, str]] = field(default_factory=list)
    writeback_errors: list[tuple[str, str]] = field(default_factory=list)

    def __bool__(self) -> bool:
        """Whether the drain did anything."""
        return bool(self.finished or self.failed or self.writeback_errors)

    def __str__(self) -> str:
        return (
            f"{self.finished} claimed writes finished, {len(self.failed)} failed, "
            f"{len(self.writeback_errors)} write-backs refused"
        )


class ShardDrain:
    """Finishes the claimed writes of one shard of a tenant's mailboxes."""

    def __init__(
        self,
        scheduler: Scheduler,
        writer: SalesforceWriter,
        *,
        index: int,
        count: int,
        in_flight: InFlight,
        clock: Callable[[], datetime],
        pool: Executor,
        should_stop: Callable[[], bool] = lambda: False,
    ) -> None:
        """`pool`: the threads that make the writes, shared by the tenant's drains on this
        replica (its writing capacity, however many shards it holds)."""
        self.scheduler = scheduler
        self.writer = writer
        self.index = index
        self.count = count
        self.in_flight = in_flight
        self.clock = clock
        self.pool = pool
        self.should_stop = should_stop

    def due(self) -> list[MeetingRecord]:
        """The shard's Salesforce meetings with an intent to finish now: not running in
        this process, and past the back-off of an earlier failure. Read as the few
        columns that say so first (every drain of every replica asks, every few
        seconds), then the due rows whole."""
        now = utc(self.clock())
        rows = lq.pending_organizers(
            self.scheduler.engine, self.scheduler.tenant.name, Source.SALESFORCE
        )
        due = [
            external_id
            for external_id, organizer, next_attempt_at in rows
            if shard_of(organizer, self.count) == self.index
            and external_id not in self.in_flight
            and (next_attempt_at is None or utc(next_attempt_at) <= now)
        ]
        return list(self.scheduler.records_of(due, source=Source.SALESFORCE).values())

    def run(self) -> DrainReport:
        """Finish what is due, and what the poll claims meanwhile, until nothing is left:
        a drain that waited for its next turn after each batch would leave its
        mailboxes idle while the poll claims on. Each claim is tried once a run (one
        that fails again waits for its back-off)."""
        report = DrainReport()
        tried: set[str] = set()
        while not self.should_stop():
            due = [r for r in self.due() if r.external_id not in tried]
            if not due:
                break
            for page in chunks(due, PAGE):
                if self.should_stop():
                    break
                tried.update(r.external_id for r in page)
                self._finish(page, report)
        return report

    def _finish(self, page: Sequence[MeetingRecord], report: DrainReport) -> None:
        errors: dict[str, SyncdError] = {}

        def one(record: MeetingRecord) -> int:
            if self.should_stop():
                return 0
            return self.scheduler.resume(
                intents=[record],
                correlation_id=f"sf-{record.external_id}",
                on_failure=lambda external_id, error: errors.__setitem__(external_id, error),
            )

        def group(records: Sequence[MeetingRecord]) -> int:
            if self.should_stop():
                return 0
            items = [(r, f"sf-{r.external_id}") for r in records]
            sent = self.scheduler.batch.send_queued(items, source=Source.SALESFORCE)
            finished = 0
            for record, result in zip(records, sent, strict=True):
                if isinstance(result, SyncdError):
                    errors[record.external_id] = result
                elif result is None:  # no longer queued: whatever is left, resume finishes
                    finished += one(record)
                else:
                    finished += 1
            return finished

        # Queued creates (no Graph call has touched them) go out in $batch groups; the
        # rest (updates, and creates a crash may have sent) one by one through resume.
        queued = [r for r in page if r.intent == Intent.QUEUED]
        rest = [r for r in page if r.intent != Intent.QUEUED]
        planned = self.scheduler.batch.groups(queued, per_request=DRAIN_BATCH)
        groups = [[queued[i] for i in g] for g in planned]
        report.finished += sum(self.pool.map(group, groups))
        report.finished += sum(self.pool.map(one, rest))
        rows = self.scheduler.records_of((r.external_id for r in page), source=Source.SALESFORCE)
        outcomes = []
        for record in page:
            external_id, row = record.external_id, rows.get(record.external_id)
            if external_id in errors:
                # Even when the row is gone (an organizer without a mailbox): the Event
                # is told why, as the poll would have told it.
                error = errors[external_id]
                self._remember(record, row, error)
                report.failed.append((external_id, error.message))
                outcomes.append(
                    Outcome(
                        external_id, WritebackStatus.FAILED, error=f"{error.code}: {error.message}"
                    )
                )
            elif row is not None and row.intent is None and row.status == MeetingStatus.SYNCED:
                outcomes.append(
                    Outcome(
                        external_id,
                        WritebackStatus.SYNCED,
                        graph_event_id=row.graph_event_id,
                        join_url=row.join_url,
                    )
                )
        report.writeback_errors += self.writer.outcomes(outcomes, ())

    def _remember(
        self, claimed: MeetingRecord, row: MeetingRecord | None, error: SyncdError
    ) -> None:
        """Keep the failure in the ledger with its back-off, as the executor does for a
        write run at once: the core records Graph failures itself, but drops the row of
        a create it cannot make (no such mailbox), which would then never be retried."""
        if row is not None and row.last_error_code == error.code.value:
            return
        self.scheduler.record_failure(
            claimed.external_id,
            error,
            Source.SALESFORCE,
            attempted=request_to_meeting(claimed.external_id, claimed.request),
            earlier_attempts=claimed.attempts if claimed.last_error_code else 0,
        )
