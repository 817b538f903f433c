"""Lightning series occurrences as RFC 5545 defines them, expanded by python-dateutil.

Salesforce stores a Lightning series' pattern as an RRULE (Recurrence2PatternText, "a
subset of RFC 5545": Event reference,
https://developer.salesforce.com/docs/atlas.en-us.object_reference.meta/object_reference/sforce_api_objects_event.htm)
with its DTSTART in Recurrence2PatternStartDate and Recurrence2PatternTimeZone. The
sandbox makes a series' occurrences from that rule with a well-kept RFC 5545
implementation rather than by hand, so syncd's mapping to Outlook is checked against the
RFC, not against a second reading of the same documents. What Salesforce itself does
where the RFC leaves room is not documented; the sandbox follows the RFC:

- WKST defaults to MO (RFC 5545 section 3.3.10,
  https://datatracker.ietf.org/doc/html/rfc5545#section-3.3.10); it is written out so the
  process-wide `calendar.firstweekday()` dateutil would otherwise use cannot change it.
- Days a month does not have are skipped (dateutil does this; section 3.3.10).
- An occurrence at a local time the clock skips "MUST be ignored and MUST NOT be counted"
  (section 3.3.10); dateutil emits it, so it is dropped here, before COUNT is applied.
- "The DTSTART property value always counts as the first occurrence" (section 3.3.10),
  even where the rule would not produce it. Section 3.8.5.3 calls such a set undefined;
  dateutil leaves DTSTART out. The sandbox keeps it, so a mapping that relies on either
  reading of an undefined set shows up.
- Wall-clock times are read as section 3.3.5 says: a skipped time with the offset before
  the gap, a repeated time as its first pass. This is zoneinfo's fold=0.
- UNTIL must be UTC beside a zoned DTSTART (section 3.3.10); a date or a floating time
  is read in the series' zone (a date as its whole day) -- assumed.
"""

from __future__ import annotations

import itertools
from datetime import UTC, date, datetime, time
from zoneinfo import ZoneInfo

from dateutil.rrule import rrule, rrulestr
from dateutil.tz import datetime_exists

#: RFC 5545's default week start.
DEFAULT_WKST = "MO"


def _parts(text: str) -> dict[str, str]:
    body = text.strip()
    if body.upper().startswith("RRULE:"):
        body = body.split(":", 1)[1]
    parts: dict[str, str] = {}
    for item in body.split(";"):
        if item.strip():
            key, _, value = item.partition("=")
            parts[key.strip().upper()] = value.strip().upper()
    return parts


def _utc_until(value: str, zone: ZoneInfo) -> str:
    if value.endswith("Z"):
        return value
    if "T" in value:
        local = datetime.strptime(value, "%Y%m%dT%H%M%S").replace(tzinfo=zone)
    else:
        day = datetime.strptime(value, "%Y%m%d").date()
        local = datetime.combine(day, time(23, 59, 59), tzinfo=zone)
    return local.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")


def first_wall_clock(first_start: datetime, zone: ZoneInfo) -> datetime:
    """DTSTART as a wall-clock time in `zone` (aware). A start already given in `zone`
    keeps its wall-clock time even if the clock skips it -- its nominal time, which later
    occurrences keep (`astimezone` leaves a datetime alone in its own zone)."""
    return first_start.astimezone(zone)


def rfc_rule(text: str, first_start: datetime, zone: ZoneInfo) -> rrule:
    """The RRULE with its DTSTART as a dateutil rule (occurrences as wall-clock times)."""
    parts = _parts(text)
    parts.setdefault("WKST", DEFAULT_WKST)
    if "UNTIL" in parts:
        parts["UNTIL"] = _utc_until(parts["UNTIL"], zone)
    body = ";".join(f"{key}={value}" for key, value in parts.items())
    parsed = rrulestr(f"RRULE:{body}", dtstart=first_wall_clock(first_start, zone))
    assert isinstance(parsed, rrule)
    return parsed


def rrule_starts(
    text: str, first_start: datetime, zone: ZoneInfo, *, horizon: date
) -> list[datetime]:
    """The UTC starts of the series' occurrences whose local date is on or before `horizon`."""
    rule = rfc_rule(text, first_start, zone)
    count = rule._count  # applied below, after skipped times are dropped
    dtstart = first_wall_clock(first_start, zone)
    starts: list[datetime] = []
    for local in itertools.chain([dtstart], rule.replace(count=None)):
        if local.date() > horizon or (count is not None and len(starts) >= count):
            break
        if local != dtstart and not datetime_exists(local):
            continue
        if not starts or local != dtstart:
            starts.append(local.astimezone(UTC))
    return starts
