"""Recurring events in the sandbox: validating Graph's patternedRecurrence and expanding it.

patternedRecurrence = {pattern, range}:
https://learn.microsoft.com/en-us/graph/api/resources/patternedrecurrence
pattern types daily / weekly / absoluteMonthly / relativeMonthly / absoluteYearly /
relativeYearly, with interval, daysOfWeek, dayOfMonth, month, firstDayOfWeek and index
(first, second, third, fourth, last):
https://learn.microsoft.com/en-us/graph/api/resources/recurrencepattern
range types endDate / noEnd / numbered, startDate (the first occurrence is the first day
on or after it that fits the pattern), endDate (inclusive), numberOfOccurrences,
recurrenceTimeZone (defaults to the event's time zone):
https://learn.microsoft.com/en-us/graph/api/resources/recurrencerange

The expansion follows Exchange's meaning of these words, not RFC 5545's:

- firstDayOfWeek defaults to sunday (recurrencepattern) and decides which days belong
  to one week of an every-N-weeks pattern, as WKST does in the RFC (MS-OXCICAL's weekly
  template: https://learn.microsoft.com/en-us/openspecs/exchange_server_protocols/ms-oxcical/305b728b-8fb2-48d2-8709-7dab1686b9cc).
- dayOfMonth larger than a month's length falls on that month's last day, for monthly
  and yearly patterns alike, so February 29 yearly is February 28 in other years
  (https://learn.microsoft.com/en-us/exchange/client-developer/web-service-reference/dayofmonth).
- Several daysOfWeek in a relative pattern make one occurrence: the index-th day of the
  month that is any of them (recurrencepattern: "the event falls on the first day that
  satisfies the pattern"; MS-OXOCAL MonthNth, "Nth Weekday of month":
  https://learn.microsoft.com/en-us/openspecs/exchange_server_protocols/ms-oxocal/6ac538f5-8ba0-4dfe-a383-09fab61136db).
- numberOfOccurrences counts from startDate; endDate is inclusive (recurrencerange).

Occurrences keep the series master's wall-clock time in the master's start time zone,
so a weekly 09:00 Europe/Berlin meeting stays at 09:00 local across daylight saving
(its UTC instant moves by an hour; MS-OXOCAL keeps a series' time as minutes after
local midnight, StartTimeOffset:
https://learn.microsoft.com/en-us/openspecs/exchange_server_protocols/ms-oxocal/c8e2d103-f4e7-4de2-9cc9-0d8f8d8ef201).
Assumed, as nothing documents it: an occurrence whose wall-clock time the clock skips
moves forward by the gap (02:30 on the spring-forward day is 03:30), one whose time
comes twice takes the first pass. The expansion engine (`expand_dates`) works on a
neutral `Rule`, so the Salesforce sandbox can expand its classic patterns with it too.
"""

from __future__ import annotations

import calendar
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

from syncd.sandbox.microsoft.errors import bad_request
from syncd.sandbox.microsoft.timezones import resolve_zone

PATTERN_TYPES = (
    "daily",
    "weekly",
    "absoluteMonthly",
    "relativeMonthly",
    "absoluteYearly",
    "relativeYearly",
)
RANGE_TYPES = ("endDate", "noEnd", "numbered")
WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
INDEXES = ("first", "second", "third", "fourth", "last")
#: A safety bound on how many occurrences one expansion may produce.
MAX_OCCURRENCES = 5000


@dataclass(frozen=True)
class Rule:
    """A recurrence rule in neutral terms (days as Python weekday numbers, Monday = 0)."""

    freq: str  # daily | weekly | monthly | yearly
    interval: int = 1
    weekdays: frozenset[int] = frozenset()
    month_day: int | None = None  # absolute monthly / yearly
    week_index: int | None = None  # 1..4, or -1 for "last" (relative monthly / yearly)
    month: int | None = None  # yearly
    week_start: int = 6  # Sunday, Graph's default firstDayOfWeek
    start: date = date.min
    until: date | None = None  # inclusive
    count: int | None = None


def _enum(value: Any, allowed: tuple[str, ...], name: str) -> str:
    if isinstance(value, str):
        for option in allowed:
            if option.lower() == value.lower():
                return option
    raise bad_request(f"Requested value '{value}' was not found for property '{name}'.")


def _int(value: Any, name: str, low: int, high: int) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or not low <= value <= high:
        raise bad_request(f"'{name}' must be an integer from {low} to {high}, got '{value}'.")
    return value


def _date(value: Any, name: str) -> str:
    try:
        return date.fromisoformat(str(value)).isoformat()
    except ValueError as exc:
        raise bad_request(f"Cannot convert the literal '{value}' for property '{name}'.") from exc


