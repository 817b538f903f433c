"""Where RFC 5545 (Salesforce's Lightning series) and Exchange (Outlook) read a pattern
differently: syncd maps it exactly or refuses it with the reason, never silently differs.

Each case shows the difference on the two sandboxes' expansions (the RFC's by
python-dateutil, Exchange's by the Graph sandbox) and then what syncd does about it.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from syncd.sandbox.microsoft.recurrence import series_starts
from syncd.sandbox.salesforce.rfc5545 import rrule_starts
from syncd.sync.recurrence_patterns import Unsupported, classic_pattern, rrule_pattern

from .expansions import outlook_starts, rfc_starts

BERLIN = ZoneInfo("Europe/Berlin")
NEW_YORK = ZoneInfo("America/New_York")
HORIZON = date(2031, 12, 31)


def _map(text: str, first: datetime):
    """syncd's mapping of a Lightning series with DTSTART `first` (aware, in its zone)."""
    assert isinstance(first.tzinfo, ZoneInfo)
    return rrule_pattern(text, first.tzinfo.key, first.astimezone(UTC))


def _same_occurrences(text: str, first: datetime) -> None:
    series = _map(text, first)
    assert outlook_starts(series, first, horizon=HORIZON) == rfc_starts(
        text, first, horizon=HORIZON
    )


# ------------------------------------------------------------------ week start


def test_without_wkst_the_rfc_week_starts_on_monday_and_syncd_says_so() -> None:
    text = "RRULE:FREQ=WEEKLY;INTERVAL=2;BYDAY=SU,MO;COUNT=4"
    first = datetime(2027, 3, 1, 9, tzinfo=BERLIN)  # a Monday
    # The RFC: weeks from Monday, so the first week holds Mon 1 and Sun 7.
    assert [s.astimezone(BERLIN).day for s in rfc_starts(text, first, horizon=HORIZON)] == [
        1,
        7,
        15,
        21,
    ]
    series = _map(text, first)
    assert series.recurrence["pattern"]["firstDayOfWeek"] == "monday"
    _same_occurrences(text, first)


def test_graph_weeks_start_on_sunday_unless_told() -> None:
    recurrence = {
        "pattern": {"type": "weekly", "interval": 2, "daysOfWeek": ["sunday", "monday"]},
        "range": {"type": "numbered", "startDate": "2027-03-01", "numberOfOccurrences": 4},
    }
    first = datetime(2027, 3, 1, 9, tzinfo=BERLIN)
    days = [s.astimezone(BERLIN).day for s in series_starts(recurrence, first, horizon=HORIZON)]
    assert days == [1, 14, 15, 28]  # weeks Sun-Sat: Mon 1, then Sun 14 + Mon 15, ...


# ------------------------------------------------------------- days 29 to 31


def test_day_31_skips_short_months_in_the_rfc_and_not_in_outlook() -> None:
    text = "RRULE:FREQ=MONTHLY;BYMONTHDAY=31;COUNT=3"
    first = datetime(2027, 1, 31, 9, tzinfo=BERLIN)
    rfc = [s.astimezone(BERLIN).date() for s in rfc_starts(text, first, horizon=HORIZON)]
    assert rfc == [date(2027, 1, 31), date(2027, 3, 31), date(2027, 5, 31)]
    recurrence = {
        "pattern": {"type": "absoluteMonthly", "interval": 1, "dayOfMonth": 31},
        "range": {"type": "numbered", "startDate": "2027-01-31", "numberOfOccurrences": 3},
    }
    outlook = [
        s.astimezone(BERLIN).date() for s in series_starts(recurrence, first, horizon=HORIZON)
    ]
    assert outlook == [date(2027, 1, 31), date(2027, 2, 28), date(2027, 3, 31)]
    with pytest.raises(Unsupported, match="day 31 of the month does not exist in February 2027"):
        _map(text, first)


@pytest.mark.parametrize(
    ("text", "first"),
    [
        # Every second month from January: January, March, May, July -- all have a 31st.
        ("RRULE:FREQ=MONTHLY;INTERVAL=2;BYMONTHDAY=31;COUNT=4", datetime(2027, 1, 31, 9)),
        # Until before the first short month (February 2028).
        ("RRULE:FREQ=MONTHLY;BYMONTHDAY=30;UNTIL=20271231T235959Z", datetime(2027, 3, 30, 9)),
        # The RFC's last day of the month is Outlook's day 31.
        ("RRULE:FREQ=MONTHLY;BYMONTHDAY=-1;COUNT=6", datetime(2027, 1, 31, 9)),
        ("RRULE:FREQ=YEARLY;BYMONTH=2;BYMONTHDAY=-1;COUNT=3", datetime(2027, 2, 28, 9)),
    ],
)
def test_late_month_days_that_meet_no_short_month_are_mapped_exactly(
    text: str, first: datetime
) -> None:
    _same_occurrences(text, first.replace(tzinfo=BERLIN))


