"""The scheduler core: schedule, update, cancel, get, availability.

Both faces (the Scheduler API and the sync daemon) go through this class; it is
the only code that writes meetings to the ledger or to Graph.

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
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

from sqlalchemy import Engine, bindparam
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, select

from syncd.config import TenantConfig
from syncd.core import event_mapping as em
from syncd.core.availability import FreeBusy, SchedulePort
from syncd.core.mailbox_memory import MailboxMemory
from syncd.core.records import apply_changes, meeting_to_request, request_to_meeting
from syncd.domain import (
    Availability,
    ErrorCode,
    Meeting,
    MeetingChanges,
    MeetingStatus,
    Source,
    SyncdError,
    utc,
)
from syncd.ledger.db import session_scope
from syncd.ledger.meeting_locks import MeetingLocks, meeting_locks_for
from syncd.ledger.models import MeetingRecord, Tombstone

log = logging.getLogger(__name__)

#: Fields read back from Graph for GET (responses and the join link).
_READ_FIELDS = ("attendees", "onlineMeeting", "changeKey", "isCancelled")


class GraphPort(SchedulePort, Protocol):
    """What the core needs from the Graph client (syncd.graph.client.GraphClient)."""

    def create_event(
        self, mailbox: str, payload: dict, *, correlation_id: str | None = None
    ) -> dict: ...

    def find_event_by_property(
        self, mailbox: str, property_id: str, value: str, *, correlation_id: str | None = None
    ) -> dict | None: ...

    def get_event(
        self,
        mailbox: str,
        event_id: str,
        *,
        select: Sequence[str] | None = None,
        correlation_id: str | None = None,
    ) -> dict: ...

    def update_event(
        self, mailbox: str, event_id: str, changes: dict, *, correlation_id: str | None = None
    ) -> dict: ...

    def cancel_event(
        self, mailbox: str, event_id: str, comment: str, *, correlation_id: str | None = None
    ) -> None: ...

    def delete_event(
        self, mailbox: str, event_id: str, *, correlation_id: str | None = None
    ) -> None: ...


def _now() -> datetime:
    return datetime.now(UTC)


def retry_delay(attempts: int) -> timedelta:
    """Back-off before the next attempt at a failed record: 1 min doubling to 6 h."""
    return min(timedelta(minutes=1) * (2 ** max(0, attempts - 1)), timedelta(hours=6))


#: `last_error_code` of a meeting that is right in Outlook but whose write-back the
#: source refused: it stays synced, and is retried with back-off like a failure.
WRITEBACK_REFUSED = "WritebackRefused"


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
        ttl = timedelta(seconds=tenant.policy.missing_mailbox_ttl_seconds)
        self._free_busy = FreeBusy(
            tenant, graph, MailboxMemory(ttl, clock), organizer=self._a_recent_organizer
        )
        self._find_statement = (
            select(MeetingRecord)
            .where(
                MeetingRecord.tenant == bindparam("tenant"),
                MeetingRecord.source == bindparam("source"),
                MeetingRecord.external_id == bindparam("external_id"),
            )
            .limit(1)
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
            record, retry = self._claim_create(meeting, request, source)
            if record.intent == "create":
                record = self._run_create(record, correlation_id, look_first=retry)
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
            with Session(self.engine, expire_on_commit=False) as session:
                record = self._find(session, source, meeting.external_id)
            moved = (
                record is not None
                and record.graph_event_id is not None
                and record.status != MeetingStatus.CANCELLED
                and record.organizer_email.casefold() != meeting.organizer_email.casefold()
            )
            if moved:
                assert record is not None
                self._run_cancel(self._write(record, intent="cancel"), correlation_id)
            if (
                record is None
                or moved
                or record.graph_event_id is None
                or (record.status == MeetingStatus.CANCELLED)
            ):
                record, retry = self._claim_create(meeting, request, source, replace=True)
                if record.intent == "create":
                    record = self._run_create(record, correlation_id, look_first=retry or recover)
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
        now = self.clock()
        with session_scope(self.engine) as session:
            for external_id, message in refused.items():
                record = self._find(session, source, external_id)
                if record is None or record.last_error_code not in (None, WRITEBACK_REFUSED):
                    continue  # a real failure is retried (and written back) anyway
                again = record.last_error_code == WRITEBACK_REFUSED
                record.last_error_code = WRITEBACK_REFUSED
                record.last_error_message = f"the write-back was refused: {message}"[:2000]
                record.attempts = record.attempts + 1 if again else 1
                record.next_attempt_at = now + retry_delay(record.attempts)
                record.updated_at = now
                session.add(record)

    def clear_writeback_refused(
        self, external_ids: Sequence[str], *, source: Source = Source.SALESFORCE
    ) -> None:
        """The source now holds these meetings' write-back."""
        with session_scope(self.engine) as session:
            for external_id in external_ids:
                record = self._find(session, source, external_id)
                if record is None or record.last_error_code != WRITEBACK_REFUSED:
                    continue
                record.last_error_code = record.last_error_message = None
                record.attempts, record.next_attempt_at = 0, None
                record.updated_at = self.clock()
                session.add(record)

    def record_invalid(
        self,
        external_id: str,
        reason: str,
        *,
        source: Source = Source.SALESFORCE,
    ) -> None:
        """Mark a source record that cannot be synced as failed, with its reason."""
        self.record_failure(external_id, SyncdError(ErrorCode.INVALID_REQUEST, reason), source)

    def record_failure(
        self,
        external_id: str,
        error: SyncdError,
        source: Source = Source.SALESFORCE,
        *,
        attempted: Meeting | None = None,
        earlier_attempts: int = 0,
    ) -> None:
        """Remember that syncing a source record failed, so it is retried with back-off.

        A meeting already in Outlook stays as it was (its status is kept); a
        record that never reached Outlook is marked failed. `attempted` is the
        meeting that could not be made: its content hash is kept on a record that
        never reached Outlook, so the planner can tell "unchanged since the failed
        attempt" (wait for the back-off) from "changed" (try now). Without it such
        a record looked changed on every poll and Graph was asked again each time.
        `earlier_attempts` is how many times the caller saw the record fail before
        this attempt: re-claiming a create restarts the row's count and a create that
        Graph refused for good drops the row, so without it every retry would wait
        the first back-off (1 minute) again instead of a growing one.
        """
        now = self.clock()
        with self._meeting_lock(source, external_id), session_scope(self.engine) as session:
            record = self._find(session, source, external_id)
            if record is None:
                record = MeetingRecord(
                    tenant=self.tenant.name,
                    source=str(source),
                    external_id=external_id,
                    organizer_email="",
                    transaction_id="",
                    status=MeetingStatus.FAILED.value,
                    created_at=now,
                    updated_at=now,
                )
            if record.graph_event_id is None and attempted is not None:
                content = em.event_content(
                    attempted, teams_keyword=self.tenant.policy.teams_keyword
                )
                record.content_hash = em.content_hash(content)
                record.organizer_email = attempted.organizer_email
            if record.status == MeetingStatus.CANCELLED or record.graph_event_id is None:
                record.status = MeetingStatus.FAILED.value
            record.last_error_code = error.code.value
            record.last_error_message = error.message[:2000]
            record.attempts = max(record.attempts, earlier_attempts) + 1
            delay = retry_delay(record.attempts)
            if error.retry_after:
                delay = max(delay, timedelta(seconds=error.retry_after))
            record.next_attempt_at = now + delay
            record.updated_at = now
            session.add(record)

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
            if record.intent == "create":
                record = self._run_create(record, correlation_id, look_first=True)
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
                    record = self._write(
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
            record = self._write(
                record,
                intent="update",
                request=meeting_to_request(desired),
                target=content,
            )
            return self._run_update(record, patch, correlation_id)

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
            if record.intent == "create" and record.graph_event_id is None:
                record = self._landed(record, correlation_id)
            record = self._write(record, intent="cancel")
            self._run_cancel(record, correlation_id)

    def _landed(self, record: MeetingRecord, correlation_id: str | None) -> MeetingRecord:
        """A create that failed as far as the ledger knows may still have reached Outlook
        (its answer was lost): look for the event stamped with the meeting's key, so that
        cancelling the meeting cancels that event too instead of leaving it behind."""
        key = em.external_key(self.tenant.name, record.source, record.external_id)
        try:
            event = self.graph.find_event_by_property(
                record.organizer_email,
                em.EXTERNAL_KEY_PROPERTY_ID,
                key,
                correlation_id=correlation_id,
            )
        except SyncdError as error:
            if error.code == ErrorCode.MAILBOX_NOT_FOUND:
                return record  # no mailbox: nothing was created
            raise
        if event is None or event.get("isCancelled"):
            return record
        return self._write(record, graph_event_id=event["id"], change_key=event.get("changeKey"))

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
            if record.intent == "create" or not record.graph_event_id:
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
            self._write(
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

    def _a_recent_organizer(self) -> str | None:
        """The organizer of the meeting synced last: a mailbox Outlook had lately."""
        with Session(self.engine) as session:
            return session.exec(
                select(MeetingRecord.organizer_email)
                .where(
                    MeetingRecord.tenant == self.tenant.name,
                    MeetingRecord.status == MeetingStatus.SYNCED.value,
                )
                .order_by(MeetingRecord.updated_at.desc())  # type: ignore[attr-defined]
                .limit(1)
            ).first()

    def store_responses(self, record: MeetingRecord, responses: dict[str, Any]) -> None:
        """Keep the latest attendee responses read from Outlook."""
        self._write(record, responses=responses)

    def record_of(self, external_id: str, *, source: Source = Source.API) -> MeetingRecord | None:
        """The ledger row of a meeting (read-only use)."""
        with Session(self.engine, expire_on_commit=False) as session:
            return self._find(session, source, external_id)

    def resume(
        self,
        *,
        correlation_id: str | None = None,
        on_failure: Callable[[str, SyncdError], None] | None = None,
    ) -> int:
        """Finish intents a crash left unfinished; returns how many were resolved.

        An intent that fails again keeps its recorded failure and back-off and is
        passed to `on_failure(external_id, error)`; the others are still finished.
        """
        with Session(self.engine) as session:
            pending = session.exec(
                select(MeetingRecord).where(
                    MeetingRecord.tenant == self.tenant.name,
                    MeetingRecord.intent.is_not(None),  # type: ignore[union-attr]
                )
            ).all()
        resolved = 0
        for record in pending:
            # One intent that fails again (its failure is recorded, with back-off)
            # must not keep the others unfinished.
            try:
                with self._meeting_lock(record.source, record.external_id):
                    with Session(self.engine, expire_on_commit=False) as session:
                        fresh = session.get(MeetingRecord, record.id)
                    if fresh is None:
                        continue  # dropped meanwhile (a create Graph refused for good)
                    record = fresh
                    if record.intent == "create":
                        self._run_create(record, correlation_id, look_first=True)
                    elif record.intent == "update":
                        patch = em.content_changes(
                            record.sent, record.target, join_url=record.join_url
                        )
                        self._run_update(record, patch, correlation_id)
                    elif record.intent == "cancel":
                        self._run_cancel(record, correlation_id)
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
        if utc(end) <= utc(start):
            raise SyncdError(
                ErrorCode.INVALID_REQUEST,
                "endTime must be after startTime",
            )

    def _check_organizer(self, organizer: str) -> None:
        if not self.tenant.is_in_org(organizer):
            raise SyncdError(
                ErrorCode.ORGANIZER_NOT_FOUND,
                f"organizer {organizer} is not in this tenant's mail domains "
                f"({', '.join(self.tenant.mail_domains)}); only in-org users can organize",
            )

    # ---------------------------------------------------------------- ledger

    @contextmanager
    def _meeting_lock(self, source: Source | str, external_id: str) -> Iterator[None]:
        """Hold the meeting's lock (syncd.ledger.meeting_locks): read the ledger row
        under it, never before, so no Graph write acts on a view another request changed."""
        with self._locks.hold(self.tenant.name, str(source), external_id):
            yield

    def _find(
        self, session: Session, source: Source | str, external_id: str
    ) -> MeetingRecord | None:
        # One statement built once: building and caching it anew for every lookup
        # cost more CPU than running it.
        params = {"tenant": self.tenant.name, "source": str(source), "external_id": external_id}
        return session.exec(self._find_statement, params=params).first()

    def _live_record(
        self, source: Source | str, external_id: str, organizer_email: str | None
    ) -> MeetingRecord:
        with Session(self.engine, expire_on_commit=False) as session:
            record = self._find(session, source, external_id)
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

    def _claim_create(
        self, meeting: Meeting, request: dict[str, Any], source: Source, *, replace: bool = False
    ) -> tuple[MeetingRecord, bool]:
        """Record the intent to create, or return the existing meeting (idempotency).

        Also says whether a create of this generation may already have reached Graph
        (an earlier attempt was claimed and never completed): then `_run_create` looks
        for the stamped event before it POSTs.
        """
        now = self.clock()
        content = em.event_content(meeting, teams_keyword=self.tenant.policy.teams_keyword)
        for _ in range(2):
            with session_scope(self.engine) as session:
                record = self._find(session, source, meeting.external_id)
                unsent = record is not None and record.graph_event_id is None
                if (
                    record is not None
                    and record.status != MeetingStatus.CANCELLED
                    and not (replace and (unsent or record.status == MeetingStatus.FAILED))
                ):
                    if record.request == request:
                        return record, record.intent == "create"
                    if record.organizer_email.casefold() != meeting.organizer_email.casefold():
                        raise SyncdError(
                            ErrorCode.MEETING_ALREADY_EXISTS,
                            f"meeting '{meeting.external_id}' already exists for another "
                            "organizer; use another id or delete it first",
                        )
                    raise SyncdError(
                        ErrorCode.MEETING_ALREADY_EXISTS,
                        f"meeting '{meeting.external_id}' already exists with other "
                        "content; use PATCH to change it or another id",
                    )
                # Nothing may have reached Graph yet: keep the generation (and so
                # the transactionId) so a create that did land is deduplicated.
                retry = False
                if record is None:
                    generation = 0
                elif record.graph_event_id is None and record.status != MeetingStatus.CANCELLED:
                    generation = record.generation
                    retry = bool(record.transaction_id)  # a create was claimed before
                else:
                    generation = record.generation + 1
                fields = {
                    "organizer_email": meeting.organizer_email,
                    "generation": generation,
                    "transaction_id": em.transaction_id(
                        self.tenant.name, source, meeting.external_id, generation
                    ),
                    "graph_event_id": None,
                    "change_key": None,
                    "request": request,
                    "target": content,
                    "sent": {},
                    "content_hash": em.content_hash(content),
                    "responses": {},
                    "join_url": None,
                    "intent": "create",
                    "status": MeetingStatus.PENDING.value,
                    "last_error_code": None,
                    "last_error_message": None,
                    "attempts": 0,
                    "next_attempt_at": None,
                    "updated_at": now,
                }
                if record is None:
                    record = MeetingRecord(
                        tenant=self.tenant.name,
                        source=str(source),
                        external_id=meeting.external_id,
                        created_at=now,
                        **fields,
                    )
                else:
                    for name, value in fields.items():
                        setattr(record, name, value)
                session.add(record)
                try:
                    session.flush()
                except IntegrityError:
                    # Another request claimed the same id at the same moment.
                    session.rollback()
                    continue
                return record, retry
        raise SyncdError(
            ErrorCode.MEETING_ALREADY_EXISTS,
            f"meeting '{meeting.external_id}' is being scheduled by another request",
        )

    def _write(self, record: MeetingRecord, **fields: Any) -> MeetingRecord:
        with session_scope(self.engine) as session:
            fresh = session.get(MeetingRecord, record.id)
            assert fresh is not None
            for name, value in fields.items():
                setattr(fresh, name, value)
            fresh.updated_at = self.clock()
            session.add(fresh)
        return fresh

    def _fail(self, record: MeetingRecord, error: SyncdError, **fields: Any) -> None:
        attempts = record.attempts + 1
        delay = retry_delay(attempts)
        if error.retry_after:
            delay = max(delay, timedelta(seconds=error.retry_after))
        self._write(
            record,
            status=MeetingStatus.FAILED.value if not error.retryable else record.status,
            last_error_code=error.code.value,
            last_error_message=error.message[:2000],
            attempts=attempts,
            next_attempt_at=self.clock() + delay,
            **fields,
        )

    # ----------------------------------------------------------------- graph

    def _run_create(
        self, record: MeetingRecord, correlation_id: str | None, *, look_first: bool = False
    ) -> MeetingRecord:
        """POST the event, or with `look_first` adopt the one an earlier attempt made.

        `look_first` is for creates that may already have reached Graph: a retry of a
        claimed create (a crash, a timeout, a client retrying) or a meeting the source
        says exists though the ledger does not know it (the ledger was lost). The
        deterministic transactionId alone does not cover these: Graph deduplicates a
        POST by it only for a while (https://learn.microsoft.com/en-us/graph/api/resources/event,
        transactionId "avoid redundant POST operations in case of client retries"), and a
        deduplicated POST answers with the event as it was first created. So the event
        stamped with the meeting's external key is looked up first
        (https://learn.microsoft.com/en-us/graph/api/singlevaluelegacyextendedproperty-get)
        and, when found, made to match instead of created again.
        """
        key = em.external_key(self.tenant.name, record.source, record.external_id)
        content = record.target
        payload = em.create_payload(content, transaction=record.transaction_id, key=key)
        existing: dict[str, Any] | None = None
        try:
            if look_first:
                existing = self.graph.find_event_by_property(
                    record.organizer_email,
                    em.EXTERNAL_KEY_PROPERTY_ID,
                    key,
                    correlation_id=correlation_id,
                )
                if existing is not None and existing.get("isCancelled"):
                    existing = None  # a cancelled copy is no meeting to adopt
            if existing is None:
                event = self.graph.create_event(
                    record.organizer_email, payload, correlation_id=correlation_id
                )
        except SyncdError as error:
            if error.code == ErrorCode.MAILBOX_NOT_FOUND:
                self._forget(record)
                raise SyncdError(
                    ErrorCode.ORGANIZER_NOT_FOUND,
                    f"organizer {record.organizer_email} has no mailbox in this tenant: "
                    f"{error.message}",
                ) from error
            self._fail(record, error)
            raise
        if existing is not None:
            return self._adopt(record, existing, correlation_id)
        # DEBUG: the caller logs the create (the sync with its reason, the API its request).
        log.debug("created meeting %s for %s", record.external_id, record.organizer_email)
        return self._write(
            record,
            graph_event_id=event["id"],
            change_key=event.get("changeKey"),
            join_url=em.join_url_of(event),
            sent=content,
            content_hash=em.content_hash(content),
            # What Salesforce has been told: nobody has answered a new meeting yet (a
            # deduplicated POST may show answers given since; the refresh writes them).
            responses=em.unanswered(event),
            intent=None,
            status=MeetingStatus.SYNCED.value,
            last_error_code=None,
            last_error_message=None,
        )

    def _adopt(
        self, record: MeetingRecord, event: dict[str, Any], correlation_id: str | None
    ) -> MeetingRecord:
        """Take over `event`, the meeting an earlier attempt created, and PATCH only the
        fields in which it differs from what the ledger wants now."""
        log.info(
            "meeting %s is already in the calendar of %s (event %s, found by its syncd key): "
            "taking it over, not creating it again",
            record.external_id,
            record.organizer_email,
            event.get("id"),
        )
        sent = em.observed_content(event, record.target)
        record = self._write(
            record,
            graph_event_id=event["id"],
            change_key=event.get("changeKey"),
            join_url=em.join_url_of(event),
            sent=sent,
            responses=em.unanswered(event),
            intent="update",
        )
        patch = em.content_changes(sent, record.target, join_url=record.join_url)
        return self._run_update(record, patch, correlation_id)

    def _run_update(
        self, record: MeetingRecord, patch: dict[str, Any], correlation_id: str | None
    ) -> MeetingRecord:
        content = record.target
        assert record.graph_event_id
        if patch:
            try:
                event = self.graph.update_event(
                    record.organizer_email,
                    record.graph_event_id,
                    patch,
                    correlation_id=correlation_id,
                )
            except SyncdError as error:
                self._fail(record, error)
                raise
        else:
            event = {}
        # The PATCH answer is the event as Outlook now has it: its onlineMeeting (null
        # once a meeting is no longer online) is the link to keep and write back.
        join_url = em.join_url_of(event) if "onlineMeeting" in event else record.join_url
        return self._write(
            record,
            sent=em.online_kept(record.sent, content),  # Teams stays on once on
            content_hash=em.content_hash(content),
            change_key=event.get("changeKey", record.change_key),
            join_url=join_url,
            intent=None,
            status=MeetingStatus.SYNCED.value,
            last_error_code=None,
            last_error_message=None,
        )

    def _run_cancel(self, record: MeetingRecord, correlation_id: str | None) -> None:
        if record.graph_event_id:
            try:
                if (
                    record.request.get("attendees")
                    or not self.tenant.policy.delete_without_attendees
                ):
                    self.graph.cancel_event(
                        record.organizer_email,
                        record.graph_event_id,
                        self.tenant.policy.cancel_comment,
                        correlation_id=correlation_id,
                    )
                else:
                    self.graph.delete_event(
                        record.organizer_email,
                        record.graph_event_id,
                        correlation_id=correlation_id,
                    )
            except SyncdError as error:
                # Already gone in Outlook: the goal of a cancel is reached.
                if error.code != ErrorCode.MEETING_NOT_FOUND:
                    self._fail(record, error)
                    raise
        now = self.clock()
        with session_scope(self.engine) as session:
            fresh = session.get(MeetingRecord, record.id)
            assert fresh is not None
            fresh.intent = None
            fresh.status = MeetingStatus.CANCELLED.value
            fresh.updated_at = now
            session.add(fresh)
            tombstone = session.get(
                Tombstone, (self.tenant.name, record.source, record.external_id)
            ) or Tombstone(
                tenant=self.tenant.name,
                source=record.source,
                external_id=record.external_id,
                deleted_at=now,
            )
            tombstone.generation = record.generation
            tombstone.deleted_at = now
            session.add(tombstone)

    def _forget(self, record: MeetingRecord) -> None:
        """Drop a create intent that Graph refused for good (nothing was created)."""
        with session_scope(self.engine) as session:
            fresh = session.get(MeetingRecord, record.id)
            if fresh is None:
                return
            if fresh.generation == 0:
                session.delete(fresh)
            else:
                fresh.intent = None
                fresh.status = MeetingStatus.CANCELLED.value
                session.add(fresh)
