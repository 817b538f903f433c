"""Lightning series: an RFC 5545 RRULE (Recurrence2PatternText) with its DTSTART
(Recurrence2PatternStartDate, Recurrence2PatternTimeZone) -> Graph patternedRecurrence.

The RRULE means what RFC 5545 says (https://datatracker.ietf.org/doc/html/rfc5545#section-3.3.10,
section 3.8.5.3); Graph's pattern what Exchange makes of it (the RRULE templates Exchange
maps: https://learn.microsoft.com/en-us/openspecs/exchange_server_protocols/ms-oxcical/2b9345c9-6cd6-494e-9b28-473d61ac44e4).
Where the two read the same words differently, the mapping finds Outlook words with the
RFC's meaning or refuses with the reason:

- WKST defaults to MO in the RFC, firstDayOfWeek to sunday in Graph: the RFC's week start
  is always sent (MS-OXCICAL's weekly template shows WKST=MO changing an every-two-weeks
  SU,MO series: https://learn.microsoft.com/en-us/openspecs/exchange_server_protocols/ms-oxcical/305b728b-8fb2-48d2-8709-7dab1686b9cc).
- BYMONTHDAY 29-31 and February 29 yearly: the RFC skips months without the day, Outlook
  takes the month's last day; refused when the series reaches such a month
  (`recurrence_exactness.first_short_month`). BYMONTHDAY=-1 is Outlook's day 31.
- Several days in relativeMonthly/relativeYearly mean the Nth day that is any of them
  (MS-OXOCAL MonthNth: https://learn.microsoft.com/en-us/openspecs/exchange_server_protocols/ms-oxocal/6ac538f5-8ba0-4dfe-a383-09fab61136db),
  which is the RFC's BYDAY=MO,TU;BYSETPOS=N; `BYDAY=1MO,1TU` (one occurrence per listed
  day) is refused.
- FREQ=YEARLY;BYMONTHDAY=n without BYMONTH repeats every month: absoluteMonthly when
  INTERVAL=1, refused otherwise. FREQ=YEARLY;BYDAY=nXX without BYMONTH counts in the
  year: January's for n = 1-4, December's for -1.
- A first start the rule does not produce (section 3.8.5.3: such a set is undefined),
  an occurrence at a wall-clock time a clock change skips (section 3.3.10: dropped; in
  Outlook, moved) and a first start whose wall-clock time is ambiguous are refused.
- UNTIL (an inclusive instant) becomes the last date whose occurrence is not after it.

What Graph cannot express at all (hourly or minutely series, BYHOUR, several BYSETPOS,
COUNT with UNTIL, several months or month days, fifth weekdays, ...) is refused too.
"""

from __future__ import annotations

import calendar
from collections.abc import Mapping
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from dateutil.rrule import rrule, rrulestr

from syncd.sync import recurrence_exactness as exact
from syncd.sync.series_pattern import (
    Series,
    Unsupported,
    first_wall,
    refuse_short_month,
    zone_of,
)

RRULE_DAYS = {
    "SU": "sunday",
    "MO": "monday",
    "TU": "tuesday",
    "WE": "wednesday",
    "TH": "thursday",
    "FR": "friday",
    "SA": "saturday",
}
#: RFC 5545's default week start (section 3.3.10: "The default value is MO").
RFC_WEEK_START = "MO"
SETPOS = {1: "first", 2: "second", 3: "third", 4: "fourth", -1: "last"}
#: RRULE parts syncd maps; any other part makes the pattern unsupported.
RRULE_PARTS = {
    "FREQ",
    "INTERVAL",
    "BYDAY",
    "BYMONTHDAY",
    "BYMONTH",
    "BYSETPOS",
    "COUNT",
    "UNTIL",
    "WKST",
}


def _rrule_parts(text: str) -> dict[str, str]:
    lines = [line.strip() for line in text.replace("\r", "\n").split("\n") if line.strip()]
    rules = [
        line
        for line in lines
        if line.upper().startswith("RRULE:") or ("=" in line and ":" not in line)
    ]
    others = [line for line in lines if line not in rules]
    if others:
        raise Unsupported(f"'{others[0][:60]}' (only one RRULE is mapped)")
    if len(rules) != 1:
        raise Unsupported("a pattern needs exactly one RRULE")
    body = rules[0].split(":", 1)[1] if rules[0].upper().startswith("RRULE:") else rules[0]
    parts: dict[str, str] = {}
    for item in body.split(";"):
        if not item.strip():
            continue
        key, _, value = item.partition("=")
        key = key.strip().upper()
        if key in parts:
            raise Unsupported(f"{key} is given twice")
        parts[key] = value.strip().upper()
    return parts


