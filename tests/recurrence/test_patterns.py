"""Salesforce recurrence -> Graph patternedRecurrence (pure mapping) and the sandbox's expansion."""

from __future__ import annotations

from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

import pytest

from syncd.sandbox.microsoft.recurrence import local_starts, parse_recurrence, rule_of
from syncd.sync.recurrence_patterns import Unsupported, classic_pattern, rrule_pattern

from .expansions import outlook_starts, rfc_starts

BERLIN = ZoneInfo("Europe/Berlin")
START = datetime(2027, 3, 1, 8, 0, tzinfo=UTC)  # Monday 09:00 in Berlin


@pytest.mark.parametrize(
    ("fields", "pattern"),
    [
        (
            {"RecurrenceType": "RecursDaily", "RecurrenceInterval": 3},
            {"type": "daily", "interval": 3},
        ),
        (
            {"RecurrenceType": "RecursEveryWeekday"},
            {
                "type": "weekly",
                "daysOfWeek": ["monday", "tuesday", "wednesday", "thursday", "friday"],
            },
        ),
        (
            {
                "RecurrenceType": "RecursWeekly",
                "RecurrenceInterval": 2,
                "RecurrenceDayOfWeekMask": 2 | 64,
            },
            {"type": "weekly", "interval": 2, "daysOfWeek": ["monday", "saturday"]},
        ),
        (
            {"RecurrenceType": "RecursMonthly", "RecurrenceDayOfMonth": 28},
            {"type": "absoluteMonthly", "dayOfMonth": 28},
        ),
        (
            {
                "RecurrenceType": "RecursMonthlyNth",
                "RecurrenceInstance": "Last",
                "RecurrenceDayOfWeekMask": 32,
            },
            {"type": "relativeMonthly", "daysOfWeek": ["friday"], "index": "last"},
        ),
        (
            {
                "RecurrenceType": "RecursYearly",
                "RecurrenceDayOfMonth": 4,
                "RecurrenceMonthOfYear": "July",
            },
            {"type": "absoluteYearly", "dayOfMonth": 4, "month": 7},
        ),
        (
            {
                "RecurrenceType": "RecursYearlyNth",
                "RecurrenceInstance": "Fourth",
                "RecurrenceDayOfWeekMask": 16,
                "RecurrenceMonthOfYear": "November",
            },
            {"type": "relativeYearly", "daysOfWeek": ["thursday"], "index": "fourth", "month": 11},
        ),
    ],
)
def test_classic_patterns_map_to_graph(fields: dict, pattern: dict) -> None:
    series = classic_pattern(
        {
            **fields,
            "RecurrenceTimeZoneSidKey": "Europe/Berlin",
            "RecurrenceEndDateOnly": "2027-12-31",
        },
        START,
    )
    assert {k: series.recurrence["pattern"][k] for k in pattern} == pattern
    assert series.recurrence["range"] == {
        "type": "endDate",
        "startDate": "2027-03-01",
        "endDate": "2027-12-31",
        "recurrenceTimeZone": "Europe/Berlin",
    }
    assert series.time_zone == "Europe/Berlin"


def test_classic_pattern_without_end_has_no_end_and_unknown_type_is_named() -> None:
    series = classic_pattern(
        {"RecurrenceType": "RecursDaily", "RecurrenceTimeZoneSidKey": "UTC"}, START
    )
    assert series.recurrence["range"]["type"] == "noEnd"
    with pytest.raises(Unsupported, match="RecurrenceType=RecursHourly"):
        classic_pattern({"RecurrenceType": "RecursHourly"}, START)
    with pytest.raises(Unsupported, match="RecurrenceDayOfWeekMask 0"):
        classic_pattern({"RecurrenceType": "RecursWeekly"}, START)


# Each rule with a first start its rule produces (RFC 5545 section 3.8.5.3).
LIGHTNING = [
    (
        "RRULE:FREQ=DAILY;INTERVAL=2;COUNT=10",
        datetime(2027, 3, 1, 9, tzinfo=BERLIN),
        {"type": "daily", "interval": 2},
        {"type": "numbered", "numberOfOccurrences": 10},
    ),
    (
        "RRULE:FREQ=WEEKLY;BYDAY=MO,WE;WKST=MO",
        datetime(2027, 3, 1, 9, tzinfo=BERLIN),
        {"type": "weekly", "daysOfWeek": ["monday", "wednesday"], "firstDayOfWeek": "monday"},
        {"type": "noEnd"},
    ),
    (
        "RRULE:FREQ=MONTHLY;BYMONTHDAY=15;UNTIL=20271231T235959Z",
        datetime(2027, 3, 15, 9, tzinfo=BERLIN),
        {"type": "absoluteMonthly", "dayOfMonth": 15},
        {"type": "endDate", "endDate": "2027-12-31"},
    ),
    (
        "RRULE:FREQ=MONTHLY;BYDAY=-1FR;COUNT=3",
        datetime(2027, 3, 26, 9, tzinfo=BERLIN),
        {"type": "relativeMonthly", "daysOfWeek": ["friday"], "index": "last"},
        {"type": "numbered"},
    ),
    (
        "RRULE:FREQ=MONTHLY;BYDAY=MO,TU,WE,TH,FR;BYSETPOS=1",
        datetime(2027, 3, 1, 9, tzinfo=BERLIN),
        {"type": "relativeMonthly", "index": "first"},
        {"type": "noEnd"},
    ),
    (
        "RRULE:FREQ=YEARLY;BYMONTH=7;BYMONTHDAY=4",
        datetime(2027, 7, 4, 9, tzinfo=BERLIN),
        {"type": "absoluteYearly", "month": 7, "dayOfMonth": 4},
        {"type": "noEnd"},
    ),
    (
        "RRULE:FREQ=YEARLY;BYMONTH=11;BYDAY=4TH",
        datetime(2027, 11, 25, 9, tzinfo=BERLIN),
        {"type": "relativeYearly", "month": 11, "index": "fourth"},
        {"type": "noEnd"},
    ),
]


