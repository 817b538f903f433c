"""Salesforce recurrence -> Graph patternedRecurrence (pure).

Salesforce has two models of a recurring Event
(https://developer.salesforce.com/docs/atlas.en-us.object_reference.meta/object_reference/sforce_api_objects_event.htm):

- classic: the series' main record has IsRecurrence = true and RecurrenceType
  (RecursDaily, RecursEveryWeekday, RecursWeekly, RecursMonthly, RecursMonthlyNth,
  RecursYearly, RecursYearlyNth), RecurrenceInterval, RecurrenceDayOfWeekMask (Sunday = 1,
  Monday = 2, Tuesday = 4, ... Saturday = 64), RecurrenceDayOfMonth, RecurrenceInstance
  (First .. Last), RecurrenceMonthOfYear, RecurrenceStartDateTime, RecurrenceEndDateOnly and
  RecurrenceTimeZoneSidKey; each occurrence is an Event whose RecurrenceActivityId is the
  main record's id.
- Lightning: IsRecurrence2 = true with Recurrence2PatternText, an RFC 5545 RRULE such as
  "RRULE:FREQ=WEEKLY;INTERVAL=1;BYDAY=MO;COUNT=13", Recurrence2PatternTimeZone and
  Recurrence2PatternStartDate
  (https://developer.salesforce.com/docs/atlas.en-us.230.0.change_data_capture.meta/change_data_capture/cdc_standard_objects_task_event_recurring.htm
  shows such a series).

Graph's side (https://learn.microsoft.com/en-us/graph/api/resources/recurrencepattern and
https://learn.microsoft.com/en-us/graph/api/resources/recurrencerange): pattern types daily,
weekly, absoluteMonthly, relativeMonthly, absoluteYearly, relativeYearly with interval,
daysOfWeek, dayOfMonth, month, firstDayOfWeek, index (first, second, third, fourth, last);
range types endDate, noEnd, numbered.

What Graph cannot express (hourly or minutely series, BYHOUR, BYSETPOS combinations,
COUNT together with UNTIL, several months or month days, fifth weekdays, ...) comes back
as a reason naming the pattern: such a series is reported failed, never flattened.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

from syncd.core.recurrence_mapping import zone_info
from syncd.domain import utc

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
RRULE_DAYS = {
    "SU": "sunday",
    "MO": "monday",
    "TU": "tuesday",
    "WE": "wednesday",
    "TH": "thursday",
    "FR": "friday",
    "SA": "saturday",
}
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


@dataclass(frozen=True)
class Series:
    """A Salesforce series as Outlook will hold it."""

    recurrence: dict[str, Any]
    time_zone: str
    model: str  # classic | lightning
    pattern_text: str  # how the pattern is named in messages


class Unsupported(ValueError):
    """A pattern Graph cannot express; the message names the pattern and why."""


def _local_date(instant: datetime, zone: str) -> date:
    info = zone_info(zone)
    assert info is not None
    return utc(instant).astimezone(info).date()


def _days_of_mask(mask: int) -> list[str]:
    return [name for bit, name in MASK_DAYS if mask & bit]


def _positive(value: Any, default: int = 1) -> int:
    try:
        number = int(value) if value not in (None, "") else default
    except (TypeError, ValueError):
        return -1
    return number


def classic_pattern(fields: Mapping[str, Any], start: datetime) -> Series:
    """The classic recurrence fields of a series' main record -> Graph."""
    kind = str(fields.get("RecurrenceType") or "")
    zone = str(fields.get("RecurrenceTimeZoneSidKey") or "UTC")
    name = f"RecurrenceType={kind or '(empty)'}"
    if zone_info(zone) is None:
        raise Unsupported(f"{name}: the series time zone '{zone}' is unknown")
    interval = _positive(fields.get("RecurrenceInterval"))
    if not 1 <= interval <= 99:
        raise Unsupported(f"{name}: RecurrenceInterval {fields.get('RecurrenceInterval')!r}")
    mask = _positive(fields.get("RecurrenceDayOfWeekMask"), 0)
    instance = str(fields.get("RecurrenceInstance") or "").strip().lower()
    month_name = str(fields.get("RecurrenceMonthOfYear") or "").strip().lower()
    day_of_month = _positive(fields.get("RecurrenceDayOfMonth"), 0)
    pattern: dict[str, Any] = {"type": "", "interval": interval, "firstDayOfWeek": "sunday"}
    if kind == "RecursDaily":
        pattern["type"] = "daily"
    elif kind == "RecursEveryWeekday":
        # Every weekday is a weekly Monday-Friday pattern in Graph.
        pattern.update(type="weekly", interval=1, daysOfWeek=_days_of_mask(WEEKDAY_MASK))
    elif kind == "RecursWeekly":
        if not 1 <= mask <= 127:
            raise Unsupported(f"{name}: RecurrenceDayOfWeekMask {mask} names no weekday")
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
    first_day = _local_date(first if isinstance(first, datetime) else start, zone)
    span: dict[str, Any] = {
        "type": "noEnd",
        "startDate": first_day.isoformat(),
        "recurrenceTimeZone": zone,
    }
    end = fields.get("RecurrenceEndDateOnly")
    if end:
        end_day = end if isinstance(end, date) else date.fromisoformat(str(end)[:10])
        span.update(type="endDate", endDate=end_day.isoformat())
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


