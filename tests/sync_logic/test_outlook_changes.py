"""Changes made in Outlook, on the fakes: each change kind under each policy, conflicts,
no echo of syncd's own writes, and a quiet system that writes nothing on either side.

The organizer edits or deletes the meeting in MemoryGraph directly (as a person in
Outlook would: nothing goes through syncd); the sweep reads it with a delta round.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from syncd.core import event_mapping as em
from syncd.core.outlook_changes import GONE_IN_OUTLOOK
from syncd.domain import ErrorCode, HistoryAction, HistorySide, MeetingStatus, Source, SyncdError
from syncd.ledger.history import history_of
from tests.fakes import FakeWorld, build_world
from tests.fakes.world import (
    COLLEAGUE,
    DOMAIN,
    GRAPH_WRITES,
    ORGANIZER,
    OTHER_COLLEAGUE,
    PEOPLE,
    tenant_config,
)


def world_with(changes: str = "two_way", deletion: str = "mark") -> FakeWorld:
    return build_world(tenant=tenant_config(outlook_changes=changes, outlook_deletion=deletion))


def synced(world: FakeWorld, **event: Any) -> tuple[str, str]:
    """A synced meeting (poll, then a first sweep that reads every mailbox in full)."""
    event.setdefault("invitees", [COLLEAGUE])
    event_id = world.create_event(**event)
    world.service.poll()
    first = world.service.sweep_outlook()
    assert first.full_reads == 1 and first.changes == {}, first
    graph_id = world.outlook_id(event_id)
    assert graph_id
    world.advance(60)
    return event_id, graph_id


def utc(value: Any) -> dict[str, str]:
    return {"dateTime": value.strftime("%Y-%m-%dT%H:%M:%S"), "timeZone": "UTC"}


def salesforce_writes(world: FakeWorld, since: int = 0) -> list[dict[str, Any]]:
    return [
        record
        for call in world.salesforce.faults.calls[since:]
        if call.method in ("update_records", "delete_record")
        for record in call.sent
    ]


def entries(world: FakeWorld, event_id: str) -> list[tuple[str, str]]:
    return [
        (e.side.value, e.action.value)
        for e in history_of(world.engine, world.tenant.name, Source.SALESFORCE, event_id)
    ]


def quiet_after(world: FakeWorld, rounds: int = 3) -> None:
    """Polls and sweeps that find nothing to do write nothing, on either side."""
    graph_mark, sf_mark = len(world.graph.faults.calls), len(world.salesforce.faults.calls)
    for _ in range(rounds):
        world.advance(61)
        world.service.poll()
        report = world.service.sweep_outlook()
        assert report.changes == {}, report.changes
    graph_writes = [c for c in world.graph.faults.calls[graph_mark:] if c.method in GRAPH_WRITES]
    assert graph_writes == []
    assert salesforce_writes(world, sf_mark) == []


# ------------------------------------------------------------------- quiet, echo


def test_a_quiet_system_writes_nothing_on_either_side_over_several_sweeps() -> None:
    world = world_with()
    synced(world)
    synced(world, owner=OTHER_COLLEAGUE, subject="Another")
    quiet_after(world, rounds=4)


def test_syncds_own_writes_do_not_come_back_as_outlook_changes() -> None:
    world = world_with()
    event_id, _ = synced(world)
    later = world.meeting_start(days=3)
    world.org.update_event(
        event_id,
        Subject="Moved in Salesforce",
        StartDateTime=later,
        EndDateTime=later + timedelta(hours=1),
    )
    world.service.poll()  # PATCHes Outlook: a new changeKey the delta round reports

    report = world.service.sweep_outlook()

    assert report.changes == {} and report.salesforce_written == 0
    assert ("outlook", "observed") not in entries(world, event_id)
    quiet_after(world)


def test_answers_are_written_back_by_the_sweep_and_are_no_drift() -> None:
    world = world_with()
    event_id, graph_id = synced(world)
    world.graph.respond(ORGANIZER, graph_id, COLLEAGUE, "accepted")

    report = world.service.sweep_outlook()

    assert report.changes == {"answers": 1} and report.meetings_changed == 1
    assert world.org.record(event_id)["Responses_Summary__c"] == f"Accepted: {COLLEAGUE}"
    assert world.org.record(event_id)["Sync_Status__c"] == "Synced"
    quiet_after(world)


# ------------------------------------------------------------------------ two_way


def test_two_way_a_move_in_outlook_is_written_to_the_event_without_an_echo() -> None:
    world = world_with()
    event_id, graph_id = synced(world)
    later = world.meeting_start(days=2, hour=10)
    world.graph.organizer_edit(
        ORGANIZER, graph_id, {"start": utc(later), "end": utc(later + timedelta(minutes=30))}
    )

    report = world.service.sweep_outlook()

    assert report.changes == {"moved": 1} and report.salesforce_written == 1
    event = world.org.record(event_id)
    assert event["StartDateTime"] == later
    assert event["Sync_Status__c"] == "Synced"
    record = world.record(event_id)
    assert record is not None and record.request["startTime"] == later.strftime(
        "%Y-%m-%dT%H:%M:%SZ"
    )
    assert entries(world, event_id)[-2:] == [("outlook", "observed"), ("salesforce", "updated")]
    writes = world.graph_writes()
    quiet_after(world)  # the Event's change (ours) is no change for the poll: no PATCH
    assert world.graph_writes() == writes


def test_two_way_an_edit_in_outlook_is_written_to_the_event() -> None:
    world = world_with()
    event_id, graph_id = synced(world, description="Agenda")
    world.graph.organizer_edit(
        ORGANIZER,
        graph_id,
        {
            "subject": "Renamed in Outlook",
            "location": {"displayName": "Room 4"},
            "body": {"contentType": "html", "content": "<p>New agenda &amp; notes</p>"},
        },
    )

    report = world.service.sweep_outlook()

    assert report.changes == {"edited": 1}
    event = world.org.record(event_id)
    assert (event["Subject"], event["Location"], event["Description"]) == (
        "Renamed in Outlook",
        "Room 4",
        "New agenda & notes",
    )
    history = history_of(world.engine, world.tenant.name, Source.SALESFORCE, event_id)
    observed = next(e for e in history if e.action == HistoryAction.OBSERVED)
    assert observed.fields["subject"] == ["Quarterly review", "Renamed in Outlook"]
    quiet_after(world)


def test_two_way_a_deletion_marks_the_event_and_the_meeting_is_not_made_again() -> None:
    world = world_with()
    event_id, graph_id = synced(world)
    world.graph.organizer_delete(ORGANIZER, graph_id)

    report = world.service.sweep_outlook()

    assert report.changes == {"deleted": 1} and report.marked == 1
    event = world.org.record(event_id)
    assert event["Sync_Status__c"] == "Deleted in Outlook"
    record = world.record(event_id)
    assert record is not None and record.status == MeetingStatus.CANCELLED
    assert record.last_error_code == GONE_IN_OUTLOOK
    creates = world.graph.faults.count("create_event")
    quiet_after(world)  # the status write changed the Event: the poll reads it, creates nothing
    assert world.graph.faults.count("create_event") == creates

    world.org.update_event(event_id, Subject="Back on")
    world.advance(61)
    world.service.poll()

    assert world.graph.faults.count("create_event") == creates + 1
    assert world.meeting(event_id)["subject"] == "Back on"


def test_two_way_with_delete_event_a_deletion_deletes_the_event() -> None:
    world = world_with(deletion="delete_event")
    event_id, graph_id = synced(world)
    world.graph.organizer_delete(ORGANIZER, graph_id)

    report = world.service.sweep_outlook()

    assert report.events_deleted == 1
    assert world.salesforce.faults.count("delete_record") == 1
    assert event_id not in world.org.ids_of("Event")
    assert ("salesforce", "deleted") in entries(world, event_id)
    quiet_after(world)


def test_two_way_attendees_added_in_outlook_are_reported_not_invited_in_salesforce() -> None:
    world = world_with()
    event_id, graph_id = synced(world)
    meeting = world.graph.get_event(ORGANIZER, graph_id)
    attendees = [
        *meeting["attendees"],
        {"emailAddress": {"address": OTHER_COLLEAGUE}, "type": "required"},
    ]
    world.graph.organizer_edit(ORGANIZER, graph_id, {"attendees": attendees})

    report = world.service.sweep_outlook()

    assert "attendees" in report.changes
    event = world.org.record(event_id)
    assert event["Sync_Status__c"] == "Outlook differs"
    assert OTHER_COLLEAGUE in event["Sync_Error__c"]
    assert len(world.org.invitees(event_id)) == 1
    quiet_after(world)


def test_a_meeting_moved_out_of_the_window_is_a_move_not_a_deletion() -> None:
    world = world_with()
    event_id, graph_id = synced(world)
    far = world.meeting_start(days=400)
    world.graph.organizer_edit(
        ORGANIZER, graph_id, {"start": utc(far), "end": utc(far + timedelta(hours=1))}
    )

    report = world.service.sweep_outlook()

    assert report.changes == {"moved": 1}
    assert world.org.record(event_id)["StartDateTime"] == far


def test_a_full_read_after_an_expired_link_finds_a_deletion() -> None:
    world = world_with()
    event_id, graph_id = synced(world)
    world.graph.delta.expire(ORGANIZER)
    world.graph.organizer_delete(ORGANIZER, graph_id)

    report = world.service.sweep_outlook()

    assert report.full_reads == 1 and report.changes == {"deleted": 1}
    assert world.org.record(event_id)["Sync_Status__c"] == "Deleted in Outlook"


# ---------------------------------------------------------------- salesforce_wins


def test_salesforce_wins_a_move_is_put_back_in_outlook() -> None:
    world = world_with("salesforce_wins")
    event_id, graph_id = synced(world)
    before = world.graph.get_event(ORGANIZER, graph_id)
    later = world.meeting_start(days=2, hour=10)
    world.graph.organizer_edit(
        ORGANIZER,
        graph_id,
        {"start": utc(later), "end": utc(later + timedelta(minutes=30)), "subject": "Mine"},
    )
    sf_mark = len(world.salesforce.faults.calls)

    report = world.service.sweep_outlook()

    assert report.outlook_restored == 1
    after = world.graph.get_event(ORGANIZER, graph_id)
    assert em.parse_graph_time(after["start"]) == em.parse_graph_time(before["start"])
    assert after["subject"] == "Quarterly review"
    assert salesforce_writes(world, sf_mark) == []
    assert ("outlook", "restored") in entries(world, event_id)
    assert ("outlook", "updated") in entries(world, event_id)  # the PATCH itself
    quiet_after(world)


def test_salesforce_wins_an_outlook_move_and_a_salesforce_edit_both_end_as_salesforce_says() -> (
    None
):
    world = world_with("salesforce_wins")
    event_id, graph_id = synced(world)
    before = world.graph.get_event(ORGANIZER, graph_id)
    later = world.meeting_start(days=2, hour=10)
    world.graph.organizer_edit(
        ORGANIZER, graph_id, {"start": utc(later), "end": utc(later + timedelta(minutes=30))}
    )
    world.advance(30)
    world.org.update_event(event_id, Subject="Renamed in Salesforce")
    world.advance(30)

    world.service.poll()  # sweeps the mailbox first: Outlook put back, then the edit PATCHed

    after = world.graph.get_event(ORGANIZER, graph_id)
    assert em.parse_graph_time(after["start"]) == em.parse_graph_time(before["start"])
    assert after["subject"] == "Renamed in Salesforce"
    quiet_after(world)


def test_salesforce_wins_a_deletion_is_marked_not_undone() -> None:
    world = world_with("salesforce_wins")
    event_id, graph_id = synced(world)
    world.graph.organizer_delete(ORGANIZER, graph_id)

    world.service.sweep_outlook()

    assert world.org.record(event_id)["Sync_Status__c"] == "Deleted in Outlook"
    creates = world.graph.faults.count("create_event")
    quiet_after(world)
    assert world.graph.faults.count("create_event") == creates


# ------------------------------------------------------------------------- report


def test_report_a_move_changes_nothing_and_is_recorded_once() -> None:
    world = world_with("report")
    event_id, graph_id = synced(world)
    later = world.meeting_start(days=2, hour=10)
    world.graph.organizer_edit(
        ORGANIZER, graph_id, {"start": utc(later), "end": utc(later + timedelta(minutes=30))}
    )
    graph_writes = world.graph_writes()
    start = world.org.record(event_id)["StartDateTime"]

    report = world.service.sweep_outlook()

    assert report.changes == {"moved": 1}
    event = world.org.record(event_id)
    assert event["StartDateTime"] == start
    assert event["Sync_Status__c"] == "Outlook differs" and "start" in event["Sync_Error__c"]
    assert world.graph_writes() == graph_writes
    assert em.parse_graph_time(world.graph.get_event(ORGANIZER, graph_id)["start"]) == later
    quiet_after(world)
    assert entries(world, event_id).count(("outlook", "observed")) == 1


def test_report_a_deletion_is_recorded_and_not_undone() -> None:
    world = world_with("report")
    event_id, graph_id = synced(world)
    world.graph.organizer_delete(ORGANIZER, graph_id)

    world.service.sweep_outlook()

    assert world.org.record(event_id)["Sync_Status__c"] == "Outlook differs"
    creates = world.graph.faults.count("create_event")
    quiet_after(world)
    assert world.graph.faults.count("create_event") == creates


# ---------------------------------------------------------------------- conflicts


def test_conflict_outlook_changed_last_wins_and_salesforces_value_is_kept_in_history() -> None:
    world = world_with()
    event_id, graph_id = synced(world)
    world.org.update_event(event_id, Subject="Salesforce's subject")
    world.advance(30)
    world.graph.organizer_edit(ORGANIZER, graph_id, {"subject": "Outlook's subject"})
    world.advance(30)

    report = world.service.sweep_outlook()
    world.service.poll()

    assert report.conflicts == 1
    assert world.org.record(event_id)["Subject"] == "Outlook's subject"
    assert world.graph.get_event(ORGANIZER, graph_id)["subject"] == "Outlook's subject"
    history = history_of(world.engine, world.tenant.name, Source.SALESFORCE, event_id)
    conflict = next(e for e in history if e.action == HistoryAction.CONFLICT)
    assert conflict.side == HistorySide.LEDGER
    assert conflict.fields["subject"] == ["Salesforce's subject", "Outlook's subject"]
    quiet_after(world)


def test_conflict_salesforce_changed_last_wins_whichever_job_runs_first() -> None:
    for poll_first in (False, True):
        world = world_with()
        event_id, graph_id = synced(world)
        world.graph.organizer_edit(ORGANIZER, graph_id, {"subject": "Outlook's subject"})
        world.advance(30)
        world.org.update_event(event_id, Subject="Salesforce's subject")
        world.advance(30)

        if poll_first:
            world.service.poll()
        world.service.sweep_outlook()
        world.service.poll()

        assert world.org.record(event_id)["Subject"] == "Salesforce's subject"
        assert world.graph.get_event(ORGANIZER, graph_id)["subject"] == "Salesforce's subject"
        history = history_of(world.engine, world.tenant.name, Source.SALESFORCE, event_id)
        assert any("Outlook's subject" in str(e.fields) for e in history), (
            "the loser's value is in the history"
        )
        quiet_after(world)


def test_conflict_outlook_changed_last_wins_even_when_the_poll_runs_first() -> None:
    world = world_with()
    event_id, graph_id = synced(world)
    world.org.update_event(event_id, Subject="Salesforce's subject")
    world.advance(30)
    world.graph.organizer_edit(ORGANIZER, graph_id, {"subject": "Outlook's subject"})
    world.advance(30)

    world.service.poll()
    world.service.sweep_outlook()
    world.advance(61)
    world.service.poll()

    assert world.org.record(event_id)["Subject"] == "Outlook's subject"
    assert world.graph.get_event(ORGANIZER, graph_id)["subject"] == "Outlook's subject"
    quiet_after(world)


# ------------------------------------------------------------------------- series


def weekly_series(world: FakeWorld) -> tuple[Any, str]:
    from tests.sync_logic.test_series_decisions import weekly

    series = weekly(world)
    world.service.poll()
    # Occurrence rows start with no answers: the first sweep writes their (empty) summary.
    world.service.sweep_outlook()
    world.advance(60)
    world.service.poll()
    assert world.service.sweep_outlook().changes == {}
    master = world.record(series.master)
    assert master is not None and master.graph_event_id
    world.advance(60)
    return series, master.graph_event_id


def test_two_way_one_occurrence_moved_in_outlook_moves_its_event_only() -> None:
    world = world_with()
    series, _ = weekly_series(world)
    second = series.occurrences[1]
    row = world.record(second)
    assert row is not None and row.graph_event_id
    before = world.org.record(second)["StartDateTime"]
    moved = before + timedelta(hours=2)
    world.graph.organizer_edit(
        ORGANIZER,
        row.graph_event_id,
        {"start": utc(moved), "end": utc(moved + timedelta(minutes=30))},
    )

    report = world.service.sweep_outlook()

    assert report.changes == {"moved": 1}, report.changes
    assert world.org.record(second)["StartDateTime"] == moved
    others = [o for o in series.occurrences if o != second]
    assert all(world.org.record(o)["Sync_Status__c"] == "Synced" for o in others)
    quiet_after(world)
    assert (
        em.parse_graph_time(world.graph.get_event(ORGANIZER, row.graph_event_id)["start"]) == moved
    )


def test_salesforce_wins_one_occurrence_cancelled_in_outlook_is_marked() -> None:
    world = world_with("salesforce_wins")
    series, _ = weekly_series(world)
    second = series.occurrences[1]
    row = world.record(second)
    assert row is not None and row.graph_event_id
    world.graph.organizer_cancel_occurrence(ORGANIZER, row.graph_event_id)

    report = world.service.sweep_outlook()

    assert report.changes == {"deleted": 1}, report.changes
    assert world.org.record(second)["Sync_Status__c"] == "Deleted in Outlook"
    writes = world.graph_writes()
    quiet_after(world)
    assert world.graph_writes() == writes


# ---------------------------------------------------------------- nothing lost


def test_a_mailbox_that_cannot_be_read_keeps_its_link_and_its_change_is_found_next_time() -> None:
    world = world_with()
    event_id, graph_id = synced(world)
    world.graph.organizer_edit(ORGANIZER, graph_id, {"subject": "Renamed in Outlook"})
    unavailable = SyncdError(ErrorCode.UPSTREAM_UNAVAILABLE, "Graph is unavailable")
    world.graph.faults.fail_before("calendar_view_delta", unavailable)

    failed = world.service.sweep_outlook()

    assert [who for who, _ in failed.read_errors] == [ORGANIZER] and failed.changes == {}
    assert world.org.record(event_id)["Subject"] == "Quarterly review"
    again = world.service.sweep_outlook()
    assert again.changes == {"edited": 1} and again.full_reads == 0
    assert world.org.record(event_id)["Subject"] == "Renamed in Outlook"


def test_a_refused_event_write_leaves_the_change_for_the_next_sweep() -> None:
    world = world_with()
    event_id, graph_id = synced(world)
    world.graph.organizer_edit(ORGANIZER, graph_id, {"subject": "Renamed in Outlook"})
    down = SyncdError(ErrorCode.UPSTREAM_UNAVAILABLE, "Salesforce is unavailable")
    world.salesforce.faults.fail_before("update_records", down)

    first = world.service.sweep_outlook()

    assert first.writeback_errors and first.salesforce_written == 0
    record = world.record(event_id)
    assert record is not None and record.request["subject"] == "Quarterly review"
    second = world.service.sweep_outlook()  # the same delta link: the change comes again
    assert second.changes == {"edited": 1} and second.salesforce_written == 1
    assert world.org.record(event_id)["Subject"] == "Renamed in Outlook"
    quiet_after(world)


# ----------------------------------------------------------------------- cost


def test_changes_spread_over_many_mailboxes_cost_salesforce_calls_per_200_not_per_mailbox() -> None:
    organizers = [f"organizer{n:02d}@{DOMAIN}" for n in range(40)]
    world = build_world(
        tenant=tenant_config(outlook_changes="two_way"), people=(*PEOPLE, *organizers)
    )
    meetings = {
        owner: world.create_event(owner=owner, invitees=[COLLEAGUE], subject=f"Review {n}")
        for n, owner in enumerate(organizers)
    }
    world.service.poll()
    assert world.service.sweep_outlook().full_reads == len(organizers)
    world.advance(60)
    answered, edited = organizers[::2], organizers[1::2]
    for owner in answered:
        world.graph.respond(owner, world.outlook_id(meetings[owner]) or "", COLLEAGUE, "accepted")
    for owner in edited:
        graph_id = world.outlook_id(meetings[owner]) or ""
        world.graph.organizer_edit(owner, graph_id, {"subject": f"Renamed by {owner}"})
    mark = len(world.salesforce.faults.calls)

    report = world.service.sweep_outlook()

    calls = world.salesforce.faults.calls[mark:]
    # 40 changes: the answered meetings' invitees read, the edited Events (and their
    # relations) read, the Events written, the answers written (relations, summaries);
    # handled mailbox by mailbox this was 2 to 4 calls per mailbox.
    assert report.changes == {"answers": 20, "edited": 20}
    assert len(calls) <= 3 * 1 + 4, [(c.method, c.target[:60]) for c in calls]
    for owner in answered:
        summary = world.org.record(meetings[owner])["Responses_Summary__c"]
        assert summary == f"Accepted: {COLLEAGUE}"
    for owner in edited:
        assert world.org.record(meetings[owner])["Subject"] == f"Renamed by {owner}"
    quiet_after(world)  # every mailbox's link moved on: nothing is read again


def test_a_refused_answer_write_leaves_the_answer_for_the_next_sweep() -> None:
    world = world_with()
    event_id, graph_id = synced(world)
    world.graph.respond(ORGANIZER, graph_id, COLLEAGUE, "accepted")
    down = SyncdError(ErrorCode.UPSTREAM_UNAVAILABLE, "Salesforce is unavailable")
    world.salesforce.faults.fail_before("update_records", down)

    first = world.service.sweep_outlook()

    assert first.changes == {"answers": 1} and first.writeback_errors
    assert world.org.record(event_id)["Responses_Summary__c"] in (None, "")
    second = world.service.sweep_outlook()  # the same delta link: the answer comes again
    assert second.changes == {"answers": 1} and not second.writeback_errors
    assert world.org.record(event_id)["Responses_Summary__c"] == f"Accepted: {COLLEAGUE}"
    quiet_after(world)


class Killed(BaseException):
    """The process ending between two steps (as a SIGKILL would: nothing else runs)."""


def test_killed_after_the_event_write_the_change_is_settled_without_an_echo() -> None:
    # The kill lands after Salesforce took Outlook's values and before the core's follow
    # recorded them: the Event holds Outlook's values, the ledger the old ones, the delta
    # link is not saved. Whichever job runs first after the restart, nothing is written
    # back to Outlook (it already holds these values) and the ledger catches up.
    for poll_first in (False, True):
        world = world_with()
        event_id, graph_id = synced(world)
        later = world.meeting_start(days=2, hour=10)
        world.graph.organizer_edit(
            ORGANIZER,
            graph_id,
            {
                "subject": "Moved in Outlook",
                "start": utc(later),
                "end": utc(later + timedelta(minutes=30)),
            },
        )
        world.advance(30)
        world.salesforce.faults.fail_after("update_records", Killed())
        try:
            world.service.sweep_outlook()
        except Killed:
            pass
        else:
            raise AssertionError("the sweep should have been killed")
        assert world.org.record(event_id)["Subject"] == "Moved in Outlook"
        stale = world.record(event_id)
        assert stale is not None and stale.request["subject"] == "Quarterly review"
        world.advance(61)
        writes = world.graph_writes()

        if poll_first:
            world.service.poll()
        world.service.sweep_outlook()
        world.advance(61)
        world.service.poll()

        assert world.graph_writes() == writes, "no PATCH of values Outlook already holds"
        event = world.org.record(event_id)
        assert event["Subject"] == "Moved in Outlook" and event["StartDateTime"] == later
        outlook = world.graph.get_event(ORGANIZER, graph_id)
        assert outlook["subject"] == "Moved in Outlook"
        record = world.record(event_id)
        assert record is not None and record.request["subject"] == "Moved in Outlook"
        assert record.request["startTime"] == later.strftime("%Y-%m-%dT%H:%M:%SZ")
        assert record.content_hash == em.content_hash(record.target)
        history = entries(world, event_id)
        assert history.count(("outlook", "observed")) == 1, history
        assert ("ledger", "conflict") not in history, history
        quiet_after(world)
