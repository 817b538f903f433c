"""Salesforce recurring events -> Outlook series, end to end against both sandboxes."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from syncd.domain import Meeting, Source
from syncd.sandbox.salesforce.recurrence import (
    SeriesIds,
    create_classic_series,
    create_lightning_series,
    cut_off,
    delete_occurrence,
    edit_occurrence,
    edit_series,
    exclude_occurrence,
)
from tests.sync_e2e.tenant_options import set_salesforce_fields

from .conftest import COLLEAGUE, EVENT_ROUTE, EVENTS_ROUTE, ORGANIZER, TENANT, World

BERLIN = ZoneInfo("Europe/Berlin")


def _next_monday_at(world: World, hour: int, zone: ZoneInfo = BERLIN, weeks: int = 1) -> datetime:
    today = world.now().astimezone(zone).date()
    monday = today + timedelta(days=(7 - today.weekday()) % 7 or 7) + timedelta(weeks=weeks - 1)
    return datetime.combine(monday, datetime.min.time(), tzinfo=zone).replace(hour=hour)


def _assert_one_series(world: World, series: SeriesIds) -> str:
    """The series became one Outlook series master whose occurrences match Salesforce's."""
    posts = world.graph_log("POST", EVENTS_ROUTE)
    assert len(posts) == 1, [p.body for p in posts]
    assert posts[0].body["recurrence"]["pattern"]["type"]
    graph_id = world.record(series.master).graph_event_id
    assert graph_id
    master = world.outlook_event(ORGANIZER, graph_id)
    assert master.recurrence is not None
    starts = sorted(world.sf(o)["StartDateTime"] for o in series.occurrences)
    view = [
        e
        for e in world.view(
            ORGANIZER, starts[0] - timedelta(days=1), starts[-1] + timedelta(days=1)
        )
        if e.series_master_id == graph_id
    ]
    assert [e.start for e in view] == starts
    assert world.sf(series.master)["Sync_Status__c"] == "Synced"
    for occurrence in series.occurrences:
        record = world.record(occurrence)
        assert record.graph_event_id is not None
        assert record.status == "synced"
    return graph_id


def test_classic_weekly_series_becomes_one_outlook_series(world: World) -> None:
    first = _next_monday_at(world, 9)
    series = create_classic_series(
        world.org,
        ORGANIZER,
        first,
        timedelta(minutes=30),
        recurrence_type="RecursWeekly",
        day_of_week_mask=2 | 8,  # Monday, Wednesday
        interval=1,
        end_date=(first + timedelta(weeks=3)).date(),
        time_zone="Europe/Berlin",
        subject="Team sync",
        invitees=[COLLEAGUE],
    )
    report = world.service().poll()
    assert report.failures == [], report.failures
    _assert_one_series(world, series)
    assert len(series.occurrences) == 7


CLASSIC_PATTERNS = {
    "RecursDaily": ({"interval": 2}, 4, "daily"),
    "RecursEveryWeekday": ({}, 10, "weekly"),
    "RecursWeekly": ({"interval": 2, "day_of_week_mask": 2 | 32}, 4, "weekly"),
    "RecursMonthly": ({"interval": 1, "day_of_month": 15}, 3, "absoluteMonthly"),
    "RecursMonthlyNth": (
        {"interval": 1, "instance": "Second", "day_of_week_mask": 4},
        3,
        "relativeMonthly",
    ),
    "RecursYearly": ({"day_of_month": 15, "month_of_year": "-"}, 2, "absoluteYearly"),
    "RecursYearlyNth": (
        {"instance": "Last", "day_of_week_mask": 32, "month_of_year": "-"},
        2,
        "relativeYearly",
    ),
}


