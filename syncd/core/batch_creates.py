"""Creating many meetings at once: a page of new Events becomes a few $batch requests.

Exactly once, as for one meeting (syncd.core.scheduler), with three ledger
transactions and one Graph round trip per group instead of three transactions and a
round trip per meeting:

1. claim: every intent of the group (a row with intent `create` and its deterministic
   transactionId) is committed in one transaction, before anything is sent;
2. send: the creates go to Graph in one $batch, each POST carrying its transactionId
   and the syncd key (syncd.graph.events.create_events);
3. complete: the Outlook ids, change keys and content sent, the status and the history
   entries are committed in one transaction.

A crash between 1 and 3 leaves claimed intents, as a crash of a single create does:
`Scheduler.resume` looks each stamped event up, adopts it if it was made, creates it
otherwise. Creates claimed for later (Intent.QUEUED, syncd.core.deferred_writes) are
sent the same way (`send_queued`), step 1 turning them into CREATEs. Every meeting
of a group is locked (syncd.ledger.meeting_locks) from the claim to the completion,
so no other operation sees a half-done group.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator, Sequence
from contextlib import ExitStack, contextmanager
from datetime import datetime

from sqlalchemy import Engine

from syncd.config import TenantConfig
from syncd.core import event_mapping as em
from syncd.core.claims import claim_fields, decide
from syncd.core.meeting_checks import check_organizer, check_times
from syncd.core.outlook_writes import OutlookWrites, creation
from syncd.core.records import meeting_to_request
from syncd.domain import Intent, Meeting, MeetingStatus, Source, SyncdError
from syncd.graph.batch import MAX_REQUESTS_PER_BATCH, NewEvent
from syncd.graph.batch_plan import plan_batches
from syncd.graph.port import GraphPort
from syncd.ledger.bulk_writes import BulkMeetingWrites, new_record
from syncd.ledger.meeting_locks import MeetingLocks
from syncd.ledger.models import MeetingRecord

log = logging.getLogger(__name__)

#: What `BatchCreates.create` says of each meeting: its row as completed, the error
#: that kept it from Outlook, or None: no longer a plain create (the ledger row changed
#: since the plan), to be carried out one by one (Scheduler.upsert).
Created = MeetingRecord | SyncdError | None


class BatchCreates:
    """One tenant's creates of many meetings, grouped into $batch requests."""

    def __init__(
        self,
        tenant: TenantConfig,
        engine: Engine,
        graph: GraphPort,
        outlook: OutlookWrites,
        locks: MeetingLocks,
        clock: Callable[[], datetime],
    ) -> None:
        self.tenant = tenant
        self.graph = graph
        self.outlook = outlook
        self.locks = locks
        self.clock = clock
        self.bulk = BulkMeetingWrites(engine, tenant.name, clock)

    def groups(
        self,
        meetings: Sequence[Meeting] | Sequence[MeetingRecord],
        *,
        per_request: int = MAX_REQUESTS_PER_BATCH,
    ) -> list[list[int]]:
        """The positions of `meetings` grouped for `create`, in the order to run them:
        each group fits one $batch and keeps each organizer's mailbox within this
        process's share of its concurrent requests (syncd.graph.batch_plan); at most
        `per_request` a group."""
        return plan_batches(
            [m.organizer_email for m in meetings],
            per_mailbox=self.graph.in_flight_per_mailbox(),
            per_request=per_request,
        )

    def create(
        self,
        items: Sequence[tuple[Meeting, str | None]],
        *,
        source: Source = Source.SALESFORCE,
        queue: bool = False,
    ) -> list[Created]:
        """Create each (meeting, correlation id) that is new or was cancelled, in one
        claim, one $batch (or a POST, for one) and one completion; results in order.
        `queue`: only claim them, as Intent.QUEUED, for `send_queued` to send later (the
        results are the claimed rows)."""
        results: list[Created] = [None] * len(items)
        wanted: dict[str, int] = {}
        for position, (meeting, _) in enumerate(items):
            try:
                check_times(meeting.start, meeting.end)
                check_organizer(self.tenant, meeting.organizer_email)
            except SyncdError as error:
                results[position] = error
                continue
            # The same id twice in one group is left to the one-by-one path.
            wanted.setdefault(meeting.external_id, position)
        if not wanted:
            return results
        with self._locked(source, sorted(wanted)):
            claimed = self._claim(items, wanted, source, queue)
            if queue:
                for position, record in claimed.items():
                    results[position] = record
            elif claimed:
                answers = self._send(claimed, items)
                self._complete(claimed, answers, items, results)
        return results

    def send_queued(
        self, items: Sequence[tuple[MeetingRecord, str | None]], *, source: Source
    ) -> list[Created]:
        """Send claimed creates no Graph call has touched (Intent.QUEUED; each with its
        correlation id): one transaction turns them into CREATEs, so a crash from there
        on leaves what Scheduler.resume looks up before it sends again; then one $batch
        and one completion, as `create`. None: no longer queued (sent, changed or
        dropped meanwhile), for Scheduler.resume to finish if anything is left."""
        results: list[Created] = [None] * len(items)
        wanted: dict[str, int] = {}
        for position, (record, _) in enumerate(items):
            wanted.setdefault(record.external_id, position)

        def flip(current: MeetingRecord | None) -> MeetingRecord | None:
            if current is None or current.intent != Intent.QUEUED or current.graph_event_id:
                return None
            current.intent = Intent.CREATE.value
            current.updated_at = self.clock()
            return current

        with self._locked(source, sorted(wanted)):
            stored = self.bulk.claim(source, dict.fromkeys(wanted, flip))
            claimed = {wanted[eid]: record for eid, record in stored.items()}
            if claimed:
                answers = self._send(claimed, items)
                self._complete(claimed, answers, items, results)
        return results

    # ------------------------------------------------------------------ steps

    @contextmanager
    def _locked(self, source: Source, external_ids: Sequence[str]) -> Iterator[None]:
        """Hold the lock of every meeting, taken in one order (the sorted ids) so two
        groups never wait for each other's locks."""
        with ExitStack() as stack:
            for external_id in external_ids:
                stack.enter_context(self.locks.hold(self.tenant.name, str(source), external_id))
            yield

    def _claim(
        self,
        items: Sequence[tuple[Meeting, str | None]],
        wanted: dict[str, int],
        source: Source,
        queue: bool = False,
    ) -> dict[int, MeetingRecord]:
        """Commit the create intents of the group in one transaction (by position).

        The rows of meetings new to the ledger (nearly all of a first sync) are made
        before the transaction, which then holds its connection for the SQL alone; a
        cancelled meeting's row is decided inside it (a new generation)."""

        def decision(meeting: Meeting) -> Callable[[MeetingRecord | None], MeetingRecord | None]:
            request = meeting_to_request(meeting)
            # New to the ledger: generation 0, as claims.decide makes it.
            fields = claim_fields(self.tenant, self.clock, meeting, request, source, 0)
            if queue:
                fields["intent"] = Intent.QUEUED.value
            fresh = new_record(
                tenant=self.tenant.name,
                source=str(source),
                external_id=meeting.external_id,
                created_at=fields["updated_at"],
                **fields,
            )

            def decided(current: MeetingRecord | None) -> MeetingRecord | None:
                if current is None:
                    return fresh
                if current.status != MeetingStatus.CANCELLED:
                    return None  # made (or claimed) since the plan: not a plain create
                record, _ = decide(
                    current, self.tenant, self.clock, meeting, request, source, True, queued=queue
                )
                return record

            return decided

        decisions = {eid: decision(items[position][0]) for eid, position in wanted.items()}
        stored = self.bulk.claim(source, decisions)
        return {wanted[eid]: record for eid, record in stored.items()}

    def _send(
        self, claimed: dict[int, MeetingRecord], items: Sequence[tuple[object, str | None]]
    ) -> list[dict | SyncdError]:
        """POST every claimed create (one $batch for a group of several)."""
        creates = []
        for position, record in claimed.items():
            key = em.external_key(self.tenant.name, record.source, record.external_id)
            payload = em.create_payload(record.target, transaction=record.transaction_id, key=key)
            creates.append(NewEvent(record.organizer_email, payload, items[position][1]))
        try:
            return self.graph.create_events(creates)
        except SyncdError as error:  # the call failed as a whole: so did each create
            return [error] * len(creates)

    def _complete(
        self,
        claimed: dict[int, MeetingRecord],
        answers: Sequence[dict | SyncdError],
        items: Sequence[tuple[object, str | None]],
        results: list[Created],
    ) -> None:
        """Commit the completions of the creates Graph made in one transaction; record
        each refusal as the one-by-one path does (a failure with back-off, or the claim
        dropped for an organizer without a mailbox)."""
        completions = []
        for (position, record), answer in zip(claimed.items(), answers, strict=True):
            correlation_id = items[position][1]
            if isinstance(answer, SyncdError):
                results[position] = self.outlook.refused(record, answer, correlation_id)
                continue
            # The claim stored the target with its hash (claim_fields): not hashed again.
            fields, note = creation(
                record, answer, correlation_id, content_hash=record.content_hash
            )
            # What was sent is the target the claim stored: copied by the database.
            sent = fields.pop("sent")
            assert sent is record.target
            completions.append((record, fields, note))
            results[position] = record
        self.bulk.complete(completions, copies={"sent": "target"})
        log.debug("created %d meetings in one request", len(completions))