def _until_instant(value: str, info: ZoneInfo) -> datetime:
    """UNTIL as an aware instant. RFC 5545 wants UTC ("...Z") beside a zoned DTSTART; a
    date or a floating time is read in the series' zone, a date as its whole day."""
    try:
        if "T" not in value:
            day = datetime.strptime(value, "%Y%m%d").date()
            return datetime.combine(day, time(23, 59, 59), tzinfo=info)
        stamp = datetime.strptime(value.rstrip("Z"), "%Y%m%dT%H%M%S")
    except ValueError as exc:
        raise Unsupported(f"UNTIL={value} is not a date") from exc
    return stamp.replace(tzinfo=UTC if value.endswith("Z") else info)


def _end_date(until: datetime, info: ZoneInfo, wall: datetime) -> date:
    """Graph's inclusive endDate for an RFC UNTIL (an inclusive instant): the UNTIL's day
    if that day's occurrence (at the series' wall-clock time) is not after it."""
    day = until.astimezone(info).date()
    if datetime.combine(day, wall.time(), tzinfo=info) <= until:
        return day
    return day - timedelta(days=1)


def _byday(value: str) -> list[tuple[int | None, str]]:
    days = []
    for item in value.split(","):
        item = item.strip()
        code = item[-2:]
        if code not in RRULE_DAYS:
            raise Unsupported(f"BYDAY={value}")
        ordinal = item[:-2]
        try:
            days.append((int(ordinal) if ordinal else None, RRULE_DAYS[code]))
        except ValueError as exc:
            raise Unsupported(f"BYDAY={value}") from exc
    return days


def _integer(parts: Mapping[str, str], key: str, default: str | None = None) -> int:
    raw = parts.get(key, default)
    try:
        return int(str(raw))
    except ValueError as exc:
        raise Unsupported(f"{key}={raw}") from exc


def rrule_pattern(text: str, zone: str, start: datetime, *, all_day: bool = False) -> Series:
    """A Lightning RRULE (Recurrence2PatternText) with its DTSTART `start` -> Graph, or
    Unsupported naming the part and why."""
    shown = " ".join(text.split())
    try:
        return _rrule_pattern(text, zone, start, shown, all_day=all_day)
    except Unsupported as error:
        raise Unsupported(f"'{shown[:120]}': {error}") from None


def _rrule_pattern(text: str, zone: str, start: datetime, shown: str, *, all_day: bool) -> Series:
    info = zone_of(zone)
    parts = _rrule_parts(text)
    unknown = sorted(set(parts) - RRULE_PARTS)
    if unknown:
        raise Unsupported(f"{unknown[0]} has no Outlook equivalent")
    freq = parts.get("FREQ", "")
    if freq not in ("DAILY", "WEEKLY", "MONTHLY", "YEARLY"):
        raise Unsupported(f"FREQ={freq or '(missing)'} has no Outlook equivalent")
    if "COUNT" in parts and "UNTIL" in parts:
        raise Unsupported("COUNT together with UNTIL")
    interval = _integer(parts, "INTERVAL", "1")
    if not 1 <= interval <= 99:
        raise Unsupported(f"INTERVAL={interval}")
    week_start = parts.get("WKST", RFC_WEEK_START)
    if week_start not in RRULE_DAYS:
        raise Unsupported(f"WKST={week_start}")
    wall = first_wall(start, info, all_day=all_day)
    pattern, absolute = _rrule_shape(parts, freq, interval, wall.date())
    # The RFC's week start, sent always: Graph's default (sunday) is not the RFC's (MO).
    pattern = {"interval": interval, "firstDayOfWeek": RRULE_DAYS[week_start], **pattern}
    span: dict[str, Any] = {
        "type": "noEnd",
        "startDate": wall.date().isoformat(),
        "recurrenceTimeZone": zone,
    }
    until = _until_instant(parts["UNTIL"], info) if "UNTIL" in parts else None
    if "COUNT" in parts:
        count = _integer(parts, "COUNT")
        if not 1 <= count <= 999:
            raise Unsupported(f"COUNT={count}")
        span.update(type="numbered", numberOfOccurrences=count)
    elif until is not None:
        span.update(type="endDate", endDate=_end_date(until, info, wall).isoformat())
    if absolute is not None:
        # Cheaply first: a day the rule never produces would have dateutil search on.
        day = absolute[0] if absolute[0] > 0 else calendar.monthrange(wall.year, wall.month)[1]
        if wall.day != day or pattern.get("month", wall.month) != wall.month:
            raise Unsupported(_unsynchronized(wall))
    rule = _rfc_rule(parts, until, wall, info)
    _refuse_unsynchronized(rule, wall)
    if absolute is not None:
        day, step = absolute
        refuse_short_month(
            f"FREQ={freq}", day, wall.date(), step, span, "RFC 5545 skips such months"
        )
    if not all_day:
        _refuse_skipped_occurrences(rule, wall, info, until)
    return Series({"pattern": pattern, "range": span}, zone, "lightning", shown)