@pytest.mark.parametrize("kind", sorted(CLASSIC_PATTERNS))
def test_each_classic_pattern_becomes_one_outlook_series(world: World, kind: str) -> None:
    options, count, graph_type = CLASSIC_PATTERNS[kind]
    first = _next_monday_at(world, 10)
    if graph_type in ("absoluteMonthly", "absoluteYearly"):
        first = _first_day_on_or_after(first, day=15, month=None)
    if graph_type in ("relativeMonthly", "relativeYearly"):
        first = _first_nth_weekday(first, options)
    if graph_type.endswith("Yearly"):
        # The month of the first occurrence (inside the sync window).
        options = {**options, "month_of_year": first.strftime("%B")}
    # Each window is measured from the first occurrence, so it holds `count` occurrences
    # whatever the date: two months after a 15th or a second Tuesday lie 56-62 days on,
    # a third one at least 84 days on; a second year at most 366 days on, a third 730.
    spans = {
        "daily": timedelta(days=7),
        "weekly": timedelta(days=20 if kind == "RecursWeekly" else 13),
        "absoluteMonthly": timedelta(days=75),
        "relativeMonthly": timedelta(days=75),
        "absoluteYearly": timedelta(days=2 * 366 - 30),
        "relativeYearly": timedelta(days=2 * 366 - 30),
    }
    series = create_classic_series(
        world.org,
        ORGANIZER,
        first,
        timedelta(minutes=45),
        recurrence_type=kind,
        end_date=(first + spans[graph_type]).date(),
        time_zone="Europe/Berlin",
        subject=f"{kind} review",
        invitees=[COLLEAGUE],
        **options,
    )
    assert len(series.occurrences) == count
    report = world.service().poll()
    assert report.failures == [], report.failures
    _assert_one_series(world, series)
    body = world.graph_log("POST", EVENTS_ROUTE)[0].body
    assert body["recurrence"]["pattern"]["type"] == graph_type
    # Graph is given the Windows name of the series' zone (syncd.timezones).
    assert body["start"]["timeZone"] == "W. Europe Standard Time"


def _first_day_on_or_after(start: datetime, *, day: int, month: int | None) -> datetime:
    candidate = start
    while candidate.day != day or (month is not None and candidate.month != month):
        candidate += timedelta(days=1)
    return candidate


def _first_nth_weekday(start: datetime, options: dict) -> datetime:
    weekday = {2: 0, 4: 1, 8: 2, 16: 3, 32: 4}[options["day_of_week_mask"]]
    candidate = start
    while True:
        if candidate.weekday() == weekday:
            if options["instance"] == "Second" and 8 <= candidate.day <= 14:
                return candidate
            if (
                options["instance"] == "Last"
                and (candidate + timedelta(days=7)).month != candidate.month
            ):
                return candidate
        candidate += timedelta(days=1)


LIGHTNING_PATTERNS = {
    "daily": ("RRULE:FREQ=DAILY;INTERVAL=1;COUNT=5", "daily", 5),
    "weekly": ("RRULE:FREQ=WEEKLY;INTERVAL=1;BYDAY=MO,TH;COUNT=6", "weekly", 6),
    "weekdays": ("RRULE:FREQ=DAILY;BYDAY=MO,TU,WE,TH,FR;COUNT=7", "weekly", 7),
    "monthly_day": ("RRULE:FREQ=MONTHLY;INTERVAL=1;BYMONTHDAY={day};COUNT=3", "absoluteMonthly", 3),
    "monthly_nth": ("RRULE:FREQ=MONTHLY;BYDAY=1MO;COUNT=3", "relativeMonthly", 3),
    "monthly_setpos": ("RRULE:FREQ=MONTHLY;BYDAY=MO;BYSETPOS=-1;COUNT=3", "relativeMonthly", 3),
    "yearly_day": (
        "RRULE:FREQ=YEARLY;BYMONTH={month};BYMONTHDAY={day};COUNT=2",
        "absoluteYearly",
        2,
    ),
    "yearly_nth": ("RRULE:FREQ=YEARLY;BYMONTH={month};BYDAY=1MO;COUNT=2", "relativeYearly", 2),
}