def parse_recurrence(value: Any) -> dict[str, Any] | None:
    """A request's `recurrence` -> the normalised patternedRecurrence the store keeps.

    Required properties per type are those the recurrencePattern/recurrenceRange pages
    list; anything missing or out of range is Graph's 400.
    """
    if value is None:
        return None
    if not isinstance(value, dict):
        raise bad_request("'recurrence' must be a patternedRecurrence object.")
    lowered = {str(k).lower(): v for k, v in value.items()}
    pattern_in = lowered.get("pattern")
    range_in = lowered.get("range")
    if not isinstance(pattern_in, dict) or not isinstance(range_in, dict):
        raise bad_request("A patternedRecurrence needs a 'pattern' and a 'range'.")
    p = {str(k).lower(): v for k, v in pattern_in.items()}
    r = {str(k).lower(): v for k, v in range_in.items()}
    kind = _enum(p.get("type"), PATTERN_TYPES, "type")
    pattern: dict[str, Any] = {
        "type": kind,
        "interval": _int(p.get("interval", 1), "interval", 1, 99),
        "month": 0,
        "dayOfMonth": 0,
        "daysOfWeek": [],
        "firstDayOfWeek": _enum(p.get("firstdayofweek") or "sunday", WEEKDAYS, "firstDayOfWeek"),
        "index": _enum(p.get("index") or "first", INDEXES, "index"),
    }
    if kind in ("weekly", "relativeMonthly", "relativeYearly"):
        days = p.get("daysofweek")
        if not isinstance(days, list) or not days:
            raise bad_request(f"A '{kind}' pattern needs 'daysOfWeek'.")
        pattern["daysOfWeek"] = [_enum(d, WEEKDAYS, "daysOfWeek") for d in days]
    if kind in ("absoluteMonthly", "absoluteYearly"):
        pattern["dayOfMonth"] = _int(p.get("dayofmonth"), "dayOfMonth", 1, 31)
    if kind in ("absoluteYearly", "relativeYearly"):
        pattern["month"] = _int(p.get("month"), "month", 1, 12)
    range_kind = _enum(r.get("type"), RANGE_TYPES, "type")
    if not r.get("startdate"):
        raise bad_request("A recurrenceRange needs a 'startDate'.")
    out_range: dict[str, Any] = {
        "type": range_kind,
        "startDate": _date(r.get("startdate"), "startDate"),
        "endDate": "0001-01-01",
        "recurrenceTimeZone": str(r.get("recurrencetimezone") or ""),
        "numberOfOccurrences": 0,
    }
    if out_range["recurrenceTimeZone"]:
        # The same names as dateTimeTimeZone.timeZone: Windows or a listed IANA name.
        resolve_zone(out_range["recurrenceTimeZone"])
    if range_kind == "endDate":
        if not r.get("enddate"):
            raise bad_request("A recurrenceRange of type 'endDate' needs an 'endDate'.")
        out_range["endDate"] = _date(r.get("enddate"), "endDate")
        if out_range["endDate"] < out_range["startDate"]:
            raise bad_request("The recurrence range ends before it starts.")
    if range_kind == "numbered":
        out_range["numberOfOccurrences"] = _int(
            r.get("numberofoccurrences"), "numberOfOccurrences", 1, 999
        )
    return {"pattern": pattern, "range": out_range}


def check_range_start(recurrence: dict[str, Any] | None, start: datetime, start_zone: str) -> None:
    """Refuse a series whose range.startDate is not the date of its start.

    https://learn.microsoft.com/en-us/graph/api/resources/recurrencerange: startDate "Must
    be the same value as the start property of the recurring event"; recurrenceTimeZone is
    the "Time zone for the startDate and endDate properties ... If not specified, the time
    zone of the event is used". What Graph does with another startDate is not documented
    (the expansion would start at startDate, before the event's start); the sandbox
    answers 400 (ASSUMED code and message), so a client that breaks the rule fails here.
    """
    if recurrence is None:
        return
    span = recurrence["range"]
    zone_name = span.get("recurrenceTimeZone") or start_zone
    day = start.astimezone(resolve_zone(zone_name)).date().isoformat()
    if span["startDate"] != day:
        raise bad_request(
            f"The recurrence range's startDate {span['startDate']} must be the date of the "
            f"event's start ({day} in '{zone_name}')."
        )