def _rrule_shape(
    parts: Mapping[str, str], freq: str, interval: int, first: date
) -> tuple[dict[str, Any], tuple[int, int] | None]:
    """The pattern's type and days, plus (day of month, months between) for an absolute
    pattern on a positive day (the ones short months concern)."""
    days = _byday(parts["BYDAY"]) if "BYDAY" in parts else []
    month_days, months = parts.get("BYMONTHDAY"), parts.get("BYMONTH")
    setpos = parts.get("BYSETPOS")
    if month_days is not None and not (
        (month_days.isdigit() and 1 <= int(month_days) <= 31) or month_days == "-1"
    ):
        raise Unsupported(
            f"BYMONTHDAY={month_days} (Outlook takes one day of the month, 1-31, or the last)"
        )
    if months is not None and ("," in months or not months.isdigit() or not 1 <= int(months) <= 12):
        raise Unsupported(f"BYMONTH={months} (Outlook takes one month)")
    if setpos is not None:
        if freq not in ("MONTHLY", "YEARLY") or not days or month_days is not None:
            raise Unsupported(f"BYSETPOS={setpos} in this combination")
        if any(ordinal is not None for ordinal, _ in days):
            raise Unsupported(f"BYSETPOS={setpos} with ordinal BYDAY values")
        position = _integer(parts, "BYSETPOS")
        if position not in SETPOS:
            raise Unsupported(f"BYSETPOS={setpos} (Outlook knows first to fourth and last)")
        days = [(position, name) for _, name in days]
    if freq == "DAILY":
        if month_days or months:
            raise Unsupported("a daily rule limited to month days or months")
        if not days:
            return {"type": "daily"}, None
        if interval != 1 or any(o is not None for o, _ in days):
            raise Unsupported(f"FREQ=DAILY;INTERVAL={interval};BYDAY={parts['BYDAY']}")
        return {"type": "weekly", "daysOfWeek": [name for _, name in days]}, None
    if freq == "WEEKLY":
        if month_days or months:
            raise Unsupported("a weekly rule limited to month days or months")
        if any(o is not None for o, _ in days):
            raise Unsupported(f"BYDAY={parts['BYDAY']} with ordinals in a weekly rule")
        names = [name for _, name in days] or [first.strftime("%A").lower()]
        return {"type": "weekly", "daysOfWeek": names}, None
    yearly = freq == "YEARLY"
    if days:
        return _relative_shape(parts, days, yearly=yearly, month_days=month_days, months=months)
    day = int(month_days) if month_days else first.day
    graph_day = 31 if day == -1 else day  # Outlook's day 31 is every month's last day
    if not yearly:
        if months:
            raise Unsupported(f"BYMONTH={months} in a monthly rule")
        return {"type": "absoluteMonthly", "dayOfMonth": graph_day}, (day, interval)
    if months is None and month_days is not None:
        # RFC 5545: BYMONTHDAY in a yearly rule without BYMONTH picks that day in every
        # month of the year.
        if interval != 1:
            raise Unsupported(
                f"FREQ=YEARLY;INTERVAL={interval};BYMONTHDAY={month_days} without BYMONTH "
                f"falls on every month of every {interval}th year"
            )
        return {"type": "absoluteMonthly", "dayOfMonth": graph_day}, (day, 1)
    month = int(months) if months else first.month
    return (
        {"type": "absoluteYearly", "dayOfMonth": graph_day, "month": month},
        (day, 12 * interval),
    )


