"""Recurring Salesforce events as Outlook series (pure): which role an Event plays in its
series, the series master as a meeting with its patternedRecurrence, the occurrence the
series itself puts on a day, and what to do with a master (plan.plan_event's decisions).
"""

from __future__ import annotations

from dataclasses import replace
from datetime import date, datetime
from typing import Any

from syncd import timezones
from syncd.core import event_mapping as em
from syncd.core.recurrence_mapping import zone_info
from syncd.domain import ErrorCode, Meeting, MeetingStatus, utc
from syncd.ledger.models import MeetingRecord
from syncd.sync.plan import Action, PlanContext, Step, with_organizer_zone
from syncd.sync.recurrence_patterns import Series, Unsupported, classic_pattern, rrule_pattern
from syncd.sync.salesforce_event import Invalid, SalesforceEvent, parse_datetime, to_meeting

#: The ledger request key that marks an occurrence row.
SERIES_KEY = "series"
#: Why a Lightning series record is skipped when the org does not show the series link.
UNLINKED_REASON = (
    "a Lightning series record: this org's API version shows no Event.ActivityRecurrence2Id, "
    "so its occurrences are synced as single meetings (raise api_version to 65.0 or later)"
)


def series_key(record_id: str | None) -> str:
    """Salesforce ids compare on their first 15 characters (18-character ids add a checksum)."""
    return (record_id or "")[:15]


#: GroupEventType of a Lightning series record, "which represents the recurrence pattern"
#: (https://developer.salesforce.com/docs/platform/change-data-capture/guide/cdc-standard-objects-task-event-recurring.html).
SERIES_RECORD = "3"


def role(event: SalesforceEvent) -> str:
    """master | occurrence | single | unlinked.

    Classic: the main record (IsRecurrence) and its occurrences, whose
    RecurrenceActivityId is the main record's id. Lightning: the series record
    (GroupEventType 3) and its occurrences share one ActivityRecurrence2Id (CDC guide,
    Recurring Activities). A series record in an org whose API version does not show
    ActivityRecurrence2Id cannot find its occurrences: "unlinked" (not synced; its
    occurrences are synced as single meetings).
    """
    series = event.series
    if series.get("ActivityRecurrence2Id"):
        return "master" if str(series.get("GroupEventType")) == SERIES_RECORD else "occurrence"
    parent = series.get("RecurrenceActivityId")
    if parent and series_key(str(parent)) != series_key(event.id):
        return "occurrence"
    if series.get("IsRecurrence"):
        return "master"
    if str(series.get("GroupEventType")) == SERIES_RECORD:
        return "unlinked"
    return "single"


def series_link(event: SalesforceEvent) -> tuple[str, bool]:
    """The full id that identifies the series of a master or occurrence, and whether it is
    a Lightning series (ActivityRecurrence2Id) rather than a classic one (main record id)."""
    lightning = event.series.get("ActivityRecurrence2Id")
    if lightning:
        return str(lightning), True
    parent = event.series.get("RecurrenceActivityId")
    return (str(parent) if parent else event.id), False


def excluded(event: SalesforceEvent) -> bool:
    """A Lightning occurrence taken out of its series."""
    return bool(event.series.get("IsRecurrence2Exclusion"))


def series_of(master: SalesforceEvent, start: datetime, *, all_day: bool = False) -> Series:
    """The Outlook pattern of a series' main record; Unsupported names what cannot be mapped."""
    fields = dict(master.series)
    if fields.get("IsRecurrence"):
        stamp = fields.get("RecurrenceStartDateTime")
        if isinstance(stamp, str):
            fields["RecurrenceStartDateTime"] = parse_datetime(stamp)
        return classic_pattern(fields, start, all_day=all_day)
    text = str(fields.get("Recurrence2PatternText") or "")
    zone = str(fields.get("Recurrence2PatternTimeZone") or "UTC")
    first = parse_datetime(fields.get("Recurrence2PatternStartDate")) or start
    return rrule_pattern(text, zone, first, all_day=all_day)


def first_date(meeting: Meeting, zone: timezones.Zone) -> date:
    """The date a series' first occurrence falls on, as range.startDate must name it.

    recurrenceRange.startDate "must be the same value as the start property of the
    recurring event" (https://learn.microsoft.com/en-us/graph/api/resources/recurrencerange);
    an earlier one lets the pattern start a day too soon (an extra first occurrence). An
    all-day date is Salesforce's (kept at midnight UTC), whatever the organizer's zone; a
    timed start's date is the one in the series' zone.
    """
    if meeting.is_all_day:
        return utc(meeting.start).date()
    return utc(meeting.start).astimezone(zone.info).date()