def rule_of(recurrence: dict[str, Any]) -> Rule:
    """The neutral rule of a stored (normalised) patternedRecurrence."""
    pattern, span = recurrence["pattern"], recurrence["range"]
    kind = pattern["type"]
    freq = {
        "daily": "daily",
        "weekly": "weekly",
        "absoluteMonthly": "monthly",
        "relativeMonthly": "monthly",
        "absoluteYearly": "yearly",
        "relativeYearly": "yearly",
    }[kind]
    relative = kind.startswith("relative")
    index = INDEXES.index(pattern["index"]) + 1
    return Rule(
        freq=freq,
        interval=pattern["interval"],
        weekdays=frozenset(WEEKDAYS.index(d) for d in pattern["daysOfWeek"]),
        month_day=pattern["dayOfMonth"] or None,
        week_index=(-1 if index == 5 else index) if relative else None,
        month=pattern["month"] or None,
        week_start=WEEKDAYS.index(pattern["firstDayOfWeek"]),
        start=date.fromisoformat(span["startDate"]),
        until=date.fromisoformat(span["endDate"]) if span["type"] == "endDate" else None,
        count=span["numberOfOccurrences"] if span["type"] == "numbered" else None,
    )


def _month_day(year: int, month: int, day: int) -> date:
    # "Day 31 of every month" falls on the last day of shorter months, as Exchange does
    # (https://learn.microsoft.com/en-us/exchange/client-developer/web-service-reference/dayofmonth).
    return date(year, month, min(day, calendar.monthrange(year, month)[1]))


def _nth_weekday(year: int, month: int, weekdays: frozenset[int], index: int) -> date | None:
    # The index-th day of the month that is any of `weekdays`: one occurrence however many
    # days are listed (MS-OXOCAL MonthNth, see the module's docstring).
    days = [
        date(year, month, d)
        for d in range(1, calendar.monthrange(year, month)[1] + 1)
        if date(year, month, d).weekday() in weekdays
    ]
    if not days:
        return None
    if index == -1:
        return days[-1]
    return days[index - 1] if index <= len(days) else None


def _candidates(rule: Rule) -> Iterator[date]:
    """Dates that fit the pattern, ascending, from the rule's start period on."""
    step = max(1, rule.interval)
    if rule.freq == "daily":
        day = rule.start
        while True:
            if not rule.weekdays or day.weekday() in rule.weekdays:
                yield day
            day += timedelta(days=step)
    elif rule.freq == "weekly":
        week = rule.start - timedelta(days=(rule.start.weekday() - rule.week_start) % 7)
        order = [(rule.week_start + i) % 7 for i in range(7)]
        while True:
            for offset, weekday in enumerate(order):
                if weekday in rule.weekdays:
                    yield week + timedelta(days=offset)
            week += timedelta(weeks=step)
    else:
        months = 12 * step if rule.freq == "yearly" else step
        year, month = rule.start.year, rule.start.month
        if rule.freq == "yearly" and rule.month:
            month = rule.month
            if month < rule.start.month:
                year += 1
        while True:
            if rule.week_index is not None:
                found = _nth_weekday(year, month, rule.weekdays, rule.week_index)
            else:
                found = _month_day(year, month, rule.month_day or rule.start.day)
            if found is not None:
                yield found
            total = year * 12 + (month - 1) + months
            year, month = divmod(total, 12)
            month += 1


def expand_dates(rule: Rule, *, horizon: date) -> list[date]:
    """The occurrence dates of `rule`: on or after its start, within its range, <= horizon."""
    dates: list[date] = []
    for day in _candidates(rule):
        if day < rule.start:
            continue
        if (rule.until is not None and day > rule.until) or day > horizon:
            break
        if rule.count is not None and len(dates) >= rule.count:
            break
        dates.append(day)
        if len(dates) >= MAX_OCCURRENCES:
            break
    return dates


def local_starts(first_start_local: datetime, rule: Rule, *, horizon: date) -> list[datetime]:
    """Local (zone-aware) start of each occurrence: the pattern's dates at the master's time of day.

    `first_start_local` is the master's start in its own zone (aware). Each occurrence is
    built as a wall-clock time in that zone, so daylight saving moves its UTC instant.
    """
    zone = first_start_local.tzinfo
    # The wall-clock time alone (fold=0): a repeated hour means its first pass (assumed).
    clock = first_start_local.timetz().replace(tzinfo=None, fold=0)
    # Through UTC and back: a wall-clock time the clock skips moves forward by the gap.
    return [
        datetime.combine(day, clock).replace(tzinfo=zone).astimezone(UTC).astimezone(zone)
        for day in expand_dates(rule, horizon=horizon)
    ]


def series_starts(
    recurrence: dict[str, Any], first_start_local: datetime, *, horizon: date
) -> list[datetime]:
    """The UTC starts of a series: `recurrence` as a request gives it (validated like one),
    the master's start as an aware wall-clock time in its zone."""
    normalised = parse_recurrence(recurrence)
    assert normalised is not None
    return [
        local.astimezone(UTC)
        for local in local_starts(first_start_local, rule_of(normalised), horizon=horizon)
    ]
