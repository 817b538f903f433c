"""One tenant's sync jobs behind one object: poll (with full resync and retries), the
Outlook sweep (changes made in Outlook, and attendees' answers) and the availability
snapshot.

Each job is a module of its own (syncd.sync.poll, .outlook_watch, .availability_snapshot);
they share one Event reader (syncd.sync.reader) and one Salesforce writer
(syncd.sync.salesforce_writer), and write meetings only through the scheduler core.
"""

from __future__ import annotations

from collections.abc import Callable, Collection
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime

from sqlalchemy import Engine

from syncd.config import TenantConfig
from syncd.core.scheduler import Scheduler
from syncd.domain import Source
from syncd.graph.port import GraphReader
from syncd.salesforce.port import SalesforcePort
from syncd.sync.availability_snapshot import AvailabilityReport, AvailabilitySnapshot
from syncd.sync.executor import Executor
from syncd.sync.outlook_watch import OutlookSweep, SweepReport
from syncd.sync.pass_report import PassReport
from syncd.sync.poll import FEED_DELETED, FEED_EVENT, FEED_RELATION, Poll
from syncd.sync.reader import PAGE, EventReader, chunks
from syncd.sync.recurrence import SeriesSync
from syncd.sync.responses import ResponseReport
from syncd.sync.salesforce_writer import SalesforceWriter
from syncd.sync.shard_drain import DrainReport, ShardDrain
from syncd.sync.sharded_executor import InFlight, ShardedExecutor

__all__ = [
    "FEED_DELETED",
    "FEED_EVENT",
    "FEED_RELATION",
    "PAGE",
    "AvailabilityReport",
    "DrainReport",
    "PassReport",
    "ResponseReport",
    "SalesforcePort",
    "SweepReport",
    "SyncService",
    "chunks",
]


#: Claimed writes a replica's drains of one tenant make side by side, whichever and
#: however many of its shards it holds: a replica's writing capacity, so that the
#: tenant's capacity grows with the replicas. A claimed create waits for two Graph
#: round trips (the lookup, then the POST), hence twice the executor's 32; the Graph
#: client's connection pool holds 64.
DRAIN_WORKERS = 64


class SyncService:
    """The sync of one tenant. Not thread-safe: the daemon runs each job alone."""

    def __init__(
        self,
        tenant: TenantConfig,
        scheduler: Scheduler,
        salesforce: SalesforcePort,
        graph: GraphReader,
        engine: Engine,
        *,
        clock: Callable[[], datetime],
        should_stop: Callable[[], bool] = lambda: False,
        workers: int = 32,
        owns: Callable[[str], bool] | None = None,
    ) -> None:
        """`owns(organizer_email)`: whether this replica holds that mailbox's shard, for
        a tenant whose mailboxes are sharded (None: every mailbox's writes run here)."""
        self.tenant = tenant
        self.scheduler = scheduler
        self.salesforce = salesforce
        self.graph = graph
        self.engine = engine
        self.clock = clock
        self.should_stop = should_stop
        self.in_flight = InFlight()
        self._drain_pool = ThreadPoolExecutor(DRAIN_WORKERS, thread_name_prefix="syncd-drain")
        self.executor = (
            Executor(scheduler, workers=workers, should_stop=should_stop)
            if owns is None
            else ShardedExecutor(
                scheduler,
                owns=owns,
                in_flight=self.in_flight,
                workers=workers,
                should_stop=should_stop,
            )
        )
        self.fields = tenant.salesforce.fields
        self.reader = EventReader(tenant, salesforce)
        self.writer = SalesforceWriter(salesforce, scheduler, self.fields.event, clock)
        self.series = SeriesSync(
            scheduler,
            self.reader,
            self.writer,
            self.executor,
            graph,
            tenant=tenant,
            clock=clock,
        )
        self._poll = Poll(
            tenant,
            engine,
            scheduler,
            self.reader,
            self.writer,
            self.executor,
            self.series,
            clock=clock,
            should_stop=should_stop,
        )
        self._sweep = OutlookSweep(
            tenant,
            engine,
            scheduler,
            graph,
            self.reader,
            self.writer,
            clock=clock,
            context=self._poll.context,
            should_stop=should_stop,
        )
        self._poll.before_updates = lambda mailboxes: self._sweep.run(mailboxes).handled
        self._poll.outdated = self._sweep.swept.outdated
        self._availability = AvailabilitySnapshot(
            tenant, scheduler, self.reader, self.writer, clock=clock, should_stop=should_stop
        )

    def resume(self) -> int:
        """Finish the writes a crash left half done. With sharded mailboxes only the
        Scheduler API's: each shard's drain finishes the sync's (claimed or crashed),
        so that a new holder of the tenant's lease never writes to the mailboxes of
        shards other replicas hold, nor spends its first minutes on their work."""
        if not isinstance(self.executor, ShardedExecutor):
            return self.scheduler.resume()
        api = [
            record
            for record in self.scheduler.ledger.pending_intents()
            if record.source != Source.SALESFORCE.value
        ]
        return self.scheduler.resume(intents=api)

    def poll(
        self, *, dry_run: bool = False, progress: Callable[[int], None] | None = None
    ) -> PassReport:
        """An incremental pass, or a full resync when there is no usable watermark."""
        return self._poll.poll(dry_run=dry_run, progress=progress)

    def full_resync(
        self, *, dry_run: bool = False, progress: Callable[[int], None] | None = None
    ) -> PassReport:
        """Every Event in the window; meetings whose Event is gone are cancelled."""
        return self._poll.full_resync(dry_run=dry_run, progress=progress)

    def retry_failed(self, *, dry_run: bool = False) -> PassReport:
        """Plan again the failed records whose back-off has passed."""
        return self._poll.retry_failed(dry_run=dry_run)

    def sweep_outlook(self, mailboxes: Collection[str] | None = None) -> SweepReport:
        """Read what changed in Outlook (one delta round per organizer mailbox): changes
        to synced meetings handled by the tenant's `[policy] outlook_changes`, attendees'
        answers written to Salesforce. `mailboxes`: only these organizers."""
        return self._sweep.run(mailboxes)

    def refresh_responses(self) -> SweepReport:
        """Attendees' answers from Outlook to Salesforce: the Outlook sweep, which reads
        them with the rest of each mailbox's changes."""
        return self._sweep.run()

    def snapshot_availability(self) -> AvailabilityReport:
        """Busy slots of every in-org User over the horizon, into the User field."""
        return self._availability.run()

    def shard_drain(self, index: int, count: int, *, should_stop: Callable[[], bool]) -> ShardDrain:
        """The drain of one shard of this tenant's mailboxes (syncd.sync.shard_drain)."""
        return ShardDrain(
            self.scheduler,
            self.writer,
            index=index,
            count=count,
            in_flight=self.in_flight,
            clock=self.clock,
            pool=self._drain_pool,
            should_stop=should_stop,
        )