def _relative_shape(
    parts: Mapping[str, str],
    days: list[tuple[int | None, str]],
    *,
    yearly: bool,
    month_days: str | None,
    months: str | None,
) -> tuple[dict[str, Any], None]:
    ordinals = {o for o, _ in days}
    if None in ordinals:
        raise Unsupported(
            f"BYDAY={parts['BYDAY']} without a position falls on every such day "
            f"of the {'year' if yearly else 'month'}"
        )
    if len(days) > 1 and "BYSETPOS" not in parts:
        # RFC 5545: one occurrence per listed day; Outlook's several daysOfWeek mean the
        # first day that is any of them (recurrencepattern, daysOfWeek).
        raise Unsupported(
            f"BYDAY={parts['BYDAY']} is one occurrence per listed day; Outlook would make "
            "it one occurrence for all of them"
        )
    (ordinal,) = ordinals
    if ordinal not in SETPOS:
        raise Unsupported(f"BYDAY={parts['BYDAY']} (Outlook knows first to fourth and last)")
    if month_days:
        raise Unsupported("BYDAY together with BYMONTHDAY")
    shape: dict[str, Any] = {
        "type": "relativeYearly" if yearly else "relativeMonthly",
        "daysOfWeek": [name for _, name in days],
        "index": SETPOS[ordinal],
    }
    if not yearly:
        if months:
            raise Unsupported(f"BYMONTH={months} in a monthly rule")
        return shape, None
    # Without BYMONTH the position counts in the year: its first to fourth such day lie
    # in January, its last in December.
    shape["month"] = int(months) if months else (12 if ordinal == -1 else 1)
    return shape, None


def _rfc_rule(
    parts: Mapping[str, str], until: datetime | None, wall: datetime, info: ZoneInfo
) -> rrule:
    """The RFC 5545 reading of the rule (python-dateutil), DTSTART at the wall-clock start."""
    rfc = {**parts, "WKST": parts.get("WKST", RFC_WEEK_START)}
    if until is not None:
        rfc["UNTIL"] = until.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")
    body = ";".join(f"{key}={value}" for key, value in rfc.items())
    try:
        parsed = rrulestr(f"RRULE:{body}", dtstart=wall.replace(tzinfo=info))
    except (ValueError, TypeError) as exc:
        raise Unsupported(f"not a valid RFC 5545 rule ({exc})") from exc
    assert isinstance(parsed, rrule)
    return parsed


def _refuse_unsynchronized(rule: rrule, wall: datetime) -> None:
    # RFC 5545 section 3.8.5.3: a DTSTART the rule does not produce leaves the set
    # undefined, while Graph starts at the first pattern day on or after startDate.
    first = next(iter(rule), None)
    if first is None:
        raise Unsupported("the rule has no occurrence on or after its start")
    if first.replace(tzinfo=None) != wall:
        raise Unsupported(_unsynchronized(wall))


def _unsynchronized(wall: datetime) -> str:
    return f"the series starts on {wall:%A %Y-%m-%d} {wall:%H:%M}, which its rule does not produce"


def _refuse_skipped_occurrences(
    rule: rrule, wall: datetime, info: ZoneInfo, until: datetime | None
) -> None:
    """RFC 5545 drops an occurrence whose wall-clock time the clock skips; Outlook keeps
    it (moved), so a series with such an occurrence is refused."""
    last = (
        until.astimezone(info).date()
        if until is not None
        else wall.date() + timedelta(days=365 * exact.CLOCK_YEARS)
    )
    skipped = exact.gap_days(info, wall.time(), wall.date() + timedelta(days=1), last)
    hit = exact.first_common(skipped, (o.date() for o in rule))
    if hit is not None:
        raise Unsupported(
            f"{wall:%H:%M} does not exist on {hit.isoformat()} in {info.key} (the clocks "
            "skip it): RFC 5545 drops that occurrence, Outlook would keep it"
        )
