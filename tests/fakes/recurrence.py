"""Expanding a Graph patternedRecurrence into local start times, for MemoryGraph.

Supported: `daily`, `weekly` (several days, any interval, `firstDayOfWeek`, default
sunday as in Graph) and `absoluteMonthly` (a day past the month's end falls on its last
day, Exchange's rule); ranges `endDate`, `numbered` and `noEnd`.
https://learn.microsoft.com/graph/api/resources/recurrencepattern
https://learn.microsoft.com/graph/api/resources/recurrencerange
Anything else is refused with the pattern named, so a test never silently gets no
occurrences.
"""

from __future__ import annotations

import calendar
from collections.abc import Iterator, Mapping
from datetime import date, datetime, timedelta
from typing import Any

WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
SUPPORTED = ("daily", "weekly", "absoluteMonthly")


def check(recurrence: Mapping[str, Any]) -> None:
    """Refuse a pattern this fake cannot expand (ValueError naming it)."""
    kind = (recurrence.get("pattern") or {}).get("type")
    if kind not in SUPPORTED:
        raise ValueError(f"MemoryGraph expands {', '.join(SUPPORTED)} patterns, not {kind!r}")


def local_starts(
    first: datetime, recurrence: Mapping[str, Any], horizon: date
) -> Iterator[datetime]:
    """Starts of the series (in `first`'s zone, its wall-clock time kept) up to `horizon`."""
    span = recurrence.get("range") or {}
    limit = _last_date(span, horizon)
    remaining = int(span["numberOfOccurrences"]) if span.get("type") == "numbered" else None
    start_day = date.fromisoformat(str(span.get("startDate") or first.date().isoformat()))
    for day in _days(recurrence.get("pattern") or {}, start_day):
        if day > limit or remaining == 0:
            return
        if remaining is not None:
            remaining -= 1
        yield datetime.combine(day, first.timetz().replace(tzinfo=None), tzinfo=first.tzinfo)


def _last_date(span: Mapping[str, Any], horizon: date) -> date:
    if span.get("type") == "endDate" and span.get("endDate"):
        return min(horizon, date.fromisoformat(str(span["endDate"])))
    return horizon


def _days(pattern: Mapping[str, Any], start: date) -> Iterator[date]:
    kind = pattern.get("type")
    interval = max(1, int(pattern.get("interval") or 1))
    if kind == "daily":
        day = start
        while True:
            yield day
            day += timedelta(days=interval)
    elif kind == "weekly":
        wanted = sorted(WEEKDAYS.index(d.lower()) for d in pattern.get("daysOfWeek") or [])
        first_day = WEEKDAYS.index(str(pattern.get("firstDayOfWeek") or "sunday").lower())
        week = start - timedelta(days=(start.weekday() - first_day) % 7)
        while True:
            for offset in range(7):
                day = week + timedelta(days=offset)
                if day.weekday() in wanted and day >= start:
                    yield day
            week += timedelta(weeks=interval)
    elif kind == "absoluteMonthly":
        wanted_day = int(pattern.get("dayOfMonth") or start.day)
        year, month = start.year, start.month
        while True:
            last = calendar.monthrange(year, month)[1]
            day = date(year, month, min(wanted_day, last))
            if day >= start:
                yield day
            month += interval
            year, month = year + (month - 1) // 12, (month - 1) % 12 + 1
    else:
        raise ValueError(f"MemoryGraph expands {', '.join(SUPPORTED)} patterns, not {kind!r}")
