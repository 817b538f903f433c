"""All-day meetings changed in Outlook, on the fakes: a move (single and multi-day) and
a switch between all-day and timed under each policy, with no echo after.

The organizer moves the meeting in MemoryGraph directly, as Outlook does: midnight to
midnight in the mailbox's zone (Pacific Standard Time in the fakes), end exclusive.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from tests.fakes import FakeWorld
from tests.fakes.world import ORGANIZER
from tests.sync_logic.test_outlook_changes import (
    entries,
    quiet_after,
    salesforce_writes,
    synced,
    utc,
    world_with,
)

ZONE = "Pacific Standard Time"


def midnight(day: date) -> datetime:
    return datetime.combine(day, time(0), tzinfo=UTC)


def days_in_outlook(first: date, days: int) -> dict[str, Any]:
    """The PATCH Outlook sends for an all-day meeting on `days` days from `first`."""
    return {
        "isAllDay": True,
        "start": {"dateTime": f"{first.isoformat()}T00:00:00", "timeZone": ZONE},
        "end": {
            "dateTime": f"{(first + timedelta(days=days)).isoformat()}T00:00:00",
            "timeZone": ZONE,
        },
    }


def all_day_synced(world: FakeWorld, days: int) -> tuple[str, str, date]:
    first = world.now().date() + timedelta(days=3)
    last = first + timedelta(days=days - 1)
    event_id, graph_id = synced(
        world, all_day=True, start=midnight(first), end=midnight(last), subject="Offsite"
    )
    assert world.org.record(event_id)["IsAllDayEvent"] is True
    return event_id, graph_id, first


@pytest.mark.parametrize("days", [1, 3])
def test_two_way_an_all_day_move_is_written_to_the_event_without_an_echo(days: int) -> None:
    world = world_with()
    event_id, graph_id, first = all_day_synced(world, days)
    moved = first + timedelta(days=2)
    mark = len(world.salesforce.faults.calls)
    world.graph.organizer_edit(ORGANIZER, graph_id, days_in_outlook(moved, days))

    report = world.service.sweep_outlook()

    assert report.changes == {"moved": 1} and report.salesforce_written == 1
    last = moved + timedelta(days=days - 1)
    [written] = salesforce_writes(world, mark)
    assert {k: v for k, v in written.items() if k not in ("attributes", "id")} == {
        "IsAllDayEvent": True,
        "ActivityDate": moved.isoformat(),
        "StartDateTime": f"{moved.isoformat()}T00:00:00Z",
        "EndDateTime": f"{last.isoformat()}T00:00:00Z",
        "DurationInMinutes": days * 1440,
        "Sync_Status__c": "Synced",
        "Sync_Error__c": None,
    }
    event = world.org.record(event_id)
    assert (event["ActivityDate"], event["EndDate"], event["DurationInMinutes"]) == (
        moved,
        last,
        days * 1440,
    )
    assert event["IsAllDayEvent"] is True and event["Sync_Status__c"] == "Synced"
    assert entries(world, event_id)[-2:] == [("outlook", "observed"), ("salesforce", "updated")]
    outlook = world.meeting(event_id)
    assert outlook["isAllDay"] is True
    quiet_after(world)


def test_salesforce_wins_puts_an_all_day_move_back() -> None:
    world = world_with("salesforce_wins")
    event_id, graph_id, first = all_day_synced(world, 2)
    before = world.meeting(event_id)
    mark = len(world.salesforce.faults.calls)
    world.graph.organizer_edit(ORGANIZER, graph_id, days_in_outlook(first + timedelta(days=1), 2))

    report = world.service.sweep_outlook()

    assert report.outlook_restored == 1
    after = world.meeting(event_id)
    assert (after["start"], after["end"]) == (before["start"], before["end"])
    assert world.org.record(event_id)["ActivityDate"] == first
    assert [w for w in salesforce_writes(world, mark) if "ActivityDate" in w] == []
    quiet_after(world)


def test_report_an_all_day_move_is_recorded_only() -> None:
    world = world_with("report")
    event_id, graph_id, first = all_day_synced(world, 2)
    world.graph.organizer_edit(ORGANIZER, graph_id, days_in_outlook(first + timedelta(days=1), 2))

    world.service.sweep_outlook()

    event = world.org.record(event_id)
    assert event["ActivityDate"] == first and event["Sync_Status__c"] == "Outlook differs"
    quiet_after(world)


def test_two_way_a_meeting_switched_to_all_day_and_back() -> None:
    world = world_with()
    event_id, graph_id = synced(world)
    day = world.now().date() + timedelta(days=4)
    world.graph.organizer_edit(ORGANIZER, graph_id, days_in_outlook(day, 2))

    assert world.service.sweep_outlook().changes == {"moved": 1}

    event = world.org.record(event_id)
    assert (event["IsAllDayEvent"], event["ActivityDate"], event["EndDate"]) == (
        True,
        day,
        day + timedelta(days=1),
    )
    quiet_after(world)

    start = midnight(day).replace(hour=17)
    world.graph.organizer_edit(
        ORGANIZER,
        graph_id,
        {"isAllDay": False, "start": utc(start), "end": utc(start + timedelta(minutes=30))},
    )

    assert world.service.sweep_outlook().changes == {"moved": 1}

    event = world.org.record(event_id)
    assert (event["IsAllDayEvent"], event["StartDateTime"], event["DurationInMinutes"]) == (
        False,
        start,
        30,
    )
    quiet_after(world)


def test_an_all_day_move_in_another_zone_keeps_its_days_in_the_mailbox_zone() -> None:
    # Outlook's days are read in the zone the organizer moved the meeting in; syncd keeps
    # all-day meetings in the mailbox's zone, so it writes the same days back in that zone.
    world = world_with()
    event_id, graph_id, first = all_day_synced(world, 2)
    moved = first + timedelta(days=1)
    berlin = "W. Europe Standard Time"
    world.graph.organizer_edit(
        ORGANIZER,
        graph_id,
        {
            "isAllDay": True,
            "start": {"dateTime": f"{moved.isoformat()}T00:00:00", "timeZone": berlin},
            "end": {
                "dateTime": f"{(moved + timedelta(days=2)).isoformat()}T00:00:00",
                "timeZone": berlin,
            },
        },
    )

    assert world.service.sweep_outlook().changes == {"moved": 1}

    assert world.org.record(event_id)["ActivityDate"] == moved
    outlook = world.meeting(event_id)
    assert outlook["originalStartTimeZone"] == ZONE
    local = datetime.combine(moved, time(0), tzinfo=ZoneInfo("America/Los_Angeles"))
    assert outlook["start"]["dateTime"].startswith(local.astimezone(UTC).strftime("%Y-%m-%dT%H"))
    quiet_after(world)