@pytest.mark.parametrize("name", sorted(LIGHTNING_PATTERNS))
def test_each_lightning_pattern_becomes_one_outlook_series(world: World, name: str) -> None:
    text, graph_type, count = LIGHTNING_PATTERNS[name]
    first = _next_monday_at(world, 14, ZoneInfo("America/New_York"))
    if name == "monthly_nth" or name == "yearly_nth":
        while first.day > 7:
            first += timedelta(weeks=1)
    if name == "monthly_setpos":
        while (first + timedelta(days=7)).month == first.month:
            first += timedelta(weeks=1)
    text = text.format(day=first.day, month=first.month)
    series = create_lightning_series(
        world.org,
        ORGANIZER,
        first,
        timedelta(hours=1),
        rrule=text,
        time_zone="America/New_York",
        subject=f"Lightning {name}",
        invitees=[COLLEAGUE],
    )
    assert len(series.occurrences) == count
    report = world.service().poll()
    assert report.failures == [], report.failures
    _assert_one_series(world, series)
    body = world.graph_log("POST", EVENTS_ROUTE)[0].body
    assert body["recurrence"]["pattern"]["type"] == graph_type
    assert body["recurrence"]["range"]["type"] == "numbered"


def _weekly(world: World, **options) -> SeriesIds:
    first = _next_monday_at(world, 9)
    return create_classic_series(
        world.org,
        ORGANIZER,
        first,
        timedelta(minutes=30),
        recurrence_type="RecursWeekly",
        day_of_week_mask=2,
        interval=1,
        end_date=(first + timedelta(weeks=4)).date(),
        time_zone="Europe/Berlin",
        subject="Weekly pipeline",
        invitees=[COLLEAGUE],
        **options,
    )


def test_editing_the_whole_series_is_one_patch_of_the_master(world: World) -> None:
    series = _weekly(world)
    service = world.service()
    service.poll()
    graph_id = world.record(series.master).graph_event_id
    logged = len(world.graph_log())

    edit_series(
        world.org, series.master, Subject="Weekly pipeline (new agenda)", shift=timedelta(hours=1)
    )
    report = service.poll()

    assert report.failures == []
    sent = world.graph_log()[logged:]
    writes = [r for r in sent if r.method in ("POST", "PATCH", "DELETE")]
    assert [(r.method, r.route) for r in writes] == [("PATCH", EVENT_ROUTE)]
    assert writes[0].path.endswith(graph_id)
    assert writes[0].body["subject"] == "Weekly pipeline (new agenda)"
    assert writes[0].body["start"]["dateTime"].endswith("T10:00:00")
    instances = [
        e
        for e in world.view(ORGANIZER, world.now(), world.now() + timedelta(days=60))
        if e.series_master_id == graph_id
    ]
    assert [e.start for e in instances] == sorted(
        world.sf(o)["StartDateTime"] for o in series.occurrences
    )
    assert {e.subject for e in instances} == {"Weekly pipeline (new agenda)"}
    assert all(e.event_type == "occurrence" for e in instances)


def test_a_changed_occurrence_becomes_an_outlook_exception(world: World) -> None:
    series = _weekly(world)
    service = world.service()
    service.poll()
    graph_id = world.record(series.master).graph_event_id
    logged = len(world.graph_log())
    second = series.occurrences[1]
    moved = world.sf(second)["StartDateTime"] + timedelta(hours=2)

    edit_occurrence(
        world.org,
        second,
        Subject="Pipeline (moved)",
        StartDateTime=moved,
        EndDateTime=moved + timedelta(minutes=30),
    )
    report = service.poll()

    assert report.failures == []
    writes = [r for r in world.graph_log()[logged:] if r.method in ("POST", "PATCH", "DELETE")]
    assert len(writes) == 1 and writes[0].method == "PATCH"
    instance_id = world.record(second).graph_event_id
    assert writes[0].path.endswith(instance_id)
    assert writes[0].body["subject"] == "Pipeline (moved)"
    exception = world.outlook_event(ORGANIZER, instance_id)
    assert exception.event_type == "exception"
    assert exception.series_master_id == graph_id
    assert exception.start == moved
    others = [
        e
        for e in world.view(ORGANIZER, world.now(), world.now() + timedelta(days=60))
        if e.series_master_id == graph_id and e.id != instance_id
    ]
    assert {e.subject for e in others} == {"Weekly pipeline"}
    # Polling again changes nothing.
    logged = len(world.graph_log())
    service.poll()
    assert [r for r in world.graph_log()[logged:] if r.method != "GET"] == []


