"""Daylight saving, all-day and multi-day events, end to end against both sandboxes."""

from __future__ import annotations

import copy
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest

from syncd import timezones
from syncd.core import event_mapping as em
from syncd.ledger.db import session_scope
from syncd.ledger.models import MeetingRecord
from syncd.sandbox.microsoft.timezones import resolve_zone
from syncd.sandbox.salesforce.recurrence import (
    SeriesIds,
    create_classic_series,
    create_lightning_series,
)
from syncd.sync.plan import Action

from .conftest import COLLEAGUE, EVENTS_ROUTE, ORGANIZER, TENANT, World


def _next_transition(after: date, zone: ZoneInfo) -> date:
    """The first day whose noon has another UTC offset than the day before."""
    day = after
    while True:
        noon = datetime.combine(day, datetime.min.time(), tzinfo=zone).replace(hour=12)
        before = noon - timedelta(days=1)
        if noon.utcoffset() != before.utcoffset():
            return day
        day += timedelta(days=1)


@pytest.mark.parametrize("zone_name", ["Europe/Berlin", "America/New_York"])
def test_weekly_0900_series_stays_at_0900_local_across_dst(world: World, zone_name: str) -> None:
    zone = ZoneInfo(zone_name)
    change = _next_transition(world.now().astimezone(zone).date() + timedelta(days=21), zone)
    # Start three weeks before the change; keep it inside the 180-day sync window.
    first_day = change - timedelta(days=21)
    first_day += timedelta(days=(0 - first_day.weekday()) % 7)  # a Monday
    lead = datetime.combine(first_day, datetime.min.time(), tzinfo=UTC) - world.now()
    if lead > timedelta(days=170):
        world.advance((lead - timedelta(days=30)).total_seconds())
    first = datetime.combine(first_day, datetime.min.time(), tzinfo=zone).replace(hour=9)
    series = create_classic_series(
        world.org,
        ORGANIZER,
        first,
        timedelta(hours=1),
        recurrence_type="RecursWeekly",
        day_of_week_mask=2,
        interval=1,
        end_date=first_day + timedelta(weeks=5),
        time_zone=zone_name,
        subject="Standup across DST",
        invitees=[COLLEAGUE],
    )
    salesforce_starts = [world.sf(o)["StartDateTime"] for o in series.occurrences]
    offsets = {s.astimezone(zone).utcoffset() for s in salesforce_starts}
    assert len(offsets) == 2, "the series must cross a daylight saving change"
    assert {s.astimezone(zone).hour for s in salesforce_starts} == {9}

    report = world.service().poll()

    assert report.failures == []
    body = world.graph_log("POST", EVENTS_ROUTE)[0].body
    windows = timezones.windows_name(zone_name)  # Graph is given the Windows name
    assert body["start"] == {"dateTime": first.strftime("%Y-%m-%dT09:00:00"), "timeZone": windows}
    assert body["recurrence"]["range"]["recurrenceTimeZone"] == windows
    graph_id = world.record(series.master).graph_event_id
    # Graph's GMT times (instances read with Prefer: outlook.timezone="UTC") are exact.
    graph = world.runtime.graphs[TENANT]
    instances = graph.list_instances(
        ORGANIZER,
        graph_id,
        salesforce_starts[0] - timedelta(days=1),
        salesforce_starts[-1] + timedelta(days=1),
    )
    assert [i["start"]["timeZone"] for i in instances] == ["UTC"] * len(salesforce_starts)
    assert [i["start"]["dateTime"][:19] for i in instances] == [
        s.strftime("%Y-%m-%dT%H:%M:%S") for s in salesforce_starts
    ]
    # The invitee's calendar and free/busy show the same instants.
    invitee = world.view(
        COLLEAGUE,
        salesforce_starts[0] - timedelta(days=1),
        salesforce_starts[-1] + timedelta(days=1),
    )
    assert [e.start for e in invitee] == salesforce_starts
    scheduler = world.runtime.scheduler(TENANT)
    (busy,) = scheduler.availability(
        [ORGANIZER],
        salesforce_starts[0] - timedelta(hours=1),
        salesforce_starts[-1] + timedelta(hours=2),
    )
    assert [slot.start for slot in busy.slots] == salesforce_starts
    assert [slot.end - slot.start for slot in busy.slots] == [timedelta(hours=1)] * len(
        salesforce_starts
    )


def _mailbox_zone(world: World, email: str) -> str:
    user = world.sandbox.directory.find_by_email(email)
    assert user is not None
    return user.time_zone


