"""The Outlook sweep and syncd's own writes side by side: a write that lands while a
sweep's delta round runs is never taken for a change made in Outlook, and nothing the
round reported about it is lost.

`syncd run` polls and sweeps side by side (the poll's pages run in the background while
the next one is planned). The fakes run one job at a time, so these tests make the
interleaving happen by running the poll inside the Graph client's delta call, just
before the round reads the mailbox (the fake delta round itself is the real one): the
rows the sweep read before its round then predate the poll's write, and the round shows
it. No sandbox can order two jobs' steps like that on demand.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from syncd.domain import MeetingStatus
from syncd.sync import outlook_watch
from tests.fakes import FakeWorld
from tests.fakes.world import COLLEAGUE, ORGANIZER, OTHER_COLLEAGUE, OTHER_ORGANIZER
from tests.sync_logic.test_outlook_changes import entries, quiet_after, synced, world_with


class Killed(BaseException):
    """The process dies (nothing of it catches this)."""


def during_the_next_round(
    world: FakeWorld, monkeypatch: pytest.MonkeyPatch, action: Callable[[], object]
) -> None:
    """Run `action` once, inside the next delta call, before its rounds read Graph."""
    real = world.graph.calendar_view_delta

    def round_after(rounds: Any, **kwargs: Any) -> Any:
        monkeypatch.setattr(world.graph, "calendar_view_delta", real)
        action()
        return real(rounds, **kwargs)

    monkeypatch.setattr(world.graph, "calendar_view_delta", round_after)


def create_unrecorded_and_answer(world: FakeWorld, event_id: str) -> None:
    """The poll's process dies once the Event's POST landed, before its answer is
    recorded; then the colleague accepts the meeting in Outlook."""
    world.graph.faults.fail_after("create_event", Killed())
    with pytest.raises(Killed):
        world.service.poll()
    world.graph.faults.clear()
    record = world.record(event_id)
    assert record is not None and record.intent == "create" and not record.graph_event_id
    subject = world.org.record(event_id)["Subject"]
    (event,) = [e for e in world.graph.events(ORGANIZER) if e["subject"] == subject]
    world.graph.respond(ORGANIZER, event["id"], COLLEAGUE, "accepted")


def poll_without_its_sweep(world: FakeWorld, monkeypatch: pytest.MonkeyPatch) -> None:
    """A poll whose page PATCHes without sweeping first: in `syncd run` the page's sweep
    and its PATCH are apart in time, another sweep's round can fall in between; here it
    would wait for the running sweep (one sweep at a time) and never return."""
    with monkeypatch.context() as patch:
        patch.setattr(world.service._poll, "before_updates", None)
        world.service.poll()


def test_answers_of_a_meeting_created_while_the_sweep_reads_are_written_next_sweep(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    world = world_with()
    synced(world)  # the mailbox has a delta link: the next sweep reads changes only
    new_id = world.create_event(subject="Made during the sweep", invitees=[COLLEAGUE])

    def poll_and_answer() -> None:
        world.service.poll()
        graph_id = world.outlook_id(new_id)
        assert graph_id
        world.graph.respond(ORGANIZER, graph_id, COLLEAGUE, "accepted")

    during_the_next_round(world, monkeypatch, poll_and_answer)
    world.service.sweep_outlook()  # its round reports the new meeting: no row read for it
    world.advance(61)
    report = world.service.sweep_outlook()

    assert report.changes == {"answers": 1}
    assert world.org.record(new_id)["Responses_Summary__c"] == f"Accepted: {COLLEAGUE}"
    quiet_after(world)


def test_answers_of_a_meeting_whose_create_is_not_recorded_yet_are_written_later(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    world = world_with()
    synced(world)
    new_id = world.create_event(subject="Created, answer lost", invitees=[COLLEAGUE])

    during_the_next_round(world, monkeypatch, lambda: create_unrecorded_and_answer(world, new_id))
    world.service.sweep_outlook()
    world.restart()  # the create is finished by the start-up resume (Graph deduplicates it)
    record = world.record(new_id)
    assert record is not None and record.status == MeetingStatus.SYNCED
    world.advance(61)
    world.service.sweep_outlook()

    assert world.org.record(new_id)["Responses_Summary__c"] == f"Accepted: {COLLEAGUE}"


def test_an_attendee_invited_in_salesforce_while_the_sweep_reads_is_no_outlook_change(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    world = world_with()
    event_id, _ = synced(world)
    world.org.invite(event_id, OTHER_COLLEAGUE)
    world.advance(61)

    during_the_next_round(world, monkeypatch, lambda: poll_without_its_sweep(world, monkeypatch))
    first = world.service.sweep_outlook()
    world.advance(61)
    second = world.service.sweep_outlook()

    assert "attendees" not in first.changes and "attendees" not in second.changes
    event = world.org.record(event_id)
    assert event["Sync_Status__c"] == "Synced", event["Sync_Error__c"]
    assert ("outlook", "observed") not in entries(world, event_id)
    attendees = {a["emailAddress"]["address"] for a in world.meeting(event_id)["attendees"]}
    assert OTHER_COLLEAGUE in attendees
    quiet_after(world)


def test_an_owner_change_while_the_sweep_reads_is_no_deletion_in_outlook(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    world = world_with()
    event_id, old_graph_id = synced(world)
    world.org.update_event(event_id, OwnerId=world.user_ids[OTHER_ORGANIZER])
    world.advance(61)

    # The poll cancels the old organizer's meeting and makes it for the new one; the old
    # organizer's round reports the old event removed.
    during_the_next_round(world, monkeypatch, world.service.poll)
    first = world.service.sweep_outlook()
    world.advance(61)
    second = world.service.sweep_outlook()

    assert "deleted" not in first.changes and "deleted" not in second.changes
    assert world.org.record(event_id)["Sync_Status__c"] == "Synced"
    record = world.record(event_id)
    assert record is not None and record.status == MeetingStatus.SYNCED
    assert record.graph_event_id != old_graph_id
    assert world.meeting(event_id, OTHER_ORGANIZER)["subject"] == "Quarterly review"
    quiet_after(world)


def test_a_removal_counts_only_while_the_row_points_at_that_event() -> None:
    world = world_with()
    event_id, graph_id = synced(world)
    changes = world.scheduler.outlook_changes

    assert not changes.gone(event_id, None, [], event=(ORGANIZER, "another-event"))
    assert not changes.gone(event_id, None, [], event=(OTHER_ORGANIZER, graph_id))
    record = world.record(event_id)
    assert record is not None and record.status == MeetingStatus.SYNCED

    assert changes.gone(event_id, None, [], event=(ORGANIZER, graph_id))
    record = world.record(event_id)
    assert record is not None and record.status == MeetingStatus.CANCELLED


def test_answers_held_for_writing_when_the_sweep_dies_are_read_again() -> None:
    world = world_with()
    event_id, graph_id = synced(world)
    world.graph.respond(ORGANIZER, graph_id, COLLEAGUE, "accepted")
    # The process dies as the answers go to Salesforce, after the round was handled.
    world.salesforce.faults.fail_before("update_records", Killed())
    with pytest.raises(Killed):
        world.service.sweep_outlook()
    world.salesforce.faults.clear()
    assert world.org.record(event_id).get("Responses_Summary__c") is None

    world.restart()
    world.advance(61)
    report = world.service.sweep_outlook()

    assert report.changes == {"answers": 1}
    assert world.org.record(event_id)["Responses_Summary__c"] == f"Accepted: {COLLEAGUE}"


def test_answers_of_a_create_recorded_while_the_sweep_reads_its_rows_again_are_kept(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The round reports a meeting whose create is not recorded yet, and the poll records
    it just after the sweep read its rows again: the meeting is in neither read of the
    rows, so only the ledger's record of creates still in flight tells syncd's own create
    from an event of no interest. Asked after the second read, it answered "done" and the
    event's answers were dropped for good (seen under `syncd run`, where the poll and the
    sweep run side by side)."""
    world = world_with()
    synced(world)
    new_id = world.create_event(subject="Recorded meanwhile", invitees=[COLLEAGUE])

    during_the_next_round(world, monkeypatch, lambda: create_unrecorded_and_answer(world, new_id))
    real_rows_now = outlook_watch.rows_now

    def rows_then_create_recorded(*args: Any, **kwargs: Any) -> Any:
        monkeypatch.setattr(outlook_watch, "rows_now", real_rows_now)
        rows = real_rows_now(*args, **kwargs)
        world.service.resume()  # the create's answer is recorded right after the read
        record = world.record(new_id)
        assert record is not None and record.intent is None and record.graph_event_id
        return rows

    monkeypatch.setattr(outlook_watch, "rows_now", rows_then_create_recorded)
    world.service.sweep_outlook()
    world.advance(61)
    report = world.service.sweep_outlook()

    assert report.changes == {"answers": 1}
    assert world.org.record(new_id)["Responses_Summary__c"] == f"Accepted: {COLLEAGUE}"
    world.service.poll()  # the create's write-back (Outlook id, "Synced"), then quiet
    quiet_after(world)