def test_a_deleted_occurrence_is_removed_from_the_outlook_series(world: World) -> None:
    series = _weekly(world)
    service = world.service()
    service.poll()
    graph_id = world.record(series.master).graph_event_id
    third = series.occurrences[2]
    gone = world.sf(third)["StartDateTime"]
    logged = len(world.graph_log())

    instance_id = world.record(third).graph_event_id
    delete_occurrence(world.org, third)
    world.advance(61)  # getDeleted covers whole minutes only
    report = service.poll()

    assert report.failures == []
    writes = [r for r in world.graph_log()[logged:] if r.method in ("POST", "PATCH", "DELETE")]
    # One cancel of that occurrence (it has an attendee), nothing else.
    assert [(r.method, r.route) for r in writes] == [("POST", EVENT_ROUTE + "/cancel")]
    assert writes[0].path.split("/")[-2] == instance_id
    starts = [
        e.start
        for e in world.view(ORGANIZER, world.now(), world.now() + timedelta(days=60))
        if e.series_master_id == graph_id
    ]
    assert gone not in starts and len(starts) == len(series.occurrences) - 1
    assert world.record(third).status == "cancelled"


def test_a_lightning_exclusion_is_removed_from_the_outlook_series(world: World) -> None:
    first = _next_monday_at(world, 11)
    series = create_lightning_series(
        world.org,
        ORGANIZER,
        first,
        timedelta(minutes=30),
        rrule="RRULE:FREQ=WEEKLY;BYDAY=MO;COUNT=4",
        time_zone="Europe/Berlin",
        subject="Lightning weekly",
        invitees=[COLLEAGUE],
    )
    service = world.service()
    service.poll()
    graph_id = world.record(series.master).graph_event_id
    excluded = world.sf(series.occurrences[1])["StartDateTime"]

    exclude_occurrence(world.org, series.occurrences[1])
    report = service.poll()

    assert report.failures == []
    starts = [
        e.start
        for e in world.view(ORGANIZER, world.now(), world.now() + timedelta(days=60))
        if e.series_master_id == graph_id
    ]
    assert excluded not in starts and len(starts) == 3


@pytest.mark.parametrize("model", ["classic", "lightning"])
def test_a_series_cut_off_ends_the_outlook_series_there(world: World, model: str) -> None:
    if model == "classic":
        series = _weekly(world)
    else:
        series = create_lightning_series(
            world.org,
            ORGANIZER,
            _next_monday_at(world, 9),
            timedelta(minutes=30),
            rrule="RRULE:FREQ=WEEKLY;BYDAY=MO;COUNT=5",
            time_zone="Europe/Berlin",
            subject="Lightning weekly",
            invitees=[COLLEAGUE],
        )
    service = world.service()
    service.poll()
    graph_id = world.record(series.master).graph_event_id
    kept = [world.sf(o)["StartDateTime"] for o in series.occurrences[:2]]
    logged = len(world.graph_log())

    cut_off(world.org, series.master, series.occurrences[2])
    world.advance(61)  # getDeleted covers whole minutes only
    report = service.poll()

    assert report.failures == []
    writes = [r for r in world.graph_log()[logged:] if r.method in ("POST", "PATCH", "DELETE")]
    assert [(r.method, r.route) for r in writes] == [("PATCH", EVENT_ROUTE)]
    assert writes[0].path.endswith(graph_id)
    assert writes[0].body["recurrence"]["range"]["type"] == "endDate"
    starts = [
        e.start
        for e in world.view(ORGANIZER, world.now(), world.now() + timedelta(days=90))
        if e.series_master_id == graph_id
    ]
    assert starts == kept
    for later in series.occurrences[2:]:
        assert world.record(later).status == "cancelled"


