"""All-day meetings seen in Outlook, in Salesforce's terms (pure).

Outlook holds an all-day meeting as midnight to midnight in one time zone, the end
exclusive (https://learn.microsoft.com/graph/api/resources/event, isAllDay; Exchange
moves an all-day event's bounds to midnight "in the time zone of the request or
appointment", https://learn.microsoft.com/exchange/client-developer/exchange-web-services/how-to-create-all-day-events-by-using-ews-in-exchange).
Assumed: calendarView delta carries originalStartTimeZone (it returns the event's
properties; if absent, the zone syncd wrote the start in is used). syncd writes an
all-day Event to Outlook as its dates at midnight in the organizer's mailbox zone
(syncd.core.recurrence_mapping.graph_time), and keeps it as a meeting from midnight UTC
of its first day to midnight UTC after its last (syncd.sync.salesforce_event._span).
The way back reads the event's dates in its own zone (originalStartTimeZone, else the
zone syncd wrote it in) and gives them that same meeting form, so the Event written
from it maps to the very meeting Outlook holds: no echo on either side.

Salesforce keeps an all-day Event as (Event reference,
https://developer.salesforce.com/docs/atlas.en-us.object_reference.meta/object_reference/sforce_api_objects_event.htm):
- IsAllDayEvent = true and ActivityDate, its first day ("a date field with a timestamp
  that is always set to midnight in the UTC time zone"; "The value for this field and
  StartDateTime must match, or one of them must be null");
- DurationInMinutes = days x 1440 (multi-day events: at most 14 days,
  https://salesforce.stackexchange.com/tags/event/info "Multiday Events");
- StartDateTime at midnight UTC of the first day, EndDateTime at midnight UTC of the
  last day (inclusive). Assumed: the reference does not spell out an all-day event's
  EndDateTime; this is how the sandbox org stores one and how syncd reads it back;
- EndDate is derived, not writable (assumed from the describe of the sandbox org and
  third-party schema listings, e.g. https://cdn.cdata.com/help/RFM/xls/pg_table-event.htm):
  syncd never writes it.
All of these go in one write, so none disagrees with another or with the Event's
previous values (the sandbox org refuses a disagreeing pair: event_rules.py).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from syncd.core.recurrence_mapping import zone_info
from syncd.domain import format_gmt, utc

#: Salesforce refuses events longer than this (the Event reference, multiday events).
MAX_DAYS = 14
MINUTES_PER_DAY = 1440


def _midnight(day: date) -> datetime:
    return datetime.combine(day, time(0), tzinfo=UTC)


def day_of(instant: datetime, zones: list[str]) -> date:
    """The calendar day that starts at `instant` in the first zone where it is a
    midnight (an all-day bound is one); without such a zone, its day in the first zone."""
    known = [info for info in (zone_info(name) for name in zones if name) if info is not None]
    for info in known:
        local = instant.astimezone(info)
        if local.time() == time(0):
            return local.date()
    return instant.astimezone(known[0] if known else UTC).date()


def span(start: datetime, end: datetime, zones: list[str]) -> tuple[datetime, datetime]:
    """Outlook's all-day bounds (aware instants) as the meeting syncd keeps: midnight UTC
    of the first day and of the day after the last, the days read in `zones` (the
    event's own zone first)."""
    first, after = day_of(utc(start), zones), day_of(utc(end), zones)
    return _midnight(first), _midnight(after)


def zones_of(event: Mapping[str, Any], sent: Mapping[str, Any]) -> list[str]:
    """The zones an Outlook event's all-day dates are read in: its own
    (originalStartTimeZone), then the one syncd last wrote its start in."""
    written = sent.get("start")
    return [
        str(event.get("originalStartTimeZone") or ""),
        str(written.get("timeZone") or "") if isinstance(written, Mapping) else "",
    ]


def days_of(start: datetime, end: datetime) -> int:
    """The number of days an all-day meeting (meeting form) covers."""
    return (utc(end).date() - utc(start).date()).days


def refusal(start: datetime, end: datetime) -> str | None:
    """Why Salesforce would refuse these all-day dates, or None."""
    days = days_of(start, end)
    if days < 1:
        return "the all-day meeting in Outlook ends before it starts"
    if days > MAX_DAYS:
        return f"the all-day meeting in Outlook lasts {days} days; Salesforce allows {MAX_DAYS}"
    return None


def event_fields(start: datetime, end: datetime, *, all_day: bool) -> dict[str, Any]:
    """The Event's time fields for a meeting (meeting form), written together so that
    none of them disagrees with another or with what the Event held before."""
    if not all_day:
        minutes = int((utc(end) - utc(start)).total_seconds() // 60)
        return {
            "IsAllDayEvent": False,
            "StartDateTime": format_gmt(start),
            "EndDateTime": format_gmt(end),
            "DurationInMinutes": minutes,
        }
    first = utc(start).date()
    days = days_of(start, end)
    last = first + timedelta(days=days - 1)
    return {
        "IsAllDayEvent": True,
        "ActivityDate": first.isoformat(),
        "StartDateTime": format_gmt(_midnight(first)),
        "EndDateTime": format_gmt(_midnight(last)),
        "DurationInMinutes": days * MINUTES_PER_DAY,
    }
