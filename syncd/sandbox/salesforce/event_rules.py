"""How an Event's time fields hang together, and the writes Salesforce refuses.

From the Event reference
(https://developer.salesforce.com/docs/atlas.en-us.object_reference.meta/object_reference/sforce_api_objects_event.htm):
- a timed event has StartDateTime, EndDateTime (or DurationInMinutes) and
  ActivityDateTime = StartDateTime;
- an all-day event (IsAllDayEvent) is given by ActivityDate (midnight UTC) and
  DurationInMinutes in whole days; StartDateTime is that midnight and EndDateTime
  midnight of its last day;
- multi-day events may last up to 14 days;
- ActivityDate (all-day) and ActivityDateTime (timed) must each match StartDateTime
  when both are given ("The value for this field and StartDateTime must match, or one
  of them must be null", ActivityDate and ActivityDateTime in the reference);
- EndDate is derived (read-only in the schema), never written.
A write that gives both EndDateTime and DurationInMinutes must have them agree: "Supplying
values in both fields is allowed if the values add up to the same amount of time"
(EndDateTime in the reference, for timed and all-day events alike). Assumed: what
"agree" means for an all-day event (the sandbox: the same number of days, EndDateTime
being midnight of the last day) and that a disagreeing pair is refused, not reconciled.
The refusal codes are FIELD_INTEGRITY_EXCEPTION / REQUIRED_FIELD_MISSING; Salesforce
does not document the exact message texts, so these are the sandbox's own.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from datetime import date, datetime, timedelta
from typing import Any

from syncd.sandbox.salesforce.errors import RecordError
from syncd.sandbox.salesforce.values import midnight

MAX_EVENT_DAYS = 14
MINUTES_PER_DAY = 1440
TIME_INPUTS = frozenset(
    {
        "StartDateTime",
        "EndDateTime",
        "ActivityDateTime",
        "ActivityDate",
        "DurationInMinutes",
        "IsAllDayEvent",
    }
)
# Fields an invitee's child event mirrors from its parent.
SHARED_WITH_CHILDREN = (
    "Subject",
    "Description",
    "Location",
    "StartDateTime",
    "EndDateTime",
    "ActivityDateTime",
    "ActivityDate",
    "EndDate",
    "DurationInMinutes",
    "IsAllDayEvent",
    "IsPrivate",
    "WhoId",
    "WhatId",
    "Type",
    "IsRecurrence",
    "RecurrenceType",
    "RecurrenceInterval",
    "RecurrenceDayOfWeekMask",
    "RecurrenceStartDateTime",
    "RecurrenceEndDateOnly",
    "RecurrenceTimeZoneSidKey",
    "Recurrence2PatternText",
    "Recurrence2PatternStartDate",
    "Recurrence2PatternTimeZone",
)


def event_times(current: Mapping[str, Any] | None, changes: Mapping[str, Any]) -> dict[str, Any]:
    """The consistent set of time fields after applying `changes` to `current` (None = create)."""
    if current is not None and not TIME_INPUTS & changes.keys():
        return {}
    base: Mapping[str, Any] = current or {}
    all_day = changes.get("IsAllDayEvent", base.get("IsAllDayEvent")) or False
    if all_day:
        return _all_day(base, changes, was_all_day=bool(base.get("IsAllDayEvent")))
    return _timed(base, changes)


def _missing(field: str) -> RecordError:
    return RecordError("REQUIRED_FIELD_MISSING", f"Required fields are missing: [{field}]", [field])


def _too_long() -> RecordError:
    return RecordError(
        "FIELD_INTEGRITY_EXCEPTION",
        f"DurationInMinutes: An event can't last longer than {MAX_EVENT_DAYS} days.",
        ["DurationInMinutes"],
    )


def _end_before_start() -> RecordError:
    return RecordError(
        "FIELD_INTEGRITY_EXCEPTION",
        "EndDateTime: The end of an event can't be before its start.",
        ["EndDateTime"],
    )


def _mismatch(field: str, other: str) -> RecordError:
    return RecordError(
        "FIELD_INTEGRITY_EXCEPTION",
        f"{field}: The value for {field} and {other} must match, or one of them must be null.",
        [field],
    )


def _timed(base: Mapping[str, Any], changes: Mapping[str, Any]) -> dict[str, Any]:
    given, due = changes.get("StartDateTime"), changes.get("ActivityDateTime")
    if given is not None and due is not None and given != due:
        raise _mismatch("ActivityDateTime", "StartDateTime")
    start: datetime | None = given or due or base.get("StartDateTime")
    if start is None:
        raise _missing("StartDateTime")
    if changes.get("EndDateTime") is not None:
        end = changes["EndDateTime"]
        minutes = changes.get("DurationInMinutes")
        if minutes is not None and start + timedelta(minutes=minutes) != end:
            raise _mismatch("DurationInMinutes", "EndDateTime")
    elif changes.get("DurationInMinutes") is not None:
        minutes = changes["DurationInMinutes"]
        if minutes < 0:
            raise _end_before_start()
        end = start + timedelta(minutes=minutes)
    elif base.get("DurationInMinutes") is not None:
        end = start + timedelta(minutes=base["DurationInMinutes"])
    else:
        raise _missing("DurationInMinutes")
    if end < start:
        raise _end_before_start()
    duration = int((end - start).total_seconds() // 60)
    if duration > MAX_EVENT_DAYS * MINUTES_PER_DAY:
        raise _too_long()
    return {
        "IsAllDayEvent": False,
        "StartDateTime": start,
        "EndDateTime": end,
        "ActivityDateTime": start,
        "ActivityDate": start.date(),
        "EndDate": end.date(),
        "DurationInMinutes": duration,
    }


def _first_day(base: Mapping[str, Any], changes: Mapping[str, Any]) -> date:
    if changes.get("ActivityDate") is not None:
        given = changes.get("StartDateTime")
        if given is not None and given.date() != changes["ActivityDate"]:
            raise _mismatch("ActivityDate", "StartDateTime")
        return changes["ActivityDate"]
    for source in (changes, base):
        value = source.get("StartDateTime") or source.get("ActivityDateTime")
        if value is not None:
            return value.date()
    if base.get("ActivityDate") is not None:
        return base["ActivityDate"]
    raise _missing("ActivityDate")


def _all_day(
    base: Mapping[str, Any], changes: Mapping[str, Any], *, was_all_day: bool
) -> dict[str, Any]:
    day = _first_day(base, changes)
    if changes.get("DurationInMinutes") is not None:
        minutes = changes["DurationInMinutes"]
        if minutes < 0:
            raise _end_before_start()
        days = max(1, math.ceil(minutes / MINUTES_PER_DAY))
        last = changes.get("EndDateTime")
        if last is not None and (last.date() - day).days + 1 != days:
            raise _mismatch("DurationInMinutes", "EndDateTime")
    elif changes.get("EndDateTime") is not None:
        days = (changes["EndDateTime"].date() - day).days + 1
        if days < 1:
            raise _end_before_start()
    elif was_all_day and base.get("DurationInMinutes"):
        days = max(1, math.ceil(base["DurationInMinutes"] / MINUTES_PER_DAY))
    else:
        days = 1
    if days > MAX_EVENT_DAYS:
        raise _too_long()
    last = day + timedelta(days=days - 1)
    return {
        "IsAllDayEvent": True,
        "ActivityDate": day,
        "StartDateTime": midnight(day),
        "EndDateTime": midnight(last),
        # ActivityDateTime carries the due time of timed events only.
        "ActivityDateTime": None,
        "EndDate": last,
        "DurationInMinutes": days * MINUTES_PER_DAY,
    }
