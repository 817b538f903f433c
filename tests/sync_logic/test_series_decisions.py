"""Series decisions on the fakes: one Outlook series per Salesforce series, exceptions,
removed occurrences, one PATCH for a series edit, and nothing on an unchanged poll.

The logic checks of tests/recurrence/test_series_e2e.py (a weekly classic series, the
pattern MemoryGraph expands), asserting the same outcomes.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from syncd.core import event_mapping as em
from syncd.sandbox.salesforce.recurrence import (
    SeriesIds,
    create_classic_series,
    cut_off,
    delete_occurrence,
    edit_occurrence,
    edit_series,
)
from tests.fakes import FakeWorld
from tests.fakes.world import COLLEAGUE, GRAPH_WRITES, ORGANIZER

BERLIN = ZoneInfo("Europe/Berlin")


def next_monday_at(world: FakeWorld, hour: int) -> datetime:
    today = world.now().astimezone(BERLIN).date()
    monday = today + timedelta(days=(7 - today.weekday()) % 7 or 7)
    return datetime.combine(monday, datetime.min.time(), tzinfo=BERLIN).replace(hour=hour)


def weekly(world: FakeWorld, weekdays: int = 2, weeks: int = 4) -> SeriesIds:
    first = next_monday_at(world, 9)
    return create_classic_series(
        world.org,
        ORGANIZER,
        first,
        timedelta(minutes=30),
        recurrence_type="RecursWeekly",
        day_of_week_mask=weekdays,
        interval=1,
        end_date=(first + timedelta(weeks=weeks)).date(),
        time_zone="Europe/Berlin",
        subject="Weekly pipeline",
        invitees=[COLLEAGUE],
    )


def instances(world: FakeWorld, master_graph_id: str) -> list[dict]:
    now = world.now()
    return world.graph.list_instances(ORGANIZER, master_graph_id, now, now + timedelta(days=90))


def writes_since(world: FakeWorld, mark: int) -> list[tuple[str, dict]]:
    return [(c.method, c.sent) for c in world.graph.faults.of(*GRAPH_WRITES)[mark:]]


def start_of(world: FakeWorld, event_id: str) -> datetime:
    return world.org.record(event_id)["StartDateTime"]


def test_a_weekly_series_becomes_one_outlook_series(world: FakeWorld) -> None:
    series = weekly(world, weekdays=2 | 8)  # Monday and Wednesday

    report = world.service.poll()

    assert report.failures == []
    (created,) = [c.sent for c in world.graph.faults.of("create_event")]
    assert created["recurrence"]["pattern"]["type"] == "weekly"
    master = world.record(series.master)
    assert master is not None and master.graph_event_id
    found = instances(world, master.graph_event_id)
    starts = sorted(start_of(world, o) for o in series.occurrences)
    assert [em.parse_graph_time(i["start"]) for i in found] == starts
    for occurrence in series.occurrences:
        row = world.record(occurrence)
        assert row is not None and row.status == "synced"
        assert row.graph_event_id in {i["id"] for i in found}
    assert world.org.record(series.master)["Sync_Status__c"] == "Synced"


def test_editing_the_whole_series_is_one_patch_of_the_master(world: FakeWorld) -> None:
    series = weekly(world)
    world.service.poll()
    master = world.record(series.master)
    assert master is not None and master.graph_event_id
    mark = world.graph_writes()
    world.advance(5)

    edit_series(
        world.org, series.master, Subject="Weekly pipeline (new agenda)", shift=timedelta(hours=1)
    )
    report = world.service.poll()

    assert report.failures == []
    ((method, sent),) = writes_since(world, mark)
    assert method == "update_event" and sent["id"] == master.graph_event_id
    assert sent["body"]["subject"] == "Weekly pipeline (new agenda)"
    assert sent["body"]["start"]["dateTime"].endswith("T10:00:00")
    found = instances(world, master.graph_event_id)
    assert [em.parse_graph_time(i["start"]) for i in found] == sorted(
        start_of(world, o) for o in series.occurrences
    )
    assert {i["subject"] for i in found} == {"Weekly pipeline (new agenda)"}
    assert {i["type"] for i in found} == {"occurrence"}


def test_a_changed_occurrence_becomes_an_outlook_exception(world: FakeWorld) -> None:
    series = weekly(world)
    world.service.poll()
    master = world.record(series.master)
    assert master is not None and master.graph_event_id
    second = series.occurrences[1]
    moved = start_of(world, second) + timedelta(hours=2)
    mark = world.graph_writes()
    world.advance(5)

    edit_occurrence(
        world.org,
        second,
        Subject="Pipeline (moved)",
        StartDateTime=moved,
        EndDateTime=moved + timedelta(minutes=30),
    )
    report = world.service.poll()

    assert report.failures == []
    row = world.record(second)
    assert row is not None and row.graph_event_id
    ((method, sent),) = writes_since(world, mark)
    assert method == "update_event" and sent["id"] == row.graph_event_id
    assert sent["body"]["subject"] == "Pipeline (moved)"
    exception = world.graph.get_event(ORGANIZER, row.graph_event_id)
    assert exception["type"] == "exception" and exception["seriesMasterId"] == master.graph_event_id
    assert em.parse_graph_time(exception["start"]) == moved
    others = [i for i in instances(world, master.graph_event_id) if i["id"] != row.graph_event_id]
    assert {i["subject"] for i in others} == {"Weekly pipeline"}

    mark = world.graph_writes()
    world.service.poll()
    assert writes_since(world, mark) == []  # polling again changes nothing


def test_a_deleted_occurrence_is_removed_from_the_outlook_series(world: FakeWorld) -> None:
    series = weekly(world)
    world.service.poll()
    master = world.record(series.master)
    assert master is not None and master.graph_event_id
    third = series.occurrences[2]
    gone = start_of(world, third)
    row = world.record(third)
    assert row is not None and row.graph_event_id
    mark = world.graph_writes()

    delete_occurrence(world.org, third)
    world.advance(61)  # getDeleted covers whole minutes only
    report = world.service.poll()

    assert report.failures == []
    # One cancel of that occurrence (it has an attendee), nothing else.
    assert writes_since(world, mark) == [("cancel_event", {"id": row.graph_event_id})]
    starts = [em.parse_graph_time(i["start"]) for i in instances(world, master.graph_event_id)]
    assert gone not in starts and len(starts) == len(series.occurrences) - 1
    after = world.record(third)
    assert after is not None and after.status == "cancelled"


def test_a_series_cut_off_ends_the_outlook_series_there(world: FakeWorld) -> None:
    series = weekly(world)
    world.service.poll()
    master = world.record(series.master)
    assert master is not None and master.graph_event_id
    kept = [start_of(world, o) for o in series.occurrences[:2]]
    mark = world.graph_writes()

    cut_off(world.org, series.master, series.occurrences[2])
    world.advance(61)  # getDeleted covers whole minutes only
    report = world.service.poll()

    assert report.failures == []
    # One PATCH of the master's range; Outlook drops the later occurrences itself.
    ((method, sent),) = writes_since(world, mark)
    assert method == "update_event" and sent["id"] == master.graph_event_id
    assert sent["body"]["recurrence"]["range"]["type"] == "endDate"
    starts = [em.parse_graph_time(i["start"]) for i in instances(world, master.graph_event_id)]
    assert starts == kept
    for later in series.occurrences[2:]:
        row = world.record(later)
        assert row is not None and row.status == "cancelled"
