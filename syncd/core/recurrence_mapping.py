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
"""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from syncd.domain import utc

#: Windows zone names (what mailboxSettings returns by default) and their IANA ids, for
#: the zones syncd has to compute wall-clock times in. Graph accepts either form.
WINDOWS_ZONES = {
    "utc": "UTC",
    "coordinated universal time": "UTC",
    "gmt standard time": "Europe/London",
    "greenwich standard time": "Atlantic/Reykjavik",
    "w. europe standard time": "Europe/Berlin",
    "romance standard time": "Europe/Paris",
    "central europe standard time": "Europe/Budapest",
    "central european standard time": "Europe/Warsaw",
    "e. europe standard time": "Europe/Chisinau",
    "fle standard time": "Europe/Kiev",
    "russian standard time": "Europe/Moscow",
    "india standard time": "Asia/Kolkata",
    "singapore standard time": "Asia/Singapore",
    "china standard time": "Asia/Shanghai",
    "tokyo standard time": "Asia/Tokyo",
    "aus eastern standard time": "Australia/Sydney",
    "new zealand standard time": "Pacific/Auckland",
    "eastern standard time": "America/New_York",
    "central standard time": "America/Chicago",
    "mountain standard time": "America/Denver",
    "us mountain standard time": "America/Phoenix",
    "pacific standard time": "America/Los_Angeles",
    "alaskan standard time": "America/Anchorage",
    "hawaiian standard time": "Pacific/Honolulu",
    "e. south america standard time": "America/Sao_Paulo",
}


def zone_info(name: str) -> ZoneInfo | None:
    """The zone for an IANA or (common) Windows name; None when unknown."""
    key = WINDOWS_ZONES.get(name.strip().lower(), name.strip())
    try:
        return ZoneInfo(key)
    except (ZoneInfoNotFoundError, ValueError):
        return None


def graph_time(value: datetime, zone: str | None, *, all_day: bool = False) -> dict[str, str]:
    """A Graph dateTimeTimeZone for `value` (aware UTC).

    No zone: UTC, as single meetings have always been written. All-day: the value's
    calendar date (Salesforce keeps all-day dates at midnight UTC) at midnight in
    `zone`. Otherwise the wall-clock time in `zone`.
    """
    instant = utc(value)
    if zone is None:
        return {"dateTime": instant.strftime("%Y-%m-%dT%H:%M:%S"), "timeZone": "UTC"}
    if all_day:
        return {"dateTime": instant.strftime("%Y-%m-%dT00:00:00"), "timeZone": zone}
    info = zone_info(zone)
    if info is None:
        raise ValueError(f"unknown time zone {zone!r}")
    local = instant.astimezone(info)
    return {"dateTime": local.strftime("%Y-%m-%dT%H:%M:%S"), "timeZone": zone}
