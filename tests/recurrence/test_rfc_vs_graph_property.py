"""Property: for any Lightning rule in the supported subset, syncd either refuses it with a
reason, or Outlook's occurrences of syncd's mapping are exactly RFC 5545's.

RFC 5545's occurrences come from the Salesforce sandbox (python-dateutil), Outlook's from
the Graph sandbox (Exchange's reading), so neither side is syncd's own idea of the rule.
Zones cover west and east of UTC, the southern hemisphere, half- and quarter-hour
offsets, zones without daylight saving and clock changes at midnight; first starts
cluster around the days the clocks change, at the times they change.
"""

from __future__ import annotations

import calendar
from datetime import UTC, date, datetime, time, timedelta
from functools import cache
from zoneinfo import ZoneInfo

from dateutil.tz import datetime_ambiguous, datetime_exists
from hypothesis import event, given, settings
from hypothesis import strategies as st

from syncd.sync.recurrence_patterns import Unsupported, rrule_pattern

from .expansions import outlook_starts, rfc_starts

ZONES = (
    "America/New_York",  # west of UTC, clocks change at 02:00
    "America/Santiago",  # southern hemisphere, clocks change at midnight
    "America/Sao_Paulo",  # no daylight saving (since 2019)
    "America/Phoenix",  # no daylight saving
    "Europe/Berlin",
    "Europe/London",  # clocks change at 01:00
    "Australia/Adelaide",  # half-hour offset, southern daylight saving
    "Australia/Sydney",
    "Pacific/Chatham",  # +12:45 / +13:45
    "Asia/Kolkata",  # half-hour offset, no daylight saving
    "Asia/Kathmandu",  # quarter-hour offset
    "UTC",
)
TIMES = (time(0, 0), time(0, 30), time(1, 30), time(2, 0), time(2, 30), time(3, 0))
TIMES += (time(3, 30), time(2, 45), time(9, 0), time(12, 15), time(23, 30))
DAYS = ("MO", "TU", "WE", "TH", "FR", "SA", "SU")
FIRST_YEAR, LAST_YEAR = 2026, 2030


@cache
def _clock_changes(key: str) -> tuple[tuple[datetime, timedelta], ...]:
    """(wall-clock time just before, jump) of each change of the zone's UTC offset,
    FIRST_YEAR..LAST_YEAR; the jump is negative when the clocks go back."""
    zone = ZoneInfo(key)

    def offset(instant: datetime) -> timedelta:
        found = instant.astimezone(zone).utcoffset()
        assert found is not None
        return found

    probe = datetime(FIRST_YEAR, 1, 1, tzinfo=UTC)
    changes = []
    while probe.year <= LAST_YEAR:
        low, high = probe, probe + timedelta(days=1)
        if offset(low) != offset(high):
            while high - low > timedelta(minutes=1):
                middle = low + (high - low) / 2
                low, high = (middle, high) if offset(middle) == offset(low) else (low, middle)
            wall = (high + offset(low)).replace(tzinfo=None)
            changes.append((wall, offset(high) - offset(low)))
        probe += timedelta(days=1)
    return tuple(changes)


@st.composite
def first_starts(draw: st.DrawFn) -> datetime:
    """A DTSTART as a wall-clock time in its zone: often in, just before or just after the
    hour a clock change skips or repeats, on that day or a day or two around it."""
    key = draw(st.sampled_from(ZONES))
    zone = ZoneInfo(key)
    changes = _clock_changes(key)
    if changes and draw(st.integers(0, 2)):
        change, jump = draw(st.sampled_from(changes))
        minutes = draw(st.sampled_from((-60, -30, 0, 15, 30, 45, 60, 90)))
        wall = change + timedelta(minutes=minutes) * (abs(jump) / timedelta(hours=1))
        wall += timedelta(days=draw(st.sampled_from((0, 0, 0, -1, 1, 7))))
        wall = wall.replace(second=0, microsecond=0)
    else:
        # Month ends often: days 29-31 and February 29 are where calendars part.
        year = draw(st.integers(FIRST_YEAR, LAST_YEAR))
        month = draw(st.integers(1, 12))
        length = calendar.monthrange(year, month)[1]
        day = min(length, draw(st.sampled_from((1, 7, 15, 28, 29, 30, 31, 31))))
        wall = datetime.combine(date(year, month, day), draw(st.sampled_from(TIMES)))
    wall = wall.replace(tzinfo=zone)
    # fold=1 picks the second pass of a repeated time (an instant Salesforce can hold);
    # a skipped time is read with the offset before the gap (RFC 5545 section 3.3.5).
    repeated = datetime_exists(wall) and datetime_ambiguous(wall)
    return wall.replace(fold=draw(st.integers(0, 1))) if repeated else wall


