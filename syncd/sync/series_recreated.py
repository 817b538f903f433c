"""A Lightning series recreated by a critical change keeps its Outlook series.

"When a critical change is made to a recurring calendar event, such as changing the
recurrence pattern or the recurrence start date, the series is deleted and recreated"
(Change Data Capture guide, Change Events for Tasks and Events, "Updating Recurring
Calendar Events":
https://developer.salesforce.com/docs/atlas.en-us.change_data_capture.meta/change_data_capture/cdc_standard_objects_task_event.htm).
A poll then reads a new series record with new occurrences, and getDeleted lists the old
ids (in the same poll, or -- it covers whole minutes only -- in a later one). Taken at
face value that is a new Outlook series (an invitation to everyone) and a cancelled one.

Instead, a new Lightning series takes over its organizer's live Outlook series with the
same subject whose Salesforce series record is gone (one SOQL query tells): one PATCH of
the Outlook series master to the new pattern and times, its external-key property moved
to the new series record (https://learn.microsoft.com/en-us/graph/api/event-update;
https://learn.microsoft.com/en-us/graph/api/singlevaluelegacyextendedproperty-post-singlevalueextendedproperties),
the ledger row re-keyed to the new id and the old occurrences' rows closed without a
Graph call (the PATCH replaced those occurrences in Outlook). When no such series is
found (the subject changed too, or two candidates) the worst case stays one invitation
and, once the deletion is seen, one cancellation -- never one per occurrence.
"""

from __future__ import annotations

import logging

from syncd.core.scheduler import Scheduler
from syncd.domain import ErrorCode, HistorySide, Meeting, Source, SyncdError, WritebackStatus
from syncd.ledger.models import MeetingRecord
from syncd.sync.reader import EventReader
from syncd.sync.salesforce_event import SalesforceEvent
from syncd.sync.writeback import Outcome

log = logging.getLogger(__name__)

RECREATED_REASON = (
    "the series was deleted and recreated in Salesforce (a critical change): "
    "its Outlook series follows the new one"
)


def _key(record_id: str) -> str:
    return record_id[:15]


def find_predecessor(
    core: Scheduler, reader: EventReader, master: SalesforceEvent, meeting: Meeting
) -> MeetingRecord | None:
    """The ledger row of the Outlook series a new Lightning series replaces, if exactly
    one fits: same organizer, same subject, synced, and its series record no longer in
    Salesforce."""
    if not master.series.get("ActivityRecurrence2Id"):
        return None
    candidates = [
        row
        for row in core.series.masters_of(meeting.organizer_email)
        if row.request.get("subject") == meeting.subject
        and _key(row.external_id) != _key(master.id)
    ]
    if not candidates:
        return None
    rows = reader.events_by_id([c.external_id for c in candidates])
    present = {_key(str(row["Id"])) for row in rows}
    gone = [c for c in candidates if _key(c.external_id) not in present]
    if len(gone) != 1:
        return None
    return gone[0]


def adopt(
    core: Scheduler, master: SalesforceEvent, meeting: Meeting, old: MeetingRecord
) -> Outcome | None:
    """Make `old`'s Outlook series the one of `master` through the core: one PATCH, then
    the ledger (syncd.core.series_writes.SeriesWrites.move_series).

    None when the Outlook series is gone (the caller creates a new one); a failed PATCH
    is recorded on the new id and retried like any failure.
    """
    try:
        closed = core.series.move_series(old, master.id, meeting, correlation_id=f"sf-{master.id}")
    except SyncdError as error:
        if error.code == ErrorCode.MEETING_NOT_FOUND:
            return None
        core.record_failure(
            master.id, error, Source.SALESFORCE, attempted=meeting, side=HistorySide.OUTLOOK
        )
        return Outcome(master.id, WritebackStatus.FAILED, error=f"{error.code}: {error.message}")
    log.info(
        "series %s was recreated in Salesforce as %s: Outlook series %s kept (%d old "
        "occurrence rows closed)",
        old.external_id,
        master.id,
        old.graph_event_id,
        closed,
    )
    return Outcome(
        master.id, WritebackStatus.SYNCED, graph_event_id=old.graph_event_id, join_url=old.join_url
    )
