"""Daylight saving, all-day and multi-day events, end to end against both sandboxes."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from syncd.sandbox.microsoft.timezones import resolve_zone
from syncd.sandbox.salesforce.recurrence import create_classic_series

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
    assert body["start"] == {"dateTime": first.strftime("%Y-%m-%dT09:00:00"), "timeZone": zone_name}
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
