"""Where a Salesforce series and its Outlook pattern would fall on different days or times.

The mapping in `recurrence_patterns` only sends a pattern whose Outlook occurrences are
exactly the Salesforce ones; these pure helpers find the cases where the two calendars'
rules part, so the mapping can refuse them with a reason instead of differing silently.

- Days 29-31. RFC 5545 section 3.3.10 ignores a BYMONTHDAY a month does not have
  (https://datatracker.ietf.org/doc/html/rfc5545#section-3.3.10: "BYMONTHDAY=30 in
  February ... simply ignored"); Exchange puts the occurrence on the month's last day
  (https://learn.microsoft.com/en-us/exchange/client-developer/web-service-reference/dayofmonth:
  "If for a particular month this value is larger than the number of days in the month, the
  last day of the month is assumed", for AbsoluteMonthlyRecurrence and
  AbsoluteYearlyRecurrence alike, so February 29 yearly falls on the 28th).
  `first_short_month` finds the first month where the two differ.
- Clock changes. RFC 5545 section 3.3.10: an instance at a nonexistent local time "MUST be
  ignored and MUST NOT be counted"; section 3.3.5 reads a nonexistent DTSTART with the
  offset before the gap and a repeated one as its first occurrence. What Exchange does
  with an occurrence whose wall-clock time the clock skips is not documented (assumed:
  the occurrence moves forward by the gap, as the Windows zone rules read such a time).
  `zone_gaps` and `gap_days` find the days a wall-clock time does not exist;
  `ambiguous_start` names a first start that Graph's zone-local `dateTime` cannot state.
"""

from __future__ import annotations

import calendar
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo

#: How far a series without an end is followed for calendar arithmetic: the Gregorian
#: calendar repeats every 400 years, so nothing new happens after that.
CALENDAR_YEARS = 400
#: How far a series without an end is followed for clock changes. Zone rules are only
#: projected from today's law, so looking further would be guessing.
CLOCK_YEARS = 100
#: Zone offsets are sampled this often; two clock changes less than a week apart would
#: be missed (the IANA database projects none into the future).
_PROBE = timedelta(days=7)


@dataclass(frozen=True)
class Gap:
    """Wall-clock times a zone's clock skips: [start, end), naive local times."""

    start: datetime
    end: datetime

    @property
    def length(self) -> timedelta:
        return self.end - self.start


def _transition(zone: ZoneInfo, low: datetime, high: datetime) -> datetime:
    """The first instant in (low, high] with high's offset (low's offset differs)."""
    after = high.astimezone(zone).utcoffset()
    while high - low > timedelta(seconds=1):
        middle = low + (high - low) / 2
        if middle.astimezone(zone).utcoffset() == after:
            high = middle
        else:
            low = middle
    return high.replace(microsecond=0)


@lru_cache(maxsize=8192)
def _year_gaps(key: str, year: int) -> tuple[Gap, ...]:
    zone = ZoneInfo(key)
    probe = datetime(year, 1, 1, tzinfo=UTC)
    stop = datetime(year + 1, 1, 1, tzinfo=UTC)
    gaps = []
    while probe < stop:
        after = min(probe + _PROBE, stop)
        before_offset = probe.astimezone(zone).utcoffset()
        after_offset = after.astimezone(zone).utcoffset()
        assert before_offset is not None and after_offset is not None
        if after_offset > before_offset:
            instant = _transition(zone, probe, after).replace(tzinfo=None)
            gaps.append(Gap(instant + before_offset, instant + after_offset))
        probe = after
    return tuple(gaps)


def zone_gaps(zone: ZoneInfo, first: date, last: date) -> list[Gap]:
    """The clock's forward jumps in `zone` whose skipped times touch [first, last]."""
    found: list[Gap] = []
    for year in range(first.year - 1, last.year + 1):
        found.extend(
            gap
            for gap in _year_gaps(zone.key, year)
            if gap.end.date() >= first and gap.start.date() <= last
        )
    return found


def gap_days(zone: ZoneInfo, clock: time, first: date, last: date) -> list[date]:
    """The days in [first, last] on which the wall-clock time `clock` does not exist."""
    days = []
    for gap in zone_gaps(zone, first, last):
        for day in {gap.start.date(), gap.end.date()}:
            if first <= day <= last and gap.start <= datetime.combine(day, clock) < gap.end:
                days.append(day)
    return sorted(days)


def ambiguous_start(instant: datetime, zone: ZoneInfo) -> str | None:
    """Why a series' first start cannot be written as a wall-clock time in `zone`, or None.

    Graph takes the series' start as a local `dateTime` in a zone; Outlook repeats that
    wall-clock time. Two first starts have no such time that means them alone:
    - the second pass of a repeated hour (clocks going back): the local time names the
      first pass (RFC 5545 section 3.3.5; Exchange assumed alike);
    - a time just after a forward jump: Salesforce keeps instants, and that instant is
      also what a start inside the skipped hour means (RFC 5545 section 3.3.5), after
      which later occurrences keep the skipped wall-clock time. Which one the series
      meant cannot be told, so neither is sent.
    """
    local = instant.astimezone(zone)
    wall = local.replace(tzinfo=None, fold=0)
    shown = f"{wall:%H:%M} on {wall:%Y-%m-%d} in {zone.key}"
    if local.fold and wall.replace(tzinfo=zone).astimezone(UTC) != instant.astimezone(UTC):
        return (
            f"the series starts at the second {shown} (clocks went back); Outlook would "
            "read that time as the first one"
        )
    for gap in zone_gaps(zone, wall.date() - timedelta(days=1), wall.date()):
        if gap.end <= wall < gap.end + gap.length:
            skipped = wall - gap.length
            return (
                f"the series starts at {shown}, right after the clocks jumped forward: "
                f"it may stand for {skipped:%H:%M}, a time the clock skipped, which "
                f"later occurrences would keep; Salesforce's start instant does not say which"
            )
    return None


def step_months(year: int, month: int, step: int) -> tuple[int, int]:
    """(year, month) `step` months after (year, month)."""
    total = year * 12 + month - 1 + step
    return total // 12, total % 12 + 1


def first_short_month(
    day: int, first: date, step: int, *, count: int | None, last: date | None
) -> date | None:
    """The first month of an absolute monthly/yearly series that lacks day `day`, or None.

    The series falls on `day` every `step` months from `first`'s month; it ends after
    `count` occurrences or on `last` (inclusive), else it is followed CALENDAR_YEARS.
    Only a short month Outlook would fill (its last day on or before `last`, before the
    count is used up) makes the two differ.
    """
    year, month = first.year, first.month
    limit = last or date(first.year + CALENDAR_YEARS, 12, 31)
    seen = 0
    while True:
        length = calendar.monthrange(year, month)[1]
        if date(year, month, min(day, length)) > limit:
            return None
        if day > length:
            return date(year, month, length)
        seen += 1
        if count is not None and seen >= count:
            return None
        year, month = step_months(year, month, step)


def first_common(days: Iterable[date], occurrences: Iterable[date]) -> date | None:
    """The first of `days` (ascending) that is also among `occurrences` (ascending)."""
    wanted = sorted(set(days))
    if not wanted:
        return None
    for day in occurrences:
        if day > wanted[-1]:
            return None
        if day in wanted:
            return day
    return None