def master_meeting(
    master: SalesforceEvent, ctx: PlanContext, *, teams_keyword: str
) -> Meeting | Invalid:
    """The series master as a meeting: the first occurrence plus the pattern and its zone."""
    mapped = to_meeting(master, in_org=ctx.in_org, teams_keyword=teams_keyword)
    if isinstance(mapped, Invalid):
        return mapped
    try:
        series = series_of(master, mapped.start, all_day=mapped.is_all_day)
    except Unsupported as error:
        return Invalid(
            master.id, f"the recurring event's pattern cannot be an Outlook series: {error}"
        )
    zone, source = series.time_zone, "the series' time zone in Salesforce"
    if mapped.is_all_day:
        # All-day series sit on their dates in the organizer's zone, like single ones.
        placed = with_organizer_zone(mapped, ctx)
        if isinstance(placed, Invalid):
            reason = f"the recurring event cannot be an Outlook series: {placed.reason}"
            return Invalid(master.id, reason)
        mapped = placed
        zone = mapped.time_zone or "UTC"
        source = f"the mailbox time zone of {mapped.organizer_email}"
    found = timezones.find(zone)
    if found is None:
        unknown = timezones.UnknownTimeZone(zone, source=source)
        return Invalid(master.id, f"the recurring event cannot be an Outlook series: {unknown}")
    # Graph is given the Windows name, and the first occurrence's date as startDate.
    span = {
        **series.recurrence["range"],
        "recurrenceTimeZone": found.windows,
        "startDate": first_date(mapped, found).isoformat(),
    }
    recurrence = {**series.recurrence, "range": span}
    return replace(mapped, time_zone=found.windows, recurrence=recurrence)


def content_of(meeting: Meeting, teams_keyword: str) -> dict[str, Any]:
    return em.event_content(meeting, teams_keyword=teams_keyword)


def local_date(instant: datetime, zone: str) -> date:
    info = zone_info(zone)
    return utc(instant).astimezone(info).date() if info else utc(instant).date()


def occurrence_date(meeting: Meeting, zone: str) -> date:
    """The date an occurrence Event sits on in its series: an all-day one's Salesforce date
    (midnight UTC, the date Outlook shows in the organizer's zone), a timed one's date in
    the series' zone."""
    if meeting.is_all_day:
        return utc(meeting.start).date()
    return local_date(meeting.start, zone)


def slot_meeting(master: Meeting, day: date) -> Meeting:
    """The occurrence the series itself puts on `day` (the master's time of day and length)."""
    if master.is_all_day:
        # A date, not a time: no zone is needed (Salesforce keeps it at midnight UTC).
        start = datetime.combine(day, datetime.min.time(), tzinfo=utc(master.start).tzinfo)
    else:
        zone = timezones.lookup(master.time_zone or "UTC", source="the series' time zone")
        clock = utc(master.start).astimezone(zone.info).time()
        start = utc(datetime.combine(day, clock, tzinfo=zone.info))
    return replace(master, start=start, end=start + (master.end - master.start), recurrence=None)


def master_step(
    master: SalesforceEvent,
    meeting: Meeting | Invalid,
    row: MeetingRecord | None,
    ctx: PlanContext,
    keyword: str,
) -> Step:
    """plan.plan_event's decisions for a series master (whose meeting carries the pattern)."""
    live = row is not None and row.status != MeetingStatus.CANCELLED
    if isinstance(meeting, Invalid):
        if (
            row is not None
            and row.status == MeetingStatus.FAILED
            and row.last_error_message == meeting.reason
        ):
            return Step(Action.SKIP, master.id, f"still invalid: {meeting.reason}")
        return Step(Action.FAIL, master.id, meeting.reason)
    if not live and not ctx.window_start <= meeting.start <= ctx.window_end:
        return Step(Action.SKIP, master.id, "outside the sync window")
    if not live:
        return Step(Action.CREATE, master.id, "new recurring event in Salesforce", meeting)
    assert row is not None
    content = content_of(meeting, keyword)
    # A series synced before syncd wrote Windows zone names holds the IANA ones: the
    # same times under the other name are no change (`sent` is what Outlook holds).
    unchanged = row.content_hash == em.content_hash(content) or (
        row.status == MeetingStatus.SYNCED and not em.content_changes(row.sent, content)
    )
    faulted = row.last_error_code == ErrorCode.INTERNAL_ERROR  # retried to clear it
    if unchanged and row.status == MeetingStatus.SYNCED and not faulted:
        return Step(Action.SKIP, master.id, "series unchanged since the last sync")
    if unchanged and row.next_attempt_at is not None and row.next_attempt_at > ctx.now:
        return Step(Action.SKIP, master.id, "failed before; waiting to retry")
    reason = "the series changed in Salesforce" if not unchanged else "retrying"
    if row.organizer_email.casefold() != meeting.organizer_email.casefold():
        reason = "the owner changed: the series moves to the new organizer"
    return Step(Action.UPDATE, master.id, reason, meeting)