def _until_date(value: str, zone: str, start: datetime) -> date:
    """The last date an occurrence may fall on: UNTIL is an inclusive instant (RFC 5545),
    Graph's endDate a date, so an UNTIL before the series' time of day ends the day before."""
    text = value.rstrip("Z")
    info = zone_info(zone)
    assert info is not None
    try:
        if "T" not in text:
            return datetime.strptime(text, "%Y%m%d").date()
        stamp = datetime.strptime(text, "%Y%m%dT%H%M%S")
    except ValueError as exc:
        raise Unsupported(f"UNTIL={value} is not a date") from exc
    local = stamp.replace(tzinfo=UTC).astimezone(info) if value.endswith("Z") else stamp
    first = utc(start).astimezone(info)
    if local.time().replace(tzinfo=None) < first.time().replace(tzinfo=None):
        return local.date() - timedelta(days=1)
    return local.date()


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


def rrule_pattern(text: str, zone: str, start: datetime) -> Series:
    """A Lightning RRULE (Recurrence2PatternText) -> Graph, or Unsupported naming the part."""
    shown = " ".join(text.split())
    try:
        return _rrule_pattern(text, zone, start, shown)
    except Unsupported as error:
        raise Unsupported(f"'{shown[:120]}': {error}") from None


def _rrule_pattern(text: str, zone: str, start: datetime, shown: str) -> Series:
    if zone_info(zone) is None:
        raise Unsupported(f"the series time zone '{zone}' is unknown")
    parts = _rrule_parts(text)
    unknown = sorted(set(parts) - RRULE_PARTS)
    if unknown:
        raise Unsupported(f"{unknown[0]} has no Outlook equivalent")
    freq = parts.get("FREQ", "")
    if freq not in ("DAILY", "WEEKLY", "MONTHLY", "YEARLY"):
        raise Unsupported(f"FREQ={freq or '(missing)'} has no Outlook equivalent")
    if "COUNT" in parts and "UNTIL" in parts:
        raise Unsupported("COUNT together with UNTIL")
    try:
        interval = int(parts.get("INTERVAL", "1"))
    except ValueError as exc:
        raise Unsupported(f"INTERVAL={parts['INTERVAL']}") from exc
    if not 1 <= interval <= 99:
        raise Unsupported(f"INTERVAL={interval}")
    week_start = RRULE_DAYS.get(parts.get("WKST", "SU"))
    if week_start is None:
        raise Unsupported(f"WKST={parts['WKST']}")
    first_day = _local_date(start, zone)
    days = _byday(parts["BYDAY"]) if "BYDAY" in parts else []
    month_days = parts.get("BYMONTHDAY")
    months = parts.get("BYMONTH")
    setpos = parts.get("BYSETPOS")
    pattern: dict[str, Any] = {"interval": interval, "firstDayOfWeek": week_start}
    if month_days is not None and ("," in month_days or not month_days.isdigit()):
        raise Unsupported(f"BYMONTHDAY={month_days} (Outlook takes one day of the month, 1-31)")
    if months is not None and ("," in months or not months.isdigit() or not 1 <= int(months) <= 12):
        raise Unsupported(f"BYMONTH={months} (Outlook takes one month)")
    if setpos is not None:
        if freq not in ("MONTHLY", "YEARLY") or not days or month_days is not None:
            raise Unsupported(f"BYSETPOS={setpos} in this combination")
        if any(ordinal is not None for ordinal, _ in days):
            raise Unsupported(f"BYSETPOS={setpos} with ordinal BYDAY values")
        try:
            position = int(setpos)
        except ValueError as exc:
            raise Unsupported(f"BYSETPOS={setpos}") from exc
        if position not in SETPOS:
            raise Unsupported(f"BYSETPOS={setpos} (Outlook knows first to fourth and last)")
        days = [(position, name) for _, name in days]
    if freq == "DAILY":
        if month_days or months:
            raise Unsupported("a daily rule limited to month days or months")
        if days:
            if interval != 1 or any(o is not None for o, _ in days):
                raise Unsupported(f"FREQ=DAILY;INTERVAL={interval};BYDAY={parts['BYDAY']}")
            pattern.update(type="weekly", daysOfWeek=[name for _, name in days])
        else:
            pattern["type"] = "daily"
    elif freq == "WEEKLY":
        if month_days or months:
            raise Unsupported("a weekly rule limited to month days or months")
        if any(o is not None for o, _ in days):
            raise Unsupported(f"BYDAY={parts['BYDAY']} with ordinals in a weekly rule")
        names = [name for _, name in days] or [first_day.strftime("%A").lower()]
        pattern.update(type="weekly", daysOfWeek=names)
    else:
        yearly = freq == "YEARLY"
        if days:
            ordinals = {o for o, _ in days}
            if len(ordinals) != 1 or None in ordinals:
                raise Unsupported(
                    f"BYDAY={parts['BYDAY']} (Outlook takes one position in the month)"
                )
            (ordinal,) = ordinals
            if ordinal not in SETPOS:
                raise Unsupported(
                    f"BYDAY={parts['BYDAY']} (Outlook knows first to fourth and last)"
                )
            if month_days:
                raise Unsupported("BYDAY together with BYMONTHDAY")
            pattern.update(
                type="relativeYearly" if yearly else "relativeMonthly",
                daysOfWeek=[name for _, name in days],
                index=SETPOS[ordinal],
            )
        else:
            day = int(month_days) if month_days else first_day.day
            if not 1 <= day <= 31:
                raise Unsupported(f"BYMONTHDAY={month_days}")
            pattern.update(type="absoluteYearly" if yearly else "absoluteMonthly", dayOfMonth=day)
        if yearly:
            pattern["month"] = int(months) if months else first_day.month
        elif months:
            raise Unsupported(f"BYMONTH={months} in a monthly rule")
    span: dict[str, Any] = {
        "type": "noEnd",
        "startDate": first_day.isoformat(),
        "recurrenceTimeZone": zone,
    }
    if "COUNT" in parts:
        try:
            count = int(parts["COUNT"])
        except ValueError as exc:
            raise Unsupported(f"COUNT={parts['COUNT']}") from exc
        if not 1 <= count <= 999:
            raise Unsupported(f"COUNT={count}")
        span.update(type="numbered", numberOfOccurrences=count)
    elif "UNTIL" in parts:
        span.update(type="endDate", endDate=_until_date(parts["UNTIL"], zone, start).isoformat())
    return Series({"pattern": pattern, "range": span}, zone, "lightning", shown)