def test_all_day_event_lands_on_its_dates_in_the_organizers_time_zone(world: World) -> None:
    zone_name = _mailbox_zone(world, ORGANIZER)
    day = (world.now() + timedelta(days=5)).date()
    event_id = world.org.create_event(
        ORGANIZER,
        "Offsite",
        all_day=True,
        activity_date=day,
        duration_minutes=1440,
        invitees=[COLLEAGUE],
    )

    report = world.service().poll()

    assert report.failures == []
    body = world.graph_log("POST", EVENTS_ROUTE)[0].body
    assert body["isAllDay"] is True
    assert body["start"] == {"dateTime": f"{day}T00:00:00", "timeZone": zone_name}
    assert body["end"] == {"dateTime": f"{day + timedelta(days=1)}T00:00:00", "timeZone": zone_name}
    meeting = world.outlook_event(ORGANIZER, world.record(event_id).graph_event_id)
    zone = resolve_zone(zone_name)
    assert meeting.is_all_day
    assert meeting.start.astimezone(zone) == datetime.combine(day, datetime.min.time(), tzinfo=zone)
    assert meeting.end.astimezone(zone).date() == day + timedelta(days=1)
    # A second poll sends nothing: the organizer's zone is part of the synced content.
    logged = len(world.graph_log())
    world.service().poll()
    assert [r for r in world.graph_log()[logged:] if r.method != "GET"] == []


def test_14_day_events_keep_their_span(world: World) -> None:
    zone = resolve_zone(_mailbox_zone(world, ORGANIZER))
    day = (world.now() + timedelta(days=3)).date()
    all_day = world.org.create_event(
        ORGANIZER, "Trade fair", all_day=True, activity_date=day, duration_minutes=14 * 1440
    )
    start = (world.now() + timedelta(days=2)).replace(hour=8, minute=0, second=0, microsecond=0)
    timed = world.org.create_event(
        ORGANIZER, "Field trip", start=start, end=start + timedelta(days=14)
    )

    assert world.service().poll().failures == []

    meeting = world.outlook_event(ORGANIZER, world.record(all_day).graph_event_id)
    assert meeting.is_all_day
    assert meeting.start.astimezone(zone).date() == day
    assert meeting.end.astimezone(zone).date() == day + timedelta(days=14)
    assert meeting.end.astimezone(zone).hour == 0
    meeting = world.outlook_event(ORGANIZER, world.record(timed).graph_event_id)
    assert (meeting.start, meeting.end) == (start, start + timedelta(days=14))


def test_an_all_day_series_sits_on_its_dates_in_the_organizers_zone(world: World) -> None:
    zone_name = _mailbox_zone(world, ORGANIZER)
    zone = resolve_zone(zone_name)
    first = datetime.combine(
        (world.now() + timedelta(days=3)).date(), datetime.min.time(), tzinfo=UTC
    )
    series = create_classic_series(
        world.org,
        ORGANIZER,
        first,
        timedelta(days=1),
        recurrence_type="RecursDaily",
        interval=1,
        end_date=first.date() + timedelta(days=3),
        time_zone="Europe/Berlin",
        all_day=True,
        subject="Hackathon",
    )
    assert world.service().poll().failures == []
    graph_id = world.record(series.master).graph_event_id
    instances = [
        e
        for e in world.view(ORGANIZER, first - timedelta(days=2), first + timedelta(days=6))
        if e.series_master_id == graph_id
    ]
    assert [e.start.astimezone(zone).date() for e in instances] == [
        first.date() + timedelta(days=i) for i in range(4)
    ]
    assert all(e.is_all_day and e.start.astimezone(zone).hour == 0 for e in instances)


# ---------------------------------------------------------------- zone names and all-day


def _writes(world: World, since: int = 0) -> list[tuple[str, str]]:
    return [(r.method, r.route) for r in world.graph_log()[since:] if r.method != "GET"]


