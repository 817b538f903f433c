"""The sync's one Salesforce writer: sObject Collections updates with per-record results,
the Events' sync status after a page, and the response records held until a full
Collection (200) is ready.

A record Salesforce refuses is reported and the rest still land. A meeting that is right
in Outlook but whose Event write-back was refused is kept due for another try through
the core (its Event is otherwise not read again until it changes).
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

from syncd.config import EventFieldMapping
from syncd.core.scheduler import Scheduler
from syncd.domain import SyncdError, WritebackStatus
from syncd.ledger.models import MeetingRecord
from syncd.salesforce.port import SalesforceWriter as SalesforceWritePort
from syncd.sync.reader import PAGE
from syncd.sync.writeback import Outcome, event_update, has_fields

log = logging.getLogger(__name__)

#: Refused records: (record id, why).
Refusals = list[tuple[str, str]]


class SalesforceWriter:
    """Writes records to Salesforce for one tenant's sync."""

    def __init__(
        self,
        salesforce: SalesforceWritePort,
        core: Scheduler,
        fields: EventFieldMapping,
        clock: Callable[[], datetime],
    ) -> None:
        self.salesforce = salesforce
        self.core = core
        self.fields = fields
        self.clock = clock

    def send(self, sobject: str, records: Sequence[dict[str, Any]]) -> Refusals:
        """Write records; a record Salesforce refuses is reported, the rest still land."""
        if not records:
            return []
        try:
            results = self.salesforce.update_records(sobject, records)
        except SyncdError as error:
            log.error(
                "write-back of %d %s records failed: %s", len(records), sobject, error.message
            )
            return [(str(r["id"]), error.message) for r in records]
        errors = []
        for record, result in zip(records, results, strict=True):
            if not result.success:
                message = "; ".join(result.errors) or "refused"
                log.warning("write-back of %s %s refused: %s", sobject, record["id"], message)
                errors.append((str(record["id"]), message))
        return errors

    def events(self, outcomes: Sequence[Outcome]) -> Refusals:
        """Write the outcomes to their Events (nothing more)."""
        now = self.clock()
        records = [event_update(o, self.fields, now) for o in outcomes]
        return self.send("Event", [r for r in records if has_fields(r)])

    def outcomes(self, outcomes: Sequence[Outcome], again: Sequence[Outcome]) -> Refusals:
        """Write the outcomes of a page, and `again` (earlier outcomes Salesforce does not
        have), to their Events. A meeting that is right in Outlook but whose record
        Salesforce refused is kept due for another try, and cleared once written again.
        A failure's record needs no such care: the failure is retried and written back."""
        errors = self.events([*outcomes, *again])
        refused = dict(errors)
        synced = WritebackStatus.SYNCED
        self.core.record_writeback_refused(
            {
                o.salesforce_id: refused[o.salesforce_id]
                for o in [*outcomes, *again]
                if o.status == synced and o.salesforce_id in refused
            }
        )
        self.core.clear_writeback_refused(
            [
                o.salesforce_id
                for o in again
                if o.status == synced and o.salesforce_id not in refused
            ]
        )
        return errors


class WriteBacklog:
    """Write-back records held until a full sObject Collection (200) is ready.

    Each record belongs to a meeting whose new responses are stored in the ledger only
    once every record of it is written: a pass stopped or killed before that, or a
    record Salesforce refused, leaves the ledger behind Outlook, so the next refresh
    finds the change again and writes it (stored first, it was lost for good).
    """

    def __init__(self, writer: SalesforceWriter, errors: Refusals) -> None:
        self._writer = writer
        self._errors = errors
        self._waiting: dict[str, list[tuple[str, dict[str, Any]]]] = defaultdict(list)
        #: meeting id -> (ledger row, responses to store, records not yet written)
        self._meetings: dict[str, tuple[MeetingRecord, dict[str, Any], int]] = {}
        self._refused: set[str] = set()

    def expect(self, record: MeetingRecord, responses: dict[str, Any], count: int) -> None:
        """`count` records of this meeting follow; store `responses` once they are written."""
        if count:
            self._meetings[record.external_id] = (record, responses, count)
        else:
            self._writer.core.store_responses(record, responses)

    def add(self, sobject: str, records: Sequence[tuple[str, dict[str, Any]]]) -> None:
        """(meeting id, record) pairs; the meeting was announced with `expect` first."""
        waiting = self._waiting[sobject]
        waiting.extend(records)
        while len(waiting) >= PAGE:
            self._send(sobject, waiting[:PAGE])
            del waiting[:PAGE]

    def refused(self) -> set[str]:
        """The meetings a record of which Salesforce refused (their answers not stored)."""
        return set(self._refused)

    def flush(self) -> None:
        for sobject, waiting in self._waiting.items():
            if waiting:
                self._send(sobject, waiting)
        self._waiting.clear()

    def _send(self, sobject: str, items: Sequence[tuple[str, dict[str, Any]]]) -> None:
        errors = self._writer.send(sobject, [record for _, record in items])
        self._errors.extend(errors)
        refused = {record_id for record_id, _ in errors}
        for meeting_id, record in items:
            if str(record["id"]) in refused:
                self._refused.add(meeting_id)
            row, responses, left = self._meetings[meeting_id]
            if left > 1:
                self._meetings[meeting_id] = (row, responses, left - 1)
                continue
            del self._meetings[meeting_id]
            if meeting_id not in self._refused:
                self._writer.core.store_responses(row, responses)