def test_a_classic_day_31_is_refused_where_a_shorter_month_comes() -> None:
    fields = {
        "RecurrenceType": "RecursMonthly",
        "RecurrenceDayOfMonth": 31,
        "RecurrenceTimeZoneSidKey": "Europe/Berlin",
    }
    start = datetime(2027, 1, 31, 8, tzinfo=UTC)
    with pytest.raises(Unsupported, match=r"February 2027.*Salesforce does not document"):
        classic_pattern({**fields, "RecurrenceEndDateOnly": "2027-12-31"}, start)
    series = classic_pattern({**fields, "RecurrenceEndDateOnly": "2027-01-31"}, start)
    assert series.recurrence["pattern"]["dayOfMonth"] == 31


# --------------------------------------------------------- several BYDAY days


def test_two_ordinal_days_are_two_occurrences_in_the_rfc_and_refused() -> None:
    text = "RRULE:FREQ=MONTHLY;BYDAY=1MO,1TU;COUNT=4"
    first = datetime(2027, 3, 1, 9, tzinfo=BERLIN)  # first Monday; first Tuesday is the 2nd
    rfc = [s.astimezone(BERLIN).date() for s in rfc_starts(text, first, horizon=HORIZON)]
    assert rfc == [date(2027, 3, 1), date(2027, 3, 2), date(2027, 4, 5), date(2027, 4, 6)]
    recurrence = {
        "pattern": {
            "type": "relativeMonthly",
            "interval": 1,
            "daysOfWeek": ["monday", "tuesday"],
            "index": "first",
        },
        "range": {"type": "numbered", "startDate": "2027-03-01", "numberOfOccurrences": 2},
    }
    outlook = [
        s.astimezone(BERLIN).date() for s in series_starts(recurrence, first, horizon=HORIZON)
    ]
    assert outlook == [date(2027, 3, 1), date(2027, 4, 5)]  # one a month
    with pytest.raises(Unsupported, match="one occurrence per listed day"):
        _map(text, first)


def test_several_days_with_a_set_position_are_outlook_s_several_days() -> None:
    _same_occurrences(
        "RRULE:FREQ=MONTHLY;BYDAY=MO,TU;BYSETPOS=2;COUNT=6", datetime(2027, 3, 2, 9, tzinfo=BERLIN)
    )


# ------------------------------------------------ yearly without BYMONTH


def test_yearly_bymonthday_without_bymonth_is_every_month() -> None:
    text = "RRULE:FREQ=YEARLY;BYMONTHDAY=1;COUNT=4"
    first = datetime(2027, 3, 1, 9, tzinfo=BERLIN)
    rfc = [s.astimezone(BERLIN).date() for s in rfc_starts(text, first, horizon=HORIZON)]
    assert rfc == [date(2027, 3, 1), date(2027, 4, 1), date(2027, 5, 1), date(2027, 6, 1)]
    series = _map(text, first)
    assert series.recurrence["pattern"]["type"] == "absoluteMonthly"
    _same_occurrences(text, first)
    with pytest.raises(Unsupported, match="every month of every 2th year"):
        _map("RRULE:FREQ=YEARLY;INTERVAL=2;BYMONTHDAY=1", first)


def test_yearly_position_without_bymonth_counts_in_the_year() -> None:
    _same_occurrences(
        "RRULE:FREQ=YEARLY;BYDAY=2MO;COUNT=3", datetime(2027, 1, 11, 9, tzinfo=BERLIN)
    )
    _same_occurrences(
        "RRULE:FREQ=YEARLY;BYDAY=-1FR;COUNT=3", datetime(2027, 12, 31, 9, tzinfo=BERLIN)
    )


# ------------------------------------------------------------- February 29


def test_february_29_yearly_skips_other_years_in_the_rfc_and_is_refused() -> None:
    text = "RRULE:FREQ=YEARLY;COUNT=2"
    first = datetime(2028, 2, 29, 9, tzinfo=BERLIN)
    rfc = [s.astimezone(BERLIN).date() for s in rfc_starts(text, first, horizon=date(2033, 1, 1))]
    assert rfc == [date(2028, 2, 29), date(2032, 2, 29)]
    recurrence = {
        "pattern": {"type": "absoluteYearly", "interval": 1, "dayOfMonth": 29, "month": 2},
        "range": {"type": "numbered", "startDate": "2028-02-29", "numberOfOccurrences": 2},
    }
    outlook = [
        s.astimezone(BERLIN).date() for s in series_starts(recurrence, first, horizon=HORIZON)
    ]
    assert outlook == [date(2028, 2, 29), date(2029, 2, 28)]
    with pytest.raises(Unsupported, match="day 29 of the month does not exist in February 2029"):
        _map(text, first)
    _same_occurrences("RRULE:FREQ=YEARLY;COUNT=1", first)


# ------------------------------------------------------------ clock changes