def _position(day: date) -> int:
    """`day`'s weekday position in its month: 1-4, or -1 for the last (5th) one."""
    return -1 if day.day + 7 > calendar.monthrange(day.year, day.month)[1] else (day.day + 6) // 7


@st.composite
def rules(draw: st.DrawFn, first: datetime) -> str:
    """An RRULE of the supported subset, mostly built to fit `first`, sometimes not."""
    day = first.date()
    weekday = DAYS[day.weekday()]
    freq = draw(st.sampled_from(("DAILY", "WEEKLY", "WEEKLY", "MONTHLY", "MONTHLY", "YEARLY")))
    freq = freq if draw(st.integers(0, 3)) else "YEARLY"
    parts = [f"FREQ={freq}"]
    if draw(st.integers(0, 2)):
        parts.append(f"INTERVAL={draw(st.integers(1, 4))}")
    other_days = draw(st.lists(st.sampled_from(DAYS), max_size=3, unique=True))
    if draw(st.booleans()):
        other_days.append("SU")  # the day whose week a week start decides
    days = sorted({weekday, *other_days} if draw(st.integers(0, 9)) else set(other_days))
    if freq in ("DAILY", "WEEKLY"):
        if days and draw(st.integers(0, 3)):
            parts.append("BYDAY=" + ",".join(days))
    else:
        shape = draw(
            st.sampled_from(("plain", "monthday", "monthday", "last", "nth", "setpos", "ordinals"))
        )
        position = _position(day)
        if shape == "monthday":
            month_day = day.day if draw(st.integers(0, 5)) else draw(st.integers(1, 31))
            parts.append(f"BYMONTHDAY={month_day}")
        elif shape == "last":
            parts.append("BYMONTHDAY=-1")
        elif shape == "nth":
            parts.append(f"BYDAY={position}{weekday}")
        elif shape == "setpos" and days:
            ordered = [d for d in DAYS if d in days]
            matching = [
                d
                for d in range(1, calendar.monthrange(day.year, day.month)[1] + 1)
                if DAYS[date(day.year, day.month, d).weekday()] in ordered
            ]
            index = matching.index(day.day) + 1 if day.day in matching else 1
            setpos = -1 if index == len(matching) and draw(st.booleans()) else index
            parts.append("BYDAY=" + ",".join(ordered))
            parts.append(f"BYSETPOS={setpos}")
        elif shape == "ordinals":
            parts.append(f"BYDAY={position}{weekday}," + ",".join(f"{position}{d}" for d in days))
        if freq == "YEARLY" and draw(st.booleans()):
            parts.append(f"BYMONTH={day.month}")
    end = draw(st.sampled_from(("count", "until", "none")))
    if end == "count":
        parts.append(f"COUNT={draw(st.integers(1, 15))}")
    elif end == "until":
        until = first.astimezone(UTC) + timedelta(
            days=draw(st.integers(0, 800)), minutes=draw(st.sampled_from((-90, -1, 0, 1, 60)))
        )
        parts.append(f"UNTIL={until:%Y%m%dT%H%M%SZ}")
    if not draw(st.integers(0, 2)):
        parts.append(f"WKST={draw(st.sampled_from(DAYS))}")
    return "RRULE:" + ";".join(parts)


@settings(max_examples=300, derandomize=True, database=None, deadline=None)
@given(st.data())
def test_outlook_has_the_rfc_s_occurrences_or_syncd_refuses(data: st.DataObject) -> None:
    first = data.draw(first_starts(), label="first start")
    text = data.draw(rules(first), label="rule")
    assert isinstance(first.tzinfo, ZoneInfo)
    instant = first.astimezone(UTC)  # what Salesforce keeps of the DTSTART
    try:
        series = rrule_pattern(text, first.tzinfo.key, instant)
    except Unsupported as refused:
        reason = str(refused).split("': ", 1)[1]
        event("refused: " + " ".join(word for word in reason.split()[:4] if word.isalpha()))
        assert text.split(":", 1)[1][:12] in str(refused)
        return
    event(f"mapped: {series.recurrence['pattern']['type']}")
    horizon = first.date() + timedelta(days=3 * 366)
    assert outlook_starts(series, instant, horizon=horizon) == rfc_starts(
        text, first, horizon=horizon
    )
