"""The scheduler core: schedule, update, cancel, get, availability.

Both faces (the Scheduler API and the sync daemon) go through this class; it is
the only code that writes meetings to the ledger or to Graph (its Graph writes live
in syncd.core.outlook_writes, a series' occurrence writes in syncd.core.series_writes,
and every ledger read and write in syncd.ledger.repository).

Exactly once: the intent is committed to the ledger before the Graph call and
completed after it. A create carries a deterministic transactionId and the
external-key extended property, so a retry after a crash never makes a second
meeting and `resume()` can finish what a crash left half done.

One operation at a time per meeting: each holds the meeting's lock (across threads and
processes, syncd.ledger.meeting_locks) from its first ledger read to its last write, and
a read (GET) never writes to Outlook.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Engine

from syncd.config import TenantConfig
from syncd.core import event_mapping as em
from syncd.core.availability import FreeBusy
from syncd.core.batch_creates import BatchCreates
from syncd.core.claims import claim_create
from syncd.core.failures import WRITEBACK_REFUSED, Failures
from syncd.core.mailbox_memory import MailboxMemory
from syncd.core.meeting_checks import check_organizer, check_times
from syncd.core.outlook_changes import OutlookChanges
from syncd.core.outlook_writes import OutlookWrites, retry_delay
from syncd.core.records import apply_changes, meeting_to_request, request_to_meeting
from syncd.core.series_writes import SeriesWrites
from syncd.domain import (
    CREATING,
    Availability,
    ErrorCode,
    HistorySide,
    Intent,
    Meeting,
    MeetingChanges,
    MeetingStatus,
    Source,
    SyncdError,
)
from syncd.graph.port import GraphPort
from syncd.ledger.meeting_locks import MeetingLocks, meeting_locks_for
from syncd.ledger.models import MeetingRecord
from syncd.ledger.repository import MeetingRepository

__all__ = ["WRITEBACK_REFUSED", "Scheduler", "retry_delay"]

log = logging.getLogger(__name__)

#: Fields read back from Graph for GET (responses and the join link).
_READ_FIELDS = ("attendees", "onlineMeeting", "changeKey", "isCancelled")


def _now() -> datetime:
    return datetime.now(UTC)


class Scheduler:
    """One tenant's scheduler; every failure is a SyncdError with a contract code."""

    def __init__(
        self,
        tenant: TenantConfig,
        engine: Engine,
        graph: GraphPort,
        *,
        clock: Callable[[], datetime] = _now,
        locks: MeetingLocks | None = None,
    ) -> None:
        """`locks`: the per-meeting locks of this process (one for all tenants of a
        store); by default a set of its own, fitting the store."""
        self.tenant = tenant
        self.engine = engine
        self.graph = graph
        self.clock = clock
        # Every operation on a meeting holds its lock, across threads and processes.
        self._locks = locks if locks is not None else meeting_locks_for(engine)
        self.ledger = MeetingRepository(engine, tenant.name, clock)
        self._outlook = OutlookWrites(tenant, graph, self.ledger, clock)
        self._failures = Failures(tenant, self.ledger, clock)
        #: The writes a recurring series needs (occurrence rows and exceptions).
        self.series = SeriesWrites(tenant, graph, self.ledger, self._outlook, clock)
        #: The writes a change seen in Outlook needs (syncd.core.outlook_changes).
        self.outlook_changes = OutlookChanges(
            tenant, self.ledger, self._outlook, self._locks, clock
        )
        #: Creates of many meetings at once ($batch, one ledger transaction per step).
        self.batch = BatchCreates(tenant, engine, graph, self._outlook, self._locks, clock)
        #: Claim Salesforce creates as Intent.QUEUED (syncd.core.deferred_writes).
        self.queue_creates = False
        ttl = timedelta(seconds=tenant.policy.missing_mailbox_ttl_seconds)
        self._free_busy = FreeBusy(
            tenant, graph, MailboxMemory(ttl, clock), organizer=self.ledger.recent_organizer
        )

    # ----------------------------------------------------------------- public

    def schedule(
        self,
        meeting: Meeting,
        *,
        source: Source = Source.API,
        correlation_id: str | None = None,
    ) -> Meeting:
        """Create the meeting; the same id with the same content creates nothing."""
        self._check_times(meeting.start, meeting.end)
        self._check_organizer(meeting.organizer_email)
        request = meeting_to_request(meeting)
        with self._meeting_lock(source, meeting.external_id):
            record, retry = claim_create(
                self.ledger, self.tenant, self.clock, meeting, request, source
            )
            if record.intent in CREATING:
                record = self._outlook.create(record, correlation_id, look_first=retry)
            return request_to_meeting(record.external_id, record.request, join_url=record.join_url)

    def upsert(
        self,
        meeting: Meeting,
        *,
        source: Source = Source.SALESFORCE,
        correlation_id: str | None = None,
        recover: bool = False,
    ) -> MeetingRecord:
        """Make Outlook match `meeting` (the source of truth): create, PATCH or move;
        returns the meeting's ledger row as written (its Outlook id and Teams link).

        A new organizer cannot be PATCHed in Graph, so the meeting is cancelled
        for the old organizer and created afresh for the new one.
        `recover`: the source says the meeting was made before (Salesforce holds its
        Outlook event id) though the ledger may not know it (the ledger was lost, or
        restored from an older copy): the stamped event is looked for before creating.
        """
        self._check_times(meeting.start, meeting.end)
        self._check_organizer(meeting.organizer_email)
        request = meeting_to_request(meeting)
        with self._meeting_lock(source, meeting.external_id):
            record = self.ledger.find(source, meeting.external_id)
            moved = (
                record is not None
                and record.graph_event_id is not None
                and record.status != MeetingStatus.CANCELLED
                and record.organizer_email.casefold() != meeting.organizer_email.casefold()
            )
            if moved:
                assert record is not None
                cancelling = self.ledger.write(record, intent=Intent.CANCEL.value)
                self._outlook.cancel(cancelling, correlation_id)
            if (
                record is None
                or moved
                or record.graph_event_id is None
                or (record.status == MeetingStatus.CANCELLED)
            ):
                queue = self.queue_creates and not recover  # a recovered one is looked up
                args = (self.ledger, self.tenant, self.clock, meeting, request, source)
                record, retry = claim_create(*args, replace=True, queued=queue)
                if record.intent in CREATING:
                    record = self._outlook.create(
                        record, correlation_id, look_first=retry or recover
                    )
                return record
        changes = MeetingChanges(
            subject=meeting.subject,
            body=meeting.body,
            location=meeting.location,
            start=meeting.start,
            end=meeting.end,
            attendees=meeting.attendees,
        )
        return self._update_to(
            meeting.external_id,
            meeting.organizer_email,
            changes,
            source=source,
            correlation_id=correlation_id,
            flags=meeting,
        )

    def record_writeback_refused(
        self, refused: dict[str, str], *, source: Source = Source.SALESFORCE
    ) -> None:
        """Remember meetings (external id -> why) whose write-back the source refused, so
        the sync tries it again after a back-off (and `syncd status` shows them)."""
        self._failures.writeback_refused(refused, source)

    def clear_writeback_refused(
        self, external_ids: Sequence[str], *, source: Source = Source.SALESFORCE
    ) -> None:
        """The source now holds these meetings' write-back."""
        self._failures.writeback_settled(external_ids, source)

    def record_invalid(
        self,
        external_id: str,
        reason: str,
        *,
        source: Source = Source.SALESFORCE,
    ) -> None:
        """Mark a source record that cannot be synced as failed, with its reason."""
        self.record_failure(
            external_id,
            SyncdError(ErrorCode.INVALID_REQUEST, reason),
            source,
            side=HistorySide.SALESFORCE,
        )

    def record_failure(
        self,
        external_id: str,
        error: SyncdError,
        source: Source = Source.SALESFORCE,
        *,
        attempted: Meeting | None = None,
        earlier_attempts: int = 0,
        side: HistorySide = HistorySide.LEDGER,
    ) -> None:
        """Remember that syncing a source record failed, so it is retried with back-off
        (syncd.core.failures.Failures.record says how); `side`: where the failure lies."""
        with self._meeting_lock(source, external_id):
            self._failures.record(
                external_id,
                error,
                source,
                attempted=attempted,
                earlier_attempts=earlier_attempts,
                side=side,
            )

    def update(
        self,
        external_id: str,
        organizer_email: str,
        changes: MeetingChanges,
        *,
        source: Source = Source.API,
        correlation_id: str | None = None,
    ) -> Meeting:
        """PATCH only what changed; no change means no Graph call."""
        record = self._update_to(
            external_id, organizer_email, changes, source=source, correlation_id=correlation_id
        )
        return request_to_meeting(
            external_id, record.request, responses=record.responses, join_url=record.join_url
        )

    def _update_to(
        self,
        external_id: str,
        organizer_email: str,
        changes: MeetingChanges,
        *,
        source: Source,
        correlation_id: str | None,
        flags: Meeting | None = None,
    ) -> MeetingRecord:
        """Apply `changes` (and, from Salesforce, the all-day/showAs/private flags);
        returns the ledger row as written."""
        with self._meeting_lock(source, external_id):
            record = self._live_record(source, external_id, organizer_email)
            if record.intent in CREATING:
                look = record.intent == Intent.CREATE
                record = self._outlook.create(record, correlation_id, look_first=look)
            desired = apply_changes(request_to_meeting(external_id, record.request), changes)
            if flags is not None:
                desired = replace(
                    desired,
                    is_all_day=flags.is_all_day,
                    show_as=flags.show_as,
                    is_private=flags.is_private,
                    time_zone=flags.time_zone,
                    recurrence=flags.recurrence,
                )
            self._check_times(desired.start, desired.end)
            content = em.event_content(desired, teams_keyword=self.tenant.policy.teams_keyword)
            patch = em.content_changes(record.sent, content, join_url=record.join_url)
            if not patch:
                failed = record.last_error_code not in (None, WRITEBACK_REFUSED)
                if record.intent or record.status != MeetingStatus.SYNCED or failed:
                    # Outlook already holds this content (e.g. a retried update
                    # whose PATCH had landed, or a retry after an internal error):
                    # only the ledger is behind.
                    record = self.ledger.write(
                        record,
                        request=meeting_to_request(desired),
                        target=content,
                        content_hash=em.content_hash(content),
                        intent=None,
                        status=MeetingStatus.SYNCED.value,
                        last_error_code=None,
                        last_error_message=None,
                        next_attempt_at=None,
                    )
                return record
            record = self.ledger.write(
                record,
                intent=Intent.UPDATE.value,
                request=meeting_to_request(desired),
                target=content,
            )
            return self._outlook.update(record, patch, correlation_id)

    def cancel(
        self,
        external_id: str,
        organizer_email: str,
        *,
        source: Source = Source.API,
        correlation_id: str | None = None,
    ) -> None:
        """Cancel with notice when there are attendees, delete otherwise."""
        with self._meeting_lock(source, external_id):
            record = self._live_record(source, external_id, organizer_email)
            if record.intent == Intent.CREATE and record.graph_event_id is None:
                record = self._outlook.landed(record, correlation_id)
            record = self.ledger.write(record, intent=Intent.CANCEL.value)
            self._outlook.cancel(record, correlation_id)

    def get(
        self,
        external_id: str,
        organizer_email: str | None,
        *,
        source: Source = Source.API,
        correlation_id: str | None = None,
    ) -> Meeting:
        """The meeting as scheduled, with each attendee's current response from Outlook.

        Without an organizer the id alone finds the meeting (ids are unique per
        tenant and source); a given organizer must match.

        A read never writes to Outlook. It runs under the meeting's lock, so it sees
        the ledger as the last write that held the lock left it (never a view a
        DELETE has made stale meanwhile), and a create that did not complete (its
        request failed, or its process died) is not finished here: that is the job
        of the create's own retry, or of the daemon's resume.
        """
        with self._meeting_lock(source, external_id):
            record = self._live_record(source, external_id, organizer_email)
            if record.intent == Intent.CREATE or not record.graph_event_id:
                raise SyncdError(
                    ErrorCode.MEETING_NOT_FOUND,
                    f"meeting '{external_id}' is not in Outlook: the request that scheduled "
                    "it did not complete; send that request again to schedule it",
                )
            try:
                event = self.graph.get_event(
                    record.organizer_email,
                    record.graph_event_id,
                    select=_READ_FIELDS,
                    correlation_id=correlation_id,
                )
            except SyncdError as error:
                if error.code == ErrorCode.MEETING_NOT_FOUND:
                    raise SyncdError(
                        ErrorCode.MEETING_NOT_FOUND,
                        f"meeting '{external_id}' no longer exists in the Outlook calendar of "
                        f"{record.organizer_email} (it was deleted there)",
                    ) from error
                raise
            responses = em.attendee_responses(event)
            join_url = em.join_url_of(event) or record.join_url
            self.ledger.write(
                record, responses=responses, join_url=join_url, change_key=event.get("changeKey")
            )
        return request_to_meeting(
            external_id, record.request, responses=responses, join_url=join_url
        )

    def availability(
        self,
        emails: Sequence[str],
        start: datetime,
        end: datetime,
        *,
        max_graph_requests: int | None = None,
        correlation_id: str | None = None,
    ) -> list[Availability]:
        """Busy slots per address, merged and clipped to [start, end) (syncd.core.availability).

        `max_graph_requests` bounds the Graph requests of this call (the Scheduler API
        passes its tenant's `availability_max_graph_requests`); a call that needs more
        for its first try is refused with INVALID_REQUEST.
        """
        self._check_times(start, end)
        return self._free_busy.availability(
            emails, start, end, max_requests=max_graph_requests, correlation_id=correlation_id
        )

    def store_responses(self, record: MeetingRecord, responses: dict[str, Any]) -> None:
        """Keep the latest attendee responses read from Outlook."""
        self.ledger.write(record, responses=responses)

    def record_of(self, external_id: str, *, source: Source = Source.API) -> MeetingRecord | None:
        """The ledger row of a meeting (read-only use)."""
        return self.ledger.find(source, external_id)

    def records_of(
        self, external_ids: Iterable[str], *, source: Source = Source.API
    ) -> dict[str, MeetingRecord]:
        """The ledger rows of these meetings (read-only use; missing ids are absent)."""
        return self.ledger.rows(source, external_ids)

    def resume(
        self,
        *,
        correlation_id: str | None = None,
        on_failure: Callable[[str, SyncdError], None] | None = None,
        intents: Iterable[MeetingRecord] | None = None,  # a shard's claims; None: all
    ) -> int:
        """Finish intents a crash left unfinished; returns how many were resolved.

        An intent that fails again keeps its recorded failure and back-off and is
        passed to `on_failure(external_id, error)`; the others are still finished.
        """
        resolved = 0
        for record in self.ledger.pending_intents() if intents is None else intents:
            # One intent that fails again (its failure is recorded, with back-off)
            # must not keep the others unfinished.
            try:
                with self._meeting_lock(record.source, record.external_id):
                    fresh = self.ledger.get(record.id)
                    if fresh is None:
                        continue  # dropped meanwhile (a create Graph refused for good)
                    record = fresh
                    if record.intent in CREATING:  # only a CREATE may have been sent
                        look = record.intent == Intent.CREATE
                        self._outlook.create(record, correlation_id, look_first=look)
                    elif record.intent == Intent.UPDATE:
                        patch = em.content_changes(
                            record.sent, record.target, join_url=record.join_url
                        )
                        self._outlook.update(record, patch, correlation_id)
                    elif record.intent == Intent.CANCEL:
                        self._outlook.cancel(record, correlation_id)
                    resolved += 1
            except SyncdError as error:
                log.warning(
                    "could not finish the %s of %s yet: %s (%s)",
                    record.intent,
                    record.external_id,
                    error.message,
                    error.code,
                )
                if on_failure is not None:
                    on_failure(record.external_id, error)
        return resolved

    # ------------------------------------------------------------ validation

    def _check_times(self, start: datetime, end: datetime) -> None:
        check_times(start, end)

    def _check_organizer(self, organizer: str) -> None:
        check_organizer(self.tenant, organizer)

    # ---------------------------------------------------------------- ledger

    @contextmanager
    def _meeting_lock(self, source: Source | str, external_id: str) -> Iterator[None]:
        """Hold the meeting's lock (syncd.ledger.meeting_locks): read the ledger row
        under it, never before, so no Graph write acts on a view another request changed."""
        with self._locks.hold(self.tenant.name, str(source), external_id):
            yield

    def _live_record(
        self, source: Source | str, external_id: str, organizer_email: str | None
    ) -> MeetingRecord:
        record = self.ledger.find(source, external_id)
        if record is None or record.status == MeetingStatus.CANCELLED:
            raise SyncdError(
                ErrorCode.MEETING_NOT_FOUND,
                f"no meeting with id '{external_id}' was scheduled (or it was deleted)",
            )
        if (
            organizer_email is not None
            and record.organizer_email.casefold() != organizer_email.casefold()
        ):
            raise SyncdError(
                ErrorCode.ORGANIZER_MISMATCH,
                f"meeting '{external_id}' is organized by another user; the organizer "
                "cannot change: delete the meeting and schedule it again",
            )
        return record
