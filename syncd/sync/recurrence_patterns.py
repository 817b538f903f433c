"""Salesforce recurrence -> Graph patternedRecurrence (pure), exact or refused.

Salesforce has two models of a recurring Event
(https://developer.salesforce.com/docs/atlas.en-us.object_reference.meta/object_reference/sforce_api_objects_event.htm):

- classic (this module): the series' main record has IsRecurrence = true and
  RecurrenceType (RecursDaily, RecursEveryWeekday, RecursWeekly, RecursMonthly,
  RecursMonthlyNth, RecursYearly, RecursYearlyNth), RecurrenceInterval,
  RecurrenceDayOfWeekMask (Sunday = 1, Monday = 2, Tuesday = 4, ... Saturday = 64),
  RecurrenceDayOfMonth, RecurrenceInstance (First .. Last), RecurrenceMonthOfYear,
  RecurrenceStartDateTime, RecurrenceEndDateOnly and RecurrenceTimeZoneSidKey.
- Lightning (`rrule_patterns`): IsRecurrence2 = true with Recurrence2PatternText, an
  RFC 5545 RRULE such as "RRULE:FREQ=WEEKLY;INTERVAL=1;BYDAY=MO;COUNT=13".

Graph's side: https://learn.microsoft.com/en-us/graph/api/resources/recurrencepattern and
https://learn.microsoft.com/en-us/graph/api/resources/recurrencerange, with Exchange's
meaning. A pattern is sent only when Outlook's occurrences are exactly Salesforce's;
anything else is refused with the reason (`Unsupported`), and the series is reported
failed, never flattened. For the classic fields Salesforce documents no edge cases, so
where Outlook's reading is known to depend on one, the series is refused:

- day 29-31 (RecursMonthly, RecursYearly) reaching a shorter month: Outlook takes the
  month's last day; what Salesforce does is not documented;
- every N weeks on Sunday and other days: which week a Sunday belongs to depends on the
  day weeks start on, which Salesforce does not document (sunday is sent, as Graph's
  default);
- a time of day a clock change skips on some day of the range, and first starts whose
  wall-clock time is ambiguous (`recurrence_exactness`).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from syncd.core.recurrence_mapping import zone_info
from syncd.sync import recurrence_exactness as exact
from syncd.sync.rrule_patterns import rrule_pattern
from syncd.sync.series_pattern import Series, Unsupported, first_wall, refuse_short_month

__all__ = ["Series", "Unsupported", "classic_pattern", "rrule_pattern"]

#: RecurrenceDayOfWeekMask bits, Sunday = 1 ... Saturday = 64 (Event reference).
MASK_DAYS = (
    (1, "sunday"),
    (2, "monday"),
    (4, "tuesday"),
    (8, "wednesday"),
    (16, "thursday"),
    (32, "friday"),
    (64, "saturday"),
)
WEEKDAY_MASK = 2 | 4 | 8 | 16 | 32
#: RecurrenceInstance picklist -> Graph's weekIndex.
INSTANCES = {
    "first": "first",
    "second": "second",
    "third": "third",
    "fourth": "fourth",
    "last": "last",
}
MONTHS = (
    "january",
    "february",
    "march",
    "april",
    "may",
    "june",
    "july",
    "august",
    "september",
    "october",
    "november",
    "december",
)


def _days_of_mask(mask: int) -> list[str]:
    return [name for bit, name in MASK_DAYS if mask & bit]


def _positive(value: Any, default: int = 1) -> int:
    try:
        number = int(value) if value not in (None, "") else default
    except (TypeError, ValueError):
        return -1
    return number


def _refuse_clock_gaps(name: str, info: ZoneInfo, wall: datetime, last: date | None) -> None:
    """Classic series: Salesforce does not document what an occurrence at a skipped
    wall-clock time becomes, so a series whose time of day is skipped on any day of its
    range is refused."""
    limit = last or wall.date() + timedelta(days=365 * exact.CLOCK_YEARS)
    days = exact.gap_days(info, wall.time(), wall.date(), limit)
    if days:
        raise Unsupported(
            f"{name}: {wall:%H:%M} does not exist on {days[0].isoformat()} in {info.key} "
            "(the clocks skip it); Salesforce does not document where that occurrence goes"
        )


def classic_pattern(fields: Mapping[str, Any], start: datetime, *, all_day: bool = False) -> Series:
    """The classic recurrence fields of a series' main record -> Graph."""
    kind = str(fields.get("RecurrenceType") or "")
    zone = str(fields.get("RecurrenceTimeZoneSidKey") or "UTC")
    name = f"RecurrenceType={kind or '(empty)'}"
    info = zone_info(zone)
    if info is None:
        raise Unsupported(f"{name}: the series time zone '{zone}' is unknown")
    interval = _positive(fields.get("RecurrenceInterval"))
    if not 1 <= interval <= 99:
        raise Unsupported(f"{name}: RecurrenceInterval {fields.get('RecurrenceInterval')!r}")
    mask = _positive(fields.get("RecurrenceDayOfWeekMask"), 0)
    instance = str(fields.get("RecurrenceInstance") or "").strip().lower()
    month_name = str(fields.get("RecurrenceMonthOfYear") or "").strip().lower()
    day_of_month = _positive(fields.get("RecurrenceDayOfMonth"), 0)
    # Salesforce does not say which day starts its weeks; sunday is assumed, and the one
    # case where that matters (below) is refused.
    pattern: dict[str, Any] = {"type": "", "interval": interval, "firstDayOfWeek": "sunday"}
    if kind == "RecursDaily":
        pattern["type"] = "daily"
    elif kind == "RecursEveryWeekday":
        # Every weekday is a weekly Monday-Friday pattern in Graph.
        pattern.update(type="weekly", interval=1, daysOfWeek=_days_of_mask(WEEKDAY_MASK))
    elif kind == "RecursWeekly":
        if not 1 <= mask <= 127:
            raise Unsupported(f"{name}: RecurrenceDayOfWeekMask {mask} names no weekday")
        if interval > 1 and mask & 1 and mask != 1:
            # Every other week on Sunday and Monday differs between weeks that start on
            # Sunday and weeks that start on Monday; Salesforce does not document its own.
            raise Unsupported(
                f"{name}: every {interval} weeks on Sunday and other days depends on the "
                "day weeks start on, which Salesforce does not document"
            )
        pattern.update(type="weekly", daysOfWeek=_days_of_mask(mask))
    elif kind in ("RecursMonthly", "RecursYearly"):
        if not 1 <= day_of_month <= 31:
            raise Unsupported(
                f"{name}: RecurrenceDayOfMonth {day_of_month} is not a day of a month"
            )
        pattern.update(type="absoluteMonthly", dayOfMonth=day_of_month)
        if kind == "RecursYearly":
            if month_name not in MONTHS:
                raise Unsupported(f"{name}: RecurrenceMonthOfYear {month_name!r} is not a month")
            pattern.update(type="absoluteYearly", month=MONTHS.index(month_name) + 1, interval=1)
    elif kind in ("RecursMonthlyNth", "RecursYearlyNth"):
        if not 1 <= mask <= 127 or instance not in INSTANCES:
            raise Unsupported(
                f"{name}: RecurrenceInstance {instance or '(empty)'} with "
                f"RecurrenceDayOfWeekMask {mask} is not a weekday of the month"
            )
        pattern.update(
            type="relativeMonthly", daysOfWeek=_days_of_mask(mask), index=INSTANCES[instance]
        )
        if kind == "RecursYearlyNth":
            if month_name not in MONTHS:
                raise Unsupported(f"{name}: RecurrenceMonthOfYear {month_name!r} is not a month")
            pattern.update(type="relativeYearly", month=MONTHS.index(month_name) + 1, interval=1)
    else:
        raise Unsupported(f"{name} is not a recurrence type Outlook can express")
    first = fields.get("RecurrenceStartDateTime")
    wall = first_wall(first if isinstance(first, datetime) else start, info, all_day=all_day)
    span: dict[str, Any] = {
        "type": "noEnd",
        "startDate": wall.date().isoformat(),
        "recurrenceTimeZone": zone,
    }
    end = fields.get("RecurrenceEndDateOnly")
    end_day = None
    if end:
        end_day = end if isinstance(end, date) else date.fromisoformat(str(end)[:10])
        span.update(type="endDate", endDate=end_day.isoformat())
    if pattern["type"] in ("absoluteMonthly", "absoluteYearly"):
        first_month, step = wall.date(), interval
        if pattern["type"] == "absoluteYearly":
            month = pattern["month"]
            first_month = date(wall.year + (month < wall.month), month, 1)
            step = 12
        refuse_short_month(
            name,
            day_of_month,
            first_month,
            step,
            span,
            "Salesforce does not document where such an occurrence goes",
        )
    if not all_day:
        _refuse_clock_gaps(name, info, wall, end_day)
    text = ";".join(
        f"{key}={fields.get(key)}"
        for key in (
            "RecurrenceType",
            "RecurrenceInterval",
            "RecurrenceDayOfWeekMask",
            "RecurrenceDayOfMonth",
            "RecurrenceInstance",
            "RecurrenceMonthOfYear",
        )
        if fields.get(key) not in (None, "")
    )
    return Series({"pattern": pattern, "range": span}, zone, "classic", text)