@pytest.mark.parametrize(
    ("zone_name", "windows", "model"),
    [
        ("Europe/Amsterdam", "W. Europe Standard Time", "classic"),
        ("Europe/Rome", "W. Europe Standard Time", "classic"),
        ("Europe/Madrid", "Romance Standard Time", "classic"),
        ("America/Toronto", "Eastern Standard Time", "classic"),
        ("Australia/Melbourne", "AUS Eastern Standard Time", "classic"),
        ("Australia/Melbourne", "AUS Eastern Standard Time", "lightning"),
    ],
)
def test_a_series_in_a_zone_graph_lists_no_iana_name_for_goes_out_under_its_windows_name(
    world: World, zone_name: str, windows: str, model: str
) -> None:
    # Graph refuses these IANA names (TimeZoneNotSupportedException): sent as Salesforce
    # names them, such a series failed on every retry.
    zone = ZoneInfo(zone_name)
    day = world.now().astimezone(zone).date() + timedelta(days=7)
    first = datetime.combine(day, time(9), tzinfo=zone)
    if model == "classic":
        series = create_classic_series(
            world.org,
            ORGANIZER,
            first,
            timedelta(minutes=30),
            recurrence_type="RecursDaily",
            interval=1,
            end_date=day + timedelta(days=2),
            time_zone=zone_name,
            subject="Morning call",
            invitees=[COLLEAGUE],
        )
    else:
        series = create_lightning_series(
            world.org,
            ORGANIZER,
            first,
            timedelta(minutes=30),
            rrule="RRULE:FREQ=DAILY;INTERVAL=1;COUNT=3",
            time_zone=zone_name,
            subject="Morning call",
            invitees=[COLLEAGUE],
        )

    report = world.service().poll()

    assert report.failures == [], report.failures
    (post,) = world.graph_log("POST", EVENTS_ROUTE)
    assert post.body["start"] == {"dateTime": f"{day}T09:00:00", "timeZone": windows}
    assert post.body["recurrence"]["range"]["recurrenceTimeZone"] == windows
    assert post.body["recurrence"]["range"]["startDate"] == day.isoformat()
    graph_id = world.record(series.master).graph_event_id
    starts = [world.sf(o)["StartDateTime"] for o in series.occurrences]
    shown = world.view(ORGANIZER, starts[0] - timedelta(days=1), starts[-1] + timedelta(days=1))
    assert [e.start for e in shown if e.series_master_id == graph_id] == starts
    assert {world.record(o).status for o in series.occurrences} == {"synced"}


def _all_day_series(world: World, zone_name: str, first_day: date, days: int) -> SeriesIds:
    return create_classic_series(
        world.org,
        ORGANIZER,
        datetime.combine(first_day, time(), tzinfo=UTC),
        timedelta(days=1),
        recurrence_type="RecursDaily",
        interval=1,
        end_date=first_day + timedelta(days=days - 1),
        time_zone=zone_name,
        all_day=True,
        subject="Site visit",
        invitees=[COLLEAGUE],
    )


def _all_day_dates(world: World, mailbox: str, zone: ZoneInfo, around: list[date]) -> list[date]:
    start = datetime.combine(around[0], time(), tzinfo=UTC) - timedelta(days=2)
    end = datetime.combine(around[-1], time(), tzinfo=UTC) + timedelta(days=3)
    return sorted(
        e.start.astimezone(zone).date()
        for e in world.view(mailbox, start, end)
        if e.subject == "Site visit" and e.is_all_day
    )


@pytest.mark.parametrize(
    "mailbox_zone",
    # West of UTC (where midnight UTC is the day before), a half-hour offset west of
    # UTC, a half-hour offset in the southern hemisphere.
    ["Pacific Standard Time", "Newfoundland Standard Time", "Cen. Australia Standard Time"],
)
def test_an_all_day_series_has_each_date_once_in_the_organizers_zone(
    world: World, mailbox_zone: str
) -> None:
    world.sandbox.directory.set_time_zone(ORGANIZER, mailbox_zone)
    zone = resolve_zone(mailbox_zone)
    first_day = world.now().date() + timedelta(days=3)
    days = [first_day + timedelta(days=i) for i in range(4)]
    # The organizer's Salesforce zone is their mailbox's.
    series = _all_day_series(world, timezones.lookup(mailbox_zone).iana, first_day, len(days))

    report = world.service().poll()

    assert report.failures == [], report.failures
    # One POST for the series; no occurrence moved by a PATCH (each one mails the invitees).
    assert _writes(world) == [("POST", EVENTS_ROUTE)]
    body = world.graph_log("POST", EVENTS_ROUTE)[0].body
    assert body["start"] == {"dateTime": f"{first_day}T00:00:00", "timeZone": mailbox_zone}
    assert body["recurrence"]["range"]["startDate"] == first_day.isoformat()
    assert body["recurrence"]["range"]["recurrenceTimeZone"] == mailbox_zone
    # Each date once, none missing, in the organizer's and the invitee's calendars.
    assert _all_day_dates(world, ORGANIZER, zone, days) == days
    assert _all_day_dates(world, COLLEAGUE, zone, days) == days
    # Each occurrence Event is tied to the Outlook occurrence on its own date.
    graph_id = world.record(series.master).graph_event_id
    window = (
        datetime.combine(days[0], time(), tzinfo=UTC) - timedelta(days=2),
        datetime.combine(days[-1], time(), tzinfo=UTC) + timedelta(days=3),
    )
    date_of = {
        e.id: e.start.astimezone(zone).date()
        for e in world.view(ORGANIZER, *window)
        if e.series_master_id == graph_id
    }
    assert [date_of.get(world.record(o).graph_event_id) for o in series.occurrences] == days
    # A second poll sends nothing.
    logged = len(world.graph_log())
    assert world.service().poll().failures == []
    assert _writes(world, logged) == []


