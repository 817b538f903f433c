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
from typing import TYPE_CHECKING

from sqlalchemy import func
from sqlmodel import Session, col, select

from syncd.core import event_mapping as em
from syncd.core.records import meeting_to_request
from syncd.domain import ErrorCode, Meeting, MeetingStatus, Source, SyncdError
from syncd.ledger.db import session_scope
from syncd.ledger.models import MeetingRecord
from syncd.sync import queries as q
from syncd.sync.salesforce_event import SalesforceEvent
from syncd.sync.writeback import Outcome

if TYPE_CHECKING:
    from syncd.sync.recurrence import SeriesSync

log = logging.getLogger(__name__)

RECREATED_REASON = (
    "the series was deleted and recreated in Salesforce (a critical change): "
    "its Outlook series follows the new one"
)
#: The ledger request key of occurrence rows (recurrence.SERIES_KEY).
_SERIES_KEY = "series"


def _key(record_id: str) -> str:
    return record_id[:15]


def find_predecessor(
    series: SeriesSync, master: SalesforceEvent, meeting: Meeting
) -> MeetingRecord | None:
    """The ledger row of the Outlook series a new Lightning series replaces, if exactly
    one fits: same organizer, same subject, synced, and its series record no longer in
    Salesforce."""
    if not master.series.get("ActivityRecurrence2Id"):
        return None
    service = series.service
    candidates = [
        row
        for row in _live_series_masters(series, meeting.organizer_email)
        if row.request.get("subject") == meeting.subject
        and _key(row.external_id) != _key(master.id)
    ]
    if not candidates:
        return None
    query = q.events_by_id([c.external_id for c in candidates], service._extra_fields())
    present = {_key(str(row["Id"])) for row in service.salesforce.query(query)}
    gone = [c for c in candidates if _key(c.external_id) not in present]
    if len(gone) != 1:
        return None
    return gone[0]


def adopt(
    series: SeriesSync, master: SalesforceEvent, meeting: Meeting, old: MeetingRecord
) -> Outcome | None:
    """Make `old`'s Outlook series the one of `master`: one PATCH, then the ledger.

    None when the Outlook series is gone (the caller creates a new one); a failed PATCH
    is recorded on the new id and retried like any failure.
    """
    service = series.service
    keyword = service.tenant.policy.teams_keyword
    desired = em.event_content(meeting, teams_keyword=keyword)
    patch = em.content_changes(old.sent, desired, join_url=old.join_url)
    key = em.external_key(service.tenant.name, Source.SALESFORCE, master.id)
    patch["singleValueExtendedProperties"] = [{"id": em.EXTERNAL_KEY_PROPERTY_ID, "value": key}]
    assert old.graph_event_id is not None
    try:
        answer = service.scheduler.graph.update_event(
            old.organizer_email, old.graph_event_id, patch, correlation_id=f"sf-{master.id}"
        )
    except SyncdError as error:
        if error.code == ErrorCode.MEETING_NOT_FOUND:
            return None
        service.scheduler.record_failure(master.id, error, Source.SALESFORCE, attempted=meeting)
        return Outcome(master.id, "Failed", error=f"{error.code}: {error.message}")
    closed = _rekey(series, old, master.id, meeting, desired, answer.get("changeKey"))
    log.info(
        "series %s was recreated in Salesforce as %s: Outlook series %s kept (%d old "
        "occurrence rows closed)",
        old.external_id,
        master.id,
        old.graph_event_id,
        closed,
    )
    return Outcome(master.id, "Synced", graph_event_id=old.graph_event_id, join_url=old.join_url)


def _live_series_masters(series: SeriesSync, organizer: str) -> list[MeetingRecord]:
    service = series.service
    with Session(service.engine) as session:
        rows = session.exec(
            select(MeetingRecord).where(
                MeetingRecord.tenant == service.tenant.name,
                MeetingRecord.source == Source.SALESFORCE.value,
                MeetingRecord.status == MeetingStatus.SYNCED.value,
                col(MeetingRecord.graph_event_id).is_not(None),
                func.lower(MeetingRecord.organizer_email) == organizer.lower(),
            )
        ).all()
    return [r for r in rows if r.request.get("recurrence") and not r.request.get(_SERIES_KEY)]


def _rekey(
    series: SeriesSync,
    old: MeetingRecord,
    new_id: str,
    meeting: Meeting,
    desired: dict,
    change_key: str | None,
) -> int:
    """Move the row to `new_id` with what Outlook now holds; close the old occurrences'
    rows (their Outlook occurrences were replaced by the PATCH). Returns how many."""
    service = series.service
    now = service.clock()
    with session_scope(service.engine) as session:
        row = session.get(MeetingRecord, old.id)
        assert row is not None
        row.external_id = new_id
        row.sent = em.online_kept(old.sent, desired)
        row.target = desired
        row.content_hash = em.content_hash(desired)
        row.change_key = change_key or old.change_key
        row.request = meeting_to_request(meeting)
        row.status = MeetingStatus.SYNCED.value
        row.intent = None
        row.last_error_code = row.last_error_message = None
        row.next_attempt_at = None
        row.updated_at = now
        session.add(row)
        occurrences = [
            r
            for r in session.exec(
                select(MeetingRecord).where(
                    MeetingRecord.tenant == service.tenant.name,
                    MeetingRecord.source == Source.SALESFORCE.value,
                    MeetingRecord.status != MeetingStatus.CANCELLED.value,
                    MeetingRecord.organizer_email == old.organizer_email,
                )
            ).all()
            if (r.request.get(_SERIES_KEY) or {}).get("master") == old.external_id
        ]
        for occurrence in occurrences:
            occurrence.status = MeetingStatus.CANCELLED.value
            occurrence.graph_event_id = None
            occurrence.intent = None
            occurrence.updated_at = now
            session.add(occurrence)
    return len(occurrences)
