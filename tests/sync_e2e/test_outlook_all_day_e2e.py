"""An all-day meeting moved in Outlook, end to end: msal + requests to the Microsoft 365
sandbox, simple-salesforce to the org, over HTTPS. The organizer (tests/outlook_organizer.py)
moves the meeting as Outlook does, midnight to midnight in the mailbox's zone, end
exclusive; the sweep writes the Event's all-day fields, the history says so, and the next
polls and sweeps write nothing on either side.

The days come from the sandbox clock (suite_now()); with SYNCD_TEST_NOW on a
daylight-saving change (2027-03-28T01:30:00Z, 2027-10-31T00:30:00Z) the meetings lie on
and across that day in Europe/Berlin.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from syncd.cli import main
from syncd.timezones import windows_name
from tests.outlook_organizer import Organizer
from tests.sync_e2e.conftest import COLLEAGUE, ORGANIZER, TENANT, World
from tests.sync_e2e.tenant_options import set_policy
from tests.sync_e2e.test_outlook_changes_e2e import quiet

ZONE = "Europe/Berlin"


def midnight(day: date) -> datetime:
    return datetime.combine(day, time(0), tzinfo=UTC)


def on_days(first: date, days: int) -> dict[str, Any]:
    """The PATCH Outlook sends for an all-day meeting on `days` days from `first`."""
    zone = windows_name(ZONE)
    after = first + timedelta(days=days)
    return {
        "isAllDay": True,
        "start": {"dateTime": f"{first.isoformat()}T00:00:00", "timeZone": zone},
        "end": {"dateTime": f"{after.isoformat()}T00:00:00", "timeZone": zone},
    }


def all_day_synced(world: World, days: int, policy: str = "two_way") -> tuple[str, str, date]:
    """An all-day Event from today (in the organizer's zone) on `days` days, synced."""
    set_policy(world.config(), TENANT, outlook_changes=policy)
    world.sandbox.directory.set_time_zone(ORGANIZER, ZONE)
    first = world.now().astimezone(ZoneInfo(ZONE)).date()
    event_id = world.create_event(
        start=midnight(first),
        end=midnight(first + timedelta(days=days - 1)),
        all_day=True,
        invitees=[COLLEAGUE],
        subject="Offsite",
    )
    service = world.service()
    service.poll()
    assert set(service.sweep_outlook().changes) <= {"answers"}
    graph_id = world.sf(event_id)["Outlook_Event_Id__c"]
    assert graph_id
    world.advance(60)
    return event_id, graph_id, first


def settle(world: World) -> None:
    """The moved meeting asked its attendees again: the sandbox's answers come in."""
    world.advance(61)
    world.service().poll()
    assert set(world.service().sweep_outlook().changes) <= {"answers"}


@pytest.mark.parametrize("days", [1, 3])
def test_two_way_an_all_day_move_reaches_the_event_and_stays_quiet(
    world: World, days: int, capsys: pytest.CaptureFixture[str]
) -> None:
    event_id, graph_id, first = all_day_synced(world, days)
    moved = first + timedelta(days=1)
    with Organizer(world.sandbox, TENANT) as organizer:
        organizer.patch(ORGANIZER, graph_id, on_days(moved, days), "moved")
        held = organizer.get(ORGANIZER, graph_id)

    report = world.service().sweep_outlook()

    assert report.changes.get("moved") == 1 and report.salesforce_written == 1, report
    last = moved + timedelta(days=days - 1)
    event = world.sf(event_id)
    assert event["IsAllDayEvent"] is True and event["Sync_Status__c"] == "Synced"
    assert (event["ActivityDate"], event["EndDate"], event["DurationInMinutes"]) == (
        moved,
        last,
        days * 1440,
    )
    assert (event["StartDateTime"], event["EndDateTime"]) == (midnight(moved), midnight(last))
    assert main(["--config", str(world.config_path), "history", event_id]) == 0
    table = capsys.readouterr().out
    assert "observed" in table and "Salesforce: update Event" in table
    assert moved.isoformat() in table
    settle(world)
    quiet(world)
    with Organizer(world.sandbox, TENANT) as organizer:
        after = organizer.get(ORGANIZER, graph_id)
    assert (after["start"], after["end"], after["isAllDay"]) == (
        held["start"],
        held["end"],
        True,
    )


def test_salesforce_wins_an_all_day_move_is_put_back(world: World) -> None:
    event_id, graph_id, first = all_day_synced(world, 2, "salesforce_wins")
    with Organizer(world.sandbox, TENANT) as organizer:
        before = organizer.get(ORGANIZER, graph_id)
        organizer.patch(ORGANIZER, graph_id, on_days(first + timedelta(days=2), 2), "moved")

        report = world.service().sweep_outlook()

        after = organizer.get(ORGANIZER, graph_id)
    assert report.outlook_restored == 1
    assert (after["start"], after["end"]) == (before["start"], before["end"])
    event = world.sf(event_id)
    assert event["ActivityDate"] == first and event["Sync_Status__c"] == "Synced"
    settle(world)
    quiet(world)
