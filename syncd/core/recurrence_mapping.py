"""Pure helpers for series and zoned times in Graph payloads.

- A recurring meeting's start/end are written as wall-clock times in the series' time
  zone: Graph expands occurrences in the zone of the event's `start`, so a weekly 09:00
  Europe/Berlin series stays at 09:00 local across daylight saving
  (https://learn.microsoft.com/en-us/graph/api/resources/patternedrecurrence,
  https://learn.microsoft.com/en-us/graph/api/resources/recurrencerange: "recurrenceTimeZone
  ... If not specified, the time zone of the event is used").
- An all-day meeting starts and ends at midnight in the zone its start/end name; times
  that are not midnight are moved to the midnights around them
  (https://learn.microsoft.com/en-us/exchange/client-developer/exchange-web-services/how-to-create-all-day-events-by-using-ews-in-exchange,
  https://learn.microsoft.com/en-us/graph/api/resources/event, isAllDay: "start and end
  time must be set to midnight and be in the same time zone"). syncd writes the
  Salesforce dates at midnight in the organizer's mailbox time zone
  (https://learn.microsoft.com/en-us/graph/api/user-get-mailboxsettings).
- Every zone is written under its Windows name (`syncd.timezones`): Graph takes Windows
  names and only a listed few IANA names
  (https://learn.microsoft.com/en-us/graph/api/resources/datetimetimezone), so a series in
  Europe/Amsterdam goes out as "W. Europe Standard Time".
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from syncd import timezones
from syncd.domain import utc


def zone_info(name: str) -> ZoneInfo | None:
    """The rules of a Windows or IANA zone name; None when syncd cannot send that zone."""
    found = timezones.find(name)
    return found.info if found is not None else None


def graph_time(value: datetime, zone: str | None, *, all_day: bool = False) -> dict[str, str]:
    """A Graph dateTimeTimeZone for `value` (aware UTC).

    No zone: UTC, as single meetings have always been written. All-day: the value's
    calendar date (Salesforce keeps all-day dates at midnight UTC) at midnight in
    `zone`. Otherwise the wall-clock time in `zone`. The zone goes out under its Windows
    name; one no table knows raises `timezones.UnknownTimeZone`.
    """
    instant = utc(value)
    if zone is None:
        return {"dateTime": instant.strftime("%Y-%m-%dT%H:%M:%S"), "timeZone": "UTC"}
    found = timezones.lookup(zone)
    if all_day:
        return {"dateTime": instant.strftime("%Y-%m-%dT00:00:00"), "timeZone": found.windows}
    local = instant.astimezone(found.info)
    return {"dateTime": local.strftime("%Y-%m-%dT%H:%M:%S"), "timeZone": found.windows}


def graph_recurrence(recurrence: Mapping[str, Any]) -> dict[str, Any]:
    """A patternedRecurrence as Graph is given it: recurrenceTimeZone under its Windows name."""
    pattern = dict(recurrence.get("pattern") or {})
    span = dict(recurrence.get("range") or {})
    if span.get("recurrenceTimeZone"):
        span["recurrenceTimeZone"] = timezones.windows_name(str(span["recurrenceTimeZone"]))
    return {**recurrence, "pattern": pattern, "range": span}


def same_times(name: str, old: Any, new: Any) -> bool:
    """Whether two values of an event's `start`, `end` or `recurrence` say the same thing,
    a zone written under its IANA name and under its Windows name counting as one (ledgers
    written before syncd sent Windows names hold the IANA ones: no PATCH for that alone)."""
    if old == new:
        return True
    if not isinstance(old, Mapping) or not isinstance(new, Mapping):
        return False
    if name in ("start", "end"):
        return old.get("dateTime") == new.get("dateTime") and _same_zone(
            old.get("timeZone"), new.get("timeZone")
        )
    if name == "recurrence":
        old_range, new_range = dict(old.get("range") or {}), dict(new.get("range") or {})
        old_zone = old_range.pop("recurrenceTimeZone", None)
        new_zone = new_range.pop("recurrenceTimeZone", None)
        return (
            old.get("pattern") == new.get("pattern")
            and old_range == new_range
            and _same_zone(old_zone, new_zone)
        )
    return False


def _same_zone(first: Any, second: Any) -> bool:
    if not isinstance(first, str) or not isinstance(second, str):
        return first == second
    return timezones.same_zone(first, second)