def test_a_new_york_all_day_series_of_a_london_mailbox_starts_on_its_first_date(
    world: World,
) -> None:
    world.sandbox.directory.set_time_zone(ORGANIZER, "GMT Standard Time")
    london = resolve_zone("GMT Standard Time")
    first_day = world.now().date() + timedelta(days=3)
    days = [first_day + timedelta(days=i) for i in range(3)]
    # Midnight UTC of the first date is the evening before in New York.
    _all_day_series(world, "America/New_York", first_day, len(days))

    report = world.service().poll()

    assert report.failures == [], report.failures
    body = world.graph_log("POST", EVENTS_ROUTE)[0].body
    # recurrenceRange.startDate "must be the same value as the start property".
    assert body["start"]["dateTime"] == f"{first_day}T00:00:00"
    assert body["recurrence"]["range"]["startDate"] == first_day.isoformat()
    assert _all_day_dates(world, ORGANIZER, london, days) == days


def test_a_mailbox_zone_no_table_knows_fails_those_meetings_alone_with_its_name(
    world: World,
) -> None:
    # A name neither Windows nor CLDR knows, as a mailbox with a zone of its owner's own
    # making may report. The sandbox itself would refuse it, so it is set on the
    # directory entry directly.
    organizer = world.sandbox.directory.find_by_email(ORGANIZER)
    assert organizer is not None
    organizer.time_zone = "Customized Time Zone"
    first_day = world.now().date() + timedelta(days=3)
    series = _all_day_series(world, "America/New_York", first_day, 3)
    offsite = world.org.create_event(
        ORGANIZER, "Offsite", all_day=True, activity_date=first_day, duration_minutes=1440
    )
    start = world.now().replace(microsecond=0) + timedelta(days=2)
    call = world.org.create_event(COLLEAGUE, "Call", start=start, end=start + timedelta(hours=1))

    report = world.service().poll()

    # The poll went on: the other owner's meeting is in Outlook.
    assert world.record(call).status == "synced"
    assert [p.body["subject"] for p in world.graph_log("POST", EVENTS_ROUTE)] == ["Call"]
    for event_id in (series.master, offsite):
        row = world.record(event_id)
        assert row.status == "failed"
        assert "'Customized Time Zone'" in (row.last_error_message or "")
        assert "Customized Time Zone" in (world.sf(event_id)["Sync_Error__c"] or "")
    assert {event_id for event_id, _ in report.failures} >= {series.master, offsite}


def test_a_series_synced_under_its_iana_name_is_not_sent_again_for_the_name_alone(
    world: World,
) -> None:
    # Ledgers written before syncd sent Windows names hold the IANA ones (Graph took
    # Europe/Berlin, a listed name). The same times under the other name are no change:
    # a PATCH of a series mails every invitee.
    zone = ZoneInfo("Europe/Berlin")
    day = world.now().astimezone(zone).date() + timedelta(days=7)
    series = create_classic_series(
        world.org,
        ORGANIZER,
        datetime.combine(day, time(9), tzinfo=zone),
        timedelta(minutes=30),
        recurrence_type="RecursDaily",
        interval=1,
        end_date=day + timedelta(days=2),
        time_zone="Europe/Berlin",
        subject="Morning call",
        invitees=[COLLEAGUE],
    )
    service = world.service()
    assert service.poll().failures == []
    with session_scope(world.runtime.engine) as session:
        row = session.get(MeetingRecord, world.record(series.master).id)
        assert row is not None
        sent = copy.deepcopy(row.sent)
        sent["start"]["timeZone"] = sent["end"]["timeZone"] = "Europe/Berlin"
        sent["recurrence"]["range"]["recurrenceTimeZone"] = "Europe/Berlin"
        row.sent, row.target, row.content_hash = sent, sent, em.content_hash(sent)
        session.add(row)
    logged = len(world.graph_log())

    report = service.full_resync()

    assert report.failures == []
    assert _writes(world, logged) == []
    (step,) = [s for s in report.steps if s.salesforce_id == series.master]
    assert step.action == Action.SKIP, step.reason