def test_series_responses_are_written_to_every_occurrence(world: World) -> None:
    world.sandbox.answers.configure(accepted=1, tentatively_accepted=0, declined=0, not_responded=0)
    series = _weekly(world)
    set_salesforce_fields(world.config(), TENANT, event_relation_status=True)  # off by default
    service = world.service()
    service.poll()
    colleague = world.org.find_user(COLLEAGUE)

    report = service.refresh_responses()

    assert report.writeback_errors == []
    for event_id in (series.master, *series.occurrences):
        relation = next(r for r in world.org.invitees(event_id) if r["RelationId"] == colleague)
        assert relation["Status"] == "Accepted", event_id


UNSUPPORTED = [
    ("RRULE:FREQ=HOURLY;INTERVAL=2;COUNT=3", "FREQ=HOURLY"),
    ("RRULE:FREQ=WEEKLY;BYDAY=MO;BYHOUR=9,15;COUNT=3", "BYHOUR"),
    ("RRULE:FREQ=MONTHLY;BYDAY=MO,TU;BYSETPOS=1,3;COUNT=3", "BYSETPOS=1,3"),
    ("RRULE:FREQ=DAILY;COUNT=3;UNTIL=20991231T000000Z", "COUNT together with UNTIL"),
]


def test_patterns_outlook_cannot_express_fail_naming_the_pattern(world: World) -> None:
    first = _next_monday_at(world, 9)
    masters = {}
    for number, (pattern, named) in enumerate(UNSUPPORTED):
        series = create_lightning_series(
            world.org,
            ORGANIZER,
            first + timedelta(days=number),
            timedelta(minutes=30),
            rrule=pattern,
            time_zone="Europe/Berlin",
            subject="Odd series",
            starts=[first + timedelta(days=number, hours=2 * i) for i in range(3)],
        )
        masters[series.master] = (pattern, named)

    report = world.service().poll()

    assert world.graph_log("POST", EVENTS_ROUTE) == []
    assert report.counts["fail"] == len(UNSUPPORTED)
    assert {event_id for event_id, _ in report.failures} == set(masters)
    for master_id, (pattern, named) in masters.items():
        master = world.sf(master_id)
        assert master["Sync_Status__c"] == "Failed"
        error = master["Sync_Error__c"]
        assert named in error and pattern.split(":")[1][:20] in error, error
    # Nothing of the series was sent, occurrence by occurrence or otherwise.
    assert world.calendar(ORGANIZER) == []


def test_occurrences_synced_as_single_meetings_before_make_way_for_the_series(
    world: World,
) -> None:
    """An org synced before syncd knew series: each occurrence had its own meeting."""
    series = _weekly(world)
    service = world.service()
    # What an older syncd did: every occurrence Event became a meeting of its own.
    scheduler = world.runtime.scheduler("crm")
    for occurrence in series.occurrences:
        row = world.sf(occurrence)
        scheduler.upsert(
            Meeting(
                occurrence,
                ORGANIZER,
                row["Subject"],
                "",
                "",
                row["StartDateTime"],
                row["EndDateTime"],
            ),
            source=Source.SALESFORCE,
        )
    assert len(world.calendar(ORGANIZER)) == len(series.occurrences)

    report = service.poll()

    assert report.failures == []
    (master,) = world.calendar(ORGANIZER)
    assert master.recurrence is not None
    for occurrence in series.occurrences:
        assert world.record(occurrence).graph_event_id.startswith(master.id.removesuffix("AAA="))