@pytest.mark.parametrize(("text", "first", "pattern", "span"), LIGHTNING)
def test_lightning_rrules_map_to_graph(
    text: str, first: datetime, pattern: dict, span: dict
) -> None:
    series = rrule_pattern(text, "Europe/Berlin", first.astimezone(UTC))
    assert {k: series.recurrence["pattern"][k] for k in pattern} == pattern
    assert {k: series.recurrence["range"][k] for k in span} == span
    assert series.recurrence["range"]["startDate"] == first.date().isoformat()
    horizon = date(2030, 12, 31)
    assert outlook_starts(series, first, horizon=horizon) == rfc_starts(
        text, first, horizon=horizon
    )


def test_until_before_the_series_time_of_day_ends_the_day_before() -> None:
    series = rrule_pattern("RRULE:FREQ=DAILY;UNTIL=20270310T075959Z", "Europe/Berlin", START)
    assert series.recurrence["range"]["endDate"] == "2027-03-09"


@pytest.mark.parametrize(
    ("text", "named"),
    [
        ("RRULE:FREQ=HOURLY;COUNT=3", "FREQ=HOURLY"),
        ("RRULE:FREQ=MINUTELY;INTERVAL=15", "FREQ=MINUTELY"),
        ("RRULE:FREQ=DAILY;BYHOUR=9,17", "BYHOUR"),
        ("RRULE:FREQ=DAILY;COUNT=2;UNTIL=20270401T000000Z", "COUNT together with UNTIL"),
        ("RRULE:FREQ=MONTHLY;BYDAY=MO;BYSETPOS=1,3", "BYSETPOS=1,3"),
        ("RRULE:FREQ=MONTHLY;BYMONTHDAY=1,15", "BYMONTHDAY=1,15"),
        ("RRULE:FREQ=MONTHLY;BYMONTHDAY=-2", "BYMONTHDAY=-2"),
        ("RRULE:FREQ=MONTHLY;BYDAY=5MO", "BYDAY=5MO"),
        ("RRULE:FREQ=YEARLY;BYMONTH=1,7", "BYMONTH=1,7"),
        ("RRULE:FREQ=WEEKLY;BYWEEKNO=20", "BYWEEKNO"),
    ],
)
def test_patterns_graph_cannot_express_are_named(text: str, named: str) -> None:
    with pytest.raises(Unsupported) as raised:
        rrule_pattern(text, "Europe/Berlin", START)
    message = str(raised.value)
    assert named in message and text.split(":", 1)[1][:12] in message


def test_sandbox_expansion_keeps_local_time_across_dst() -> None:
    recurrence = parse_recurrence(
        {
            "pattern": {"type": "weekly", "interval": 1, "daysOfWeek": ["monday"]},
            "range": {"type": "numbered", "startDate": "2027-03-15", "numberOfOccurrences": 4},
        }
    )
    assert recurrence is not None
    starts = local_starts(
        datetime(2027, 3, 15, 9, tzinfo=BERLIN), rule_of(recurrence), horizon=date(2028, 1, 1)
    )
    assert [s.astimezone(UTC).hour for s in starts] == [8, 8, 7, 7]  # DST begins 2027-03-28
    assert {s.hour for s in starts} == {9}


def test_sandbox_rejects_a_pattern_without_its_required_properties() -> None:
    from syncd.sandbox.microsoft.errors import GraphError

    with pytest.raises(GraphError):
        parse_recurrence(
            {"pattern": {"type": "weekly"}, "range": {"type": "noEnd", "startDate": "2027-01-01"}}
        )
    with pytest.raises(GraphError):
        parse_recurrence(
            {"pattern": {"type": "daily"}, "range": {"type": "endDate", "startDate": "2027-01-01"}}
        )


def test_sandbox_expansion_takes_the_first_pass_of_a_repeated_hour() -> None:
    # A yearly series on the first Sunday of November at 01:30 New York, a time that comes
    # twice on those days. The expansion reads only the wall-clock time, as Graph's
    # dateTime (which has no fold) gives it: every occurrence is the first pass (EDT),
    # even when handed the second (assumed for Exchange).
    new_york = ZoneInfo("America/New_York")
    recurrence = parse_recurrence(
        {
            "pattern": {
                "type": "relativeYearly",
                "interval": 1,
                "daysOfWeek": ["sunday"],
                "index": "first",
                "month": 11,
            },
            "range": {"type": "numbered", "startDate": "2027-11-07", "numberOfOccurrences": 2},
        }
    )
    assert recurrence is not None
    master = datetime(2027, 11, 7, 6, 30, tzinfo=UTC).astimezone(new_york)  # 01:30 EST
    assert master.fold == 1
    starts = local_starts(master, rule_of(recurrence), horizon=date(2029, 1, 1))
    assert [s.astimezone(UTC) for s in starts] == [
        datetime(2027, 11, 7, 5, 30, tzinfo=UTC),
        datetime(2028, 11, 5, 5, 30, tzinfo=UTC),
    ]
