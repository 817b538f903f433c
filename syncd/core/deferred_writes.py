"""Claims without the Outlook write: the stand-in for OutlookWrites in a scheduler
that only claims (Scheduler.claiming).

The core commits every intent to the ledger before its Graph call. A claiming
scheduler stops right there: the row keeps its intent (create, update or cancel,
with the content to send), and the holder of the organizer's mailbox shard finishes
it later through Scheduler.resume, the same path that finishes what a crash left
half done. So a replica that does not hold a mailbox's shard never writes to that
mailbox, and no write path is added.
"""

from __future__ import annotations

from typing import Any

from syncd.ledger.models import MeetingRecord


class DeferredWrites:
    """OutlookWrites' create / update / cancel, each leaving the intent for its resume."""

    def create(
        self, record: MeetingRecord, correlation_id: str | None, *, look_first: bool = False
    ) -> MeetingRecord:
        return record

    def update(
        self, record: MeetingRecord, patch: dict[str, Any], correlation_id: str | None
    ) -> MeetingRecord:
        return record

    def cancel(self, record: MeetingRecord, correlation_id: str | None) -> None:
        return None

    def landed(self, record: MeetingRecord, correlation_id: str | None) -> MeetingRecord:
        # Only a row with an unfinished create reaches this, and a claiming scheduler is
        # never given one (syncd.sync.sharded_executor runs those at once).
        raise AssertionError(f"a claim cannot look {record.external_id} up in Outlook")
