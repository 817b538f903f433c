"""The core's Graph writes: create (or adopt), PATCH, cancel or delete one meeting, each
completed in the ledger with its history entry.

Exactly once: the caller has committed the intent to the ledger before these run; each
completes (or records the failure of) that intent after the Graph call.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from syncd.config import TenantConfig
from syncd.core import event_mapping as em
from syncd.core import notes
from syncd.domain import ErrorCode, HistoryAction, Intent, MeetingStatus, SyncdError
from syncd.graph.port import GraphPort
from syncd.ledger.models import MeetingRecord
from syncd.ledger.repository import MeetingRepository, Note

log = logging.getLogger(__name__)


def retry_delay(attempts: int) -> timedelta:
    """Back-off before the next attempt at a failed record: 1 min doubling to 6 h."""
    return min(timedelta(minutes=1) * (2 ** max(0, attempts - 1)), timedelta(hours=6))


def failure_delay(attempts: int, error: SyncdError) -> timedelta:
    """The back-off, or longer when Graph said how long to wait (Retry-After)."""
    delay = retry_delay(attempts)
    if error.retry_after:
        delay = max(delay, timedelta(seconds=error.retry_after))
    return delay


def creation(
    record: MeetingRecord,
    event: dict[str, Any],
    correlation_id: str | None,
    *,
    content_hash: str | None = None,
) -> tuple[dict[str, Any], Note]:
    """The ledger fields and the history entry that complete `record`'s create, `event`
    being Graph's answer to its POST. `content_hash`: the hash of `record.target` when
    the caller knows it (a claim just computed it), else it is computed here."""
    content = record.target
    note = notes.outlook(
        HistoryAction.CREATED,
        f"created in the calendar of {record.organizer_email}",
        correlation_id,
        {"graph_event_id": [None, event["id"]]},
    )
    fields = {
        "graph_event_id": event["id"],
        "change_key": event.get("changeKey"),
        "join_url": em.join_url_of(event),
        "sent": content,
        "content_hash": content_hash or em.content_hash(content),
        # What Salesforce has been told: nobody has answered a new meeting yet (a
        # deduplicated POST may show answers given since; the refresh writes them).
        "responses": em.unanswered(event),
        "intent": None,
        "status": MeetingStatus.SYNCED.value,
        "last_error_code": None,
        "last_error_message": None,
    }
    return fields, note


class OutlookWrites:
    """Graph writes of one tenant, each completed in the ledger."""

    def __init__(
        self,
        tenant: TenantConfig,
        graph: GraphPort,
        ledger: MeetingRepository,
        clock: Callable[[], datetime],
    ) -> None:
        self.tenant = tenant
        self.graph = graph
        self.ledger = ledger
        self.clock = clock

    def fail(
        self,
        record: MeetingRecord,
        error: SyncdError,
        correlation_id: str | None = None,
        **fields: Any,
    ) -> None:
        """Record that Graph refused the operation on `record`, retried with back-off."""
        attempts = record.attempts + 1
        self.ledger.write(
            record,
            notes.failed(error, record.last_error_code, correlation_id=correlation_id),
            status=MeetingStatus.FAILED.value if not error.retryable else record.status,
            last_error_code=error.code.value,
            last_error_message=error.message[:2000],
            attempts=attempts,
            next_attempt_at=self.clock() + failure_delay(attempts, error),
            **fields,
        )

    def create(
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
        and, when found, made to match instead of created again. A queued create
        (Intent.QUEUED) was never sent: it becomes a CREATE before it is.
        """
        if record.intent == Intent.QUEUED:
            # Committed before the POST: from here on a crash leaves a CREATE, which
            # is looked up before it is sent again.
            record = self.ledger.write(record, intent=Intent.CREATE.value)
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
            refusal = self.refused(record, error, correlation_id)
            if refusal is error:
                raise
            raise refusal from error
        if existing is not None:
            return self.adopt(record, existing, correlation_id)
        log.debug("created meeting %s for %s", record.external_id, record.organizer_email)
        fields, note = creation(record, event, correlation_id)
        return self.ledger.write(record, note, **fields)

    def refused(
        self, record: MeetingRecord, error: SyncdError, correlation_id: str | None
    ) -> SyncdError:
        """Record that Graph refused to create `record`; returns the error to report.

        No mailbox: nothing can be created for this organizer, so the claim is dropped
        (the source's next edit claims it afresh). Any other refusal is a failure,
        retried with back-off; the claim stays, so the retry looks for the event first.
        """
        if error.code == ErrorCode.MAILBOX_NOT_FOUND:
            self.ledger.forget(record, notes.failed(error, None, correlation_id=correlation_id))
            missing = SyncdError(
                ErrorCode.ORGANIZER_NOT_FOUND,
                f"organizer {record.organizer_email} has no mailbox in this tenant: "
                f"{error.message}",
            )
            missing.graph_request_id = error.graph_request_id
            return missing
        self.fail(record, error, correlation_id)
        return error

    def adopt(
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
        note = notes.outlook(
            HistoryAction.ADOPTED,
            "already in Outlook (found by its syncd key): taken over, not created again",
            correlation_id,
            {"graph_event_id": [record.graph_event_id, event["id"]]},
        )
        record = self.ledger.write(
            record,
            note,
            graph_event_id=event["id"],
            change_key=event.get("changeKey"),
            join_url=em.join_url_of(event),
            sent=sent,
            responses=em.unanswered(event),
            intent=Intent.UPDATE.value,
        )
        patch = em.content_changes(sent, record.target, join_url=record.join_url)
        return self.update(record, patch, correlation_id)

    def update(
        self, record: MeetingRecord, patch: dict[str, Any], correlation_id: str | None
    ) -> MeetingRecord:
        """PATCH `patch` (nothing when empty) and complete the row's update intent."""
        content = record.target
        assert record.graph_event_id
        note = None
        if patch:
            try:
                event = self.graph.update_event(
                    record.organizer_email,
                    record.graph_event_id,
                    patch,
                    correlation_id=correlation_id,
                )
            except SyncdError as error:
                self.fail(record, error, correlation_id)
                raise
            note = notes.outlook(
                HistoryAction.UPDATED,
                "changed in Outlook",
                correlation_id,
                notes.changes(record.sent, patch),
            )
        else:
            event = {}
        # The PATCH answer is the event as Outlook now has it: its onlineMeeting (null
        # once a meeting is no longer online) is the link to keep and write back.
        join_url = em.join_url_of(event) if "onlineMeeting" in event else record.join_url
        return self.ledger.write(
            record,
            note,
            sent=em.online_kept(record.sent, content),  # Teams stays on once on
            content_hash=em.content_hash(content),
            change_key=event.get("changeKey", record.change_key),
            join_url=join_url,
            intent=None,
            status=MeetingStatus.SYNCED.value,
            last_error_code=None,
            last_error_message=None,
        )

    def cancel(self, record: MeetingRecord, correlation_id: str | None) -> None:
        """Cancel with notice (attendees, or the tenant's policy) or delete; then close
        the row and leave a tombstone. Already gone in Outlook counts as done."""
        note = None
        if record.graph_event_id:
            notice = bool(record.request.get("attendees")) or (
                not self.tenant.policy.delete_without_attendees
            )
            try:
                if notice:
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
                    self.fail(record, error, correlation_id)
                    raise
            action = HistoryAction.CANCELLED if notice else HistoryAction.DELETED
            reason = "cancelled in Outlook, attendees told" if notice else "deleted in Outlook"
            note = notes.outlook(
                action, reason, correlation_id, {"status": [record.status, "cancelled"]}
            )
        self.ledger.close(record, note)

    def landed(self, record: MeetingRecord, correlation_id: str | None) -> MeetingRecord:
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
        return self.ledger.write(
            record, graph_event_id=event["id"], change_key=event.get("changeKey")
        )
