"""The Event fields that describe a recurring series (classic and Lightning).

https://developer.salesforce.com/docs/atlas.en-us.object_reference.meta/object_reference/sforce_api_objects_event.htm
"""

from __future__ import annotations

SERIES_FIELDS = (
    "IsRecurrence",
    "RecurrenceActivityId",
    "RecurrenceType",
    "RecurrenceInterval",
    "RecurrenceDayOfWeekMask",
    "RecurrenceDayOfMonth",
    "RecurrenceInstance",
    "RecurrenceMonthOfYear",
    "RecurrenceStartDateTime",
    "RecurrenceEndDateOnly",
    "RecurrenceTimeZoneSidKey",
    "IsRecurrence2",
    "IsRecurrence2Exception",
    "IsRecurrence2Exclusion",
    "Recurrence2PatternText",
    "Recurrence2PatternStartDate",
    "Recurrence2PatternTimeZone",
    "Recurrence2PatternVersion",
)
