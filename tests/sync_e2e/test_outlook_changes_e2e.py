"""Changes made in Outlook, end to end: msal + requests to the Microsoft 365 sandbox,
simple-salesforce to the org, over HTTPS. A person's edit in Outlook is a Graph PATCH or
DELETE on the organizer's event made outside syncd (the runtime's Graph client called
directly, so neither the ledger nor the history knows of it); the sweep's delta rounds
find it.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import pytest

from syncd.cli import main
from syncd.core import event_mapping as em
from syncd.domain import MeetingStatus
from syncd.graph.client import GraphClient
from tests.sync_e2e.conftest import COLLEAGUE, ORGANIZER, TENANT, World
from tests.sync_e2e.tenant_options import set_policy


def graph(world: World) -> GraphClient:
    assert world.runtime is not None
    return world.runtime.graphs[TENANT]


def utc(value: datetime) -> dict[str, str]:
    return {"dateTime": value.strftime("%Y-%m-%dT%H:%M:%S"), "timeZone": "UTC"}


def synced(world: World, changes: str = "two_way", deletion: str = "mark") -> tuple[str, str]:
    set_policy(world.config(), TENANT, outlook_changes=changes, outlook_deletion=deletion)
    event_id = world.create_event(invitees=[COLLEAGUE], description="Agenda")
    service = world.service()
    service.poll()
    first = service.sweep_outlook()
    # The sandbox's attendees answer invitations: the first sweep writes their answers.
    assert first.full_reads == 1 and set(first.changes) <= {"answers"}, first
    graph_id = world.sf(event_id)["Outlook_Event_Id__c"]
    assert graph_id
    world.advance(60)
    return event_id, graph_id


def quiet(world: World, rounds: int = 2) -> None:
    """Polls and sweeps with nothing to do write nothing on either side."""
    graph_writes = world._graph_writes()
    sf_writes = world.salesforce.counters.snapshot().get("records_written", 0)
    for _ in range(rounds):
        world.advance(61)
        service = world.service()
        service.poll()
        assert service.sweep_outlook().changes == {}
    assert world._graph_writes() == graph_writes
    assert world.salesforce.counters.snapshot().get("records_written", 0) == sf_writes


def move(world: World, graph_id: str, days: int = 2) -> datetime:
    later = world.meeting_start(days=days, hour=10)
    graph(world).update_event(
        ORGANIZER, graph_id, {"start": utc(later), "end": utc(later + timedelta(minutes=30))}
    )
    return later


def outlook_start(world: World, graph_id: str) -> datetime | None:
    return em.parse_graph_time(graph(world).get_event(ORGANIZER, graph_id)["start"])


# -------------------------------------------------------------------------- quiet


def test_a_quiet_system_writes_nothing(world: World) -> None:
    synced(world)
    quiet(world, rounds=3)


# ------------------------------------------------------------------------ two_way


def test_two_way_move_and_edit_reach_the_event_without_an_echo(world: World) -> None:
    event_id, graph_id = synced(world)
    later = move(world, graph_id)
    graph(world).update_event(ORGANIZER, graph_id, {"subject": "Renamed in Outlook"})

    report = world.service().sweep_outlook()

    assert report.changes.get("moved") == 1 and report.changes.get("edited") == 1
    event = world.sf(event_id)
    assert event["StartDateTime"] == later and event["Subject"] == "Renamed in Outlook"
    assert event["Sync_Status__c"] == "Synced"
    quiet(world)


def test_two_way_deletion_marks_the_event(world: World) -> None:
    event_id, graph_id = synced(world)
    graph(world).delete_event(ORGANIZER, graph_id)

    report = world.service().sweep_outlook()

    assert report.changes == {"deleted": 1}
    assert world.sf(event_id)["Sync_Status__c"] == "Deleted in Outlook"
    assert world.record(event_id).status == MeetingStatus.CANCELLED
    quiet(world)
    assert world.calendar(ORGANIZER) == []


def test_two_way_delete_event_deletes_it_in_salesforce(world: World) -> None:
    event_id, graph_id = synced(world, deletion="delete_event")
    graph(world).delete_event(ORGANIZER, graph_id)

    report = world.service().sweep_outlook()

    assert report.events_deleted == 1
    assert event_id not in world.org.ids_of("Event")


# ---------------------------------------------------------------- salesforce_wins


def test_salesforce_wins_a_move_is_put_back(world: World) -> None:
    event_id, graph_id = synced(world, "salesforce_wins")
    before = outlook_start(world, graph_id)
    move(world, graph_id)

    report = world.service().sweep_outlook()

    assert report.outlook_restored == 1
    assert outlook_start(world, graph_id) == before
    assert world.sf(event_id)["Sync_Status__c"] == "Synced"
    # Moved back, the meeting asks its attendees again; the sandbox's answer anew.
    world.advance(61)
    assert set(world.service().sweep_outlook().changes) <= {"answers"}
    quiet(world)


def test_salesforce_wins_a_deletion_is_marked_not_undone(world: World) -> None:
    event_id, graph_id = synced(world, "salesforce_wins")
    graph(world).delete_event(ORGANIZER, graph_id)

    world.service().sweep_outlook()

    assert world.sf(event_id)["Sync_Status__c"] == "Deleted in Outlook"
    quiet(world)
    assert world.calendar(ORGANIZER) == []


# ------------------------------------------------------------------------- report


def test_report_a_move_and_a_deletion_change_nothing(world: World) -> None:
    event_id, graph_id = synced(world, "report")
    other_id = world.create_event(subject="Second", invitees=[COLLEAGUE])
    world.service().poll()
    world.service().sweep_outlook()
    other_graph_id = world.sf(other_id)["Outlook_Event_Id__c"]
    start = world.sf(event_id)["StartDateTime"]
    later = move(world, graph_id)
    graph(world).delete_event(ORGANIZER, other_graph_id)

    report = world.service().sweep_outlook()

    changes = {k: v for k, v in report.changes.items() if k != "answers"}
    assert changes == {"moved": 1, "deleted": 1}
    assert world.sf(event_id)["StartDateTime"] == start
    assert outlook_start(world, graph_id) == later
    for salesforce_id in (event_id, other_id):
        assert world.sf(salesforce_id)["Sync_Status__c"] == "Outlook differs"
    quiet(world)


# ---------------------------------------------------------------------- conflict


def test_conflict_the_later_change_wins_and_the_loser_is_in_the_history(
    world: World, capsys: pytest.CaptureFixture[str]
) -> None:
    event_id, graph_id = synced(world)
    world.org.update_event(event_id, Subject="Salesforce's subject")
    world.advance(30)
    graph(world).update_event(ORGANIZER, graph_id, {"subject": "Outlook's subject"})
    world.advance(30)

    world.service().poll()  # the poll sweeps the organizer's mailbox before its PATCH
    world.service().sweep_outlook()

    assert world.sf(event_id)["Subject"] == "Outlook's subject"
    assert graph(world).get_event(ORGANIZER, graph_id)["subject"] == "Outlook's subject"
    assert main(["--config", str(world.config_path), "history", event_id]) == 0
    table = capsys.readouterr().out
    assert "conflict" in table and "Salesforce's subject" in table
    assert "observed" in table and "Salesforce: update Event" in table
    assert main(["--config", str(world.config_path), "history", event_id, "--json"]) == 0
    assert '"action": "conflict"' in capsys.readouterr().out
    assert main(["--config", str(world.config_path), "history", "00U000000000000AAA"]) == 2
    assert "no history for Salesforce id 00U000000000000AAA" in capsys.readouterr().err
    quiet(world)


# ------------------------------------------------------------------------- series


def test_one_occurrence_moved_in_outlook_moves_its_event(world: World) -> None:
    from zoneinfo import ZoneInfo

    from syncd.sandbox.salesforce.recurrence import create_classic_series

    set_policy(world.config(), TENANT, outlook_changes="two_way")
    berlin = ZoneInfo("Europe/Berlin")
    today = world.now().astimezone(berlin).date()
    monday = today + timedelta(days=(7 - today.weekday()) % 7 or 7)
    first = datetime.combine(monday, datetime.min.time(), tzinfo=berlin).replace(hour=9)
    series = create_classic_series(
        world.org,
        ORGANIZER,
        first,
        timedelta(minutes=30),
        recurrence_type="RecursWeekly",
        day_of_week_mask=2,
        interval=1,
        end_date=(first + timedelta(weeks=3)).date(),
        time_zone="Europe/Berlin",
        subject="Weekly pipeline",
        invitees=[COLLEAGUE],
    )
    service = world.service()
    service.poll()
    service.sweep_outlook()
    world.advance(60)
    second = series.occurrences[1]
    instance_id = world.record(second).graph_event_id
    assert instance_id
    moved: Any = world.sf(second)["StartDateTime"] + timedelta(hours=2)
    graph(world).update_event(
        ORGANIZER, instance_id, {"start": utc(moved), "end": utc(moved + timedelta(minutes=30))}
    )

    report = world.service().sweep_outlook()

    assert report.changes.get("moved") == 1, report.changes
    assert world.sf(second)["StartDateTime"] == moved
    quiet(world)
