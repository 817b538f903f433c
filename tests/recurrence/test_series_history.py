"""A series' writes go through the core, so each leaves its meeting history entry: the
master's create, each occurrence tied to its Outlook occurrence, an occurrence made an
exception, an occurrence removed."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from syncd.domain import HistoryAction, HistorySide, Source
from syncd.ledger.history import history_of
from syncd.sandbox.salesforce.recurrence import (
    create_classic_series,
    delete_occurrence,
    edit_occurrence,
)

from .conftest import COLLEAGUE, ORGANIZER, TENANT, World

BERLIN = ZoneInfo("Europe/Berlin")


def _next_monday_at(world: World, hour: int) -> datetime:
    today = world.now().astimezone(BERLIN).date()
    monday = today + timedelta(days=(7 - today.weekday()) % 7 or 7)
    return datetime.combine(monday, datetime.min.time(), tzinfo=BERLIN).replace(hour=hour)


def _actions(world: World, event_id: str) -> list[HistoryAction]:
    entries = history_of(world.runtime.engine, TENANT, Source.SALESFORCE, event_id)
    return [entry.action for entry in entries]


def test_series_writes_are_in_the_meeting_history(world: World) -> None:
    first = _next_monday_at(world, 9)
    series = create_classic_series(
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
    )
    service = world.service()
    service.poll()

    assert _actions(world, series.master) == [HistoryAction.CREATED]
    second, third = series.occurrences[1], series.occurrences[2]
    [tracked] = history_of(world.runtime.engine, TENANT, Source.SALESFORCE, second)
    assert (tracked.action, tracked.side) == (HistoryAction.TRACKED, HistorySide.LEDGER)
    assert tracked.fields == {"graph_event_id": [None, world.record(second).graph_event_id]}

    moved = world.sf(second)["StartDateTime"] + timedelta(hours=2)
    edit_occurrence(
        world.org,
        second,
        Subject="Pipeline (moved)",
        StartDateTime=moved,
        EndDateTime=moved + timedelta(minutes=30),
    )
    service.poll()

    *_, exception = history_of(world.runtime.engine, TENANT, Source.SALESFORCE, second)
    assert (exception.action, exception.side) == (HistoryAction.UPDATED, HistorySide.OUTLOOK)
    assert exception.fields["subject"] == ["Weekly pipeline", "Pipeline (moved)"]
    assert exception.graph_request_id is not None

    delete_occurrence(world.org, third)
    world.advance(61)  # getDeleted covers whole minutes only
    service.poll()

    assert _actions(world, third) == [HistoryAction.TRACKED, HistoryAction.CANCELLED]