def test_a_dtstart_in_the_spring_forward_gap_keeps_its_nominal_time() -> None:
    text = "RRULE:FREQ=DAILY;COUNT=3"
    first = datetime(2027, 3, 14, 2, 30, tzinfo=NEW_YORK)  # 02:30 does not exist that day
    starts = rrule_starts(text, first, NEW_YORK, horizon=HORIZON)
    assert [s.astimezone(NEW_YORK).strftime("%d %H:%M") for s in starts] == [
        "14 03:30",  # read with the offset before the gap (RFC 5545 section 3.3.5)
        "15 02:30",  # later occurrences keep the nominal 02:30
        "16 02:30",
    ]
    # Salesforce keeps only the instant (07:30Z = 03:30 EDT), which a 03:30 start means
    # too: syncd cannot tell 02:30 from 03:30 for the later occurrences, so it refuses.
    with pytest.raises(Unsupported, match="right after the clocks jumped forward"):
        _map(text, first)
    with pytest.raises(Unsupported, match="right after the clocks jumped forward"):
        classic_pattern(
            {"RecurrenceType": "RecursDaily", "RecurrenceTimeZoneSidKey": "America/New_York"},
            first.astimezone(UTC),
        )


def test_an_occurrence_the_clock_skips_is_dropped_by_the_rfc_and_refused() -> None:
    text = "RRULE:FREQ=DAILY;COUNT=3"
    first = datetime(2027, 3, 13, 2, 30, tzinfo=NEW_YORK)
    starts = rrule_starts(text, first, NEW_YORK, horizon=HORIZON)
    assert [s.astimezone(NEW_YORK).day for s in starts] == [13, 15, 16]  # not counted
    recurrence = {
        "pattern": {"type": "daily", "interval": 1},
        "range": {"type": "numbered", "startDate": "2027-03-13", "numberOfOccurrences": 3},
    }
    outlook = series_starts(recurrence, first, horizon=HORIZON)
    assert [s.astimezone(NEW_YORK).strftime("%d %H:%M") for s in outlook] == [
        "13 02:30",
        "14 03:30",  # moved forward by the gap (assumed)
        "15 02:30",
    ]
    with pytest.raises(Unsupported, match="02:30 does not exist on 2027-03-14"):
        _map(text, first)
    # The same series at 09:00 meets no skipped time and is mapped exactly.
    _same_occurrences(text, first.replace(hour=9))


def test_a_skipped_time_on_a_day_the_rule_never_reaches_is_no_reason_to_refuse() -> None:
    # Mondays at 02:30 in New York: the clocks only jump on Sundays.
    _same_occurrences("RRULE:FREQ=WEEKLY;COUNT=60", datetime(2027, 3, 8, 2, 30, tzinfo=NEW_YORK))


def test_the_second_pass_of_a_repeated_hour_cannot_start_an_outlook_series() -> None:
    first_pass = datetime(2027, 11, 7, 1, 30, tzinfo=NEW_YORK)  # EDT
    second_pass = first_pass.astimezone(UTC) + timedelta(hours=1)  # 01:30 EST
    _same_occurrences("RRULE:FREQ=DAILY;COUNT=3", first_pass)
    with pytest.raises(Unsupported, match="second 01:30 on 2027-11-07"):
        rrule_pattern("RRULE:FREQ=DAILY;COUNT=3", "America/New_York", second_pass)


def test_a_classic_series_at_a_skipped_time_is_refused() -> None:
    fields = {
        "RecurrenceType": "RecursWeekly",
        "RecurrenceDayOfWeekMask": 1,  # Sundays
        "RecurrenceTimeZoneSidKey": "America/New_York",
        "RecurrenceEndDateOnly": "2027-04-30",
    }
    start = datetime(2027, 3, 7, 2, 30, tzinfo=NEW_YORK).astimezone(UTC)
    with pytest.raises(Unsupported, match="02:30 does not exist on 2027-03-14"):
        classic_pattern(fields, start)


# ------------------------------------------------------------ first start


def test_a_first_start_the_rule_does_not_produce_is_refused() -> None:
    first = datetime(2027, 3, 1, 9, tzinfo=BERLIN)  # a Monday
    # RFC 5545 calls this set undefined; its DTSTART "always counts as the first
    # occurrence", and the sandbox keeps it (python-dateutil would leave it out).
    starts = rfc_starts("RRULE:FREQ=WEEKLY;BYDAY=TU,TH;COUNT=3", first, horizon=HORIZON)
    assert [s.astimezone(BERLIN).day for s in starts] == [1, 2, 4]
    with pytest.raises(Unsupported, match="which its rule does not produce"):
        _map("RRULE:FREQ=WEEKLY;BYDAY=TU,TH", first)
    with pytest.raises(Unsupported, match="which its rule does not produce"):
        _map("RRULE:FREQ=MONTHLY;BYMONTHDAY=15", first)


def test_classic_weeks_of_unknown_start_day_are_refused_where_it_matters() -> None:
    fields = {
        "RecurrenceType": "RecursWeekly",
        "RecurrenceInterval": 2,
        "RecurrenceDayOfWeekMask": 1 | 2,  # Sunday and Monday
        "RecurrenceTimeZoneSidKey": "Europe/Berlin",
    }
    with pytest.raises(Unsupported, match="which Salesforce does not document"):
        classic_pattern(fields, datetime(2027, 3, 1, 8, tzinfo=UTC))
