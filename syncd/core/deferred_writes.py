"""Claims without the Outlook write: the stand-in for OutlookWrites in a scheduler
that only claims.

The core commits every intent to the ledger before its Graph call. A claiming
scheduler (`claiming`) stops right there: the row keeps its intent (create, update
or cancel, with the content to send), and the holder of the organizer's mailbox
shard finishes it later through Scheduler.resume, the same path that finishes what
a crash left half done. A create is claimed as Intent.QUEUED: no Graph call has
touched it, so it is sent without the lookup a crashed create needs (whoever sends it
turns it into a CREATE first, in the ledger). So a replica that does not hold a
mailbox's shard never writes to that mailbox, and no write path is added.
"""

from __future__ import annotations

import copy
from typing import TYPE_CHECKING, Any

from syncd.ledger.models import MeetingRecord

if TYPE_CHECKING:
    from syncd.core.scheduler import Scheduler


def claiming(scheduler: Scheduler) -> Scheduler:
    """A copy of `scheduler` whose create / update / cancel stop once the intent is in the
    ledger: the same decisions, the same ledger writes, no Graph write."""
    claims = copy.copy(scheduler)
    # Its creates are claimed as QUEUED: their drain then knows no Graph call has
    # touched them and sends them without looking them up first.
    claims.queue_creates = True
    # The core's one seam between its decisions and Outlook (syncd.core.outlook_writes).
    claims._outlook = DeferredWrites()  # type: ignore[assignment]
    return claims


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
