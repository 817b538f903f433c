"""A change made in Outlook against the poll's copies of the Events, on the fakes: the
poll reads a page's Events before the Outlook sweep writes one of them (the sweep run
for an earlier page's updates, or the daemon's outlook job meanwhile); that read must
not be PATCHed back to Outlook over the organizer's change (no echo, no revert). And the
poll's write-back beside the sweep: a meeting the sweep marked deleted in Outlook keeps
its mark.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from syncd.core.outlook_changes import GONE_IN_OUTLOOK
from syncd.domain import MeetingStatus
from syncd.sync.reader import PAGE
from tests.fakes import FakeWorld
from tests.fakes.world import COLLEAGUE, ORGANIZER
from tests.sync_logic.test_outlook_changes import entries, quiet_after, synced, utc, world_with


def patches_of(world: FakeWorld, graph_id: str, since: int = 0) -> list[Any]:
    return [
        call
        for call in world.graph.faults.calls[since:]
        if call.method == "update_event" and graph_id in call.target + str(call.sent)
    ]


def moved_in_outlook(world: FakeWorld, graph_id: str) -> Any:
    later = world.meeting_start(days=2, hour=10)
    world.graph.organizer_edit(
        ORGANIZER,
        graph_id,
        {
            "subject": "Moved in Outlook",
            "start": utc(later),
            "end": utc(later + timedelta(hours=1)),
        },
    )
    return later


def test_a_page_read_before_the_sweep_wrote_its_event_is_not_patched_back() -> None:
    # Page 1 of the poll updates another meeting of the same organizer, so the poll sweeps
    # that mailbox first and the sweep writes the Outlook move to the Event and the ledger.
    # Page 2 was read with page 1 (one query), before that write: its copy of the Event
    # is the old one. Planned against the ledger as it is now, it looked like a change in
    # Salesforce and was PATCHed to Outlook (the move undone), then PATCHed again by the
    # next poll (the Event holds the move): two writes Outlook did not need.
    world = world_with()
    target = world.create_event(subject="Quarterly review", invitees=[COLLEAGUE])
    others = [
        world.create_event(subject=f"Filler {n}", start=world.meeting_start(days=3 + n % 20))
        for n in range(PAGE)
    ]
    world.service.poll()
    world.service.sweep_outlook()
    graph_id = world.outlook_id(target)
    assert graph_id
    world.advance(600)
    # The incremental poll reads by SystemModstamp: the edited Event, the other fillers
    # (touched, unchanged), then the target's Event (touched last) on the second page.
    world.org.update_event(others[0], Subject="Changed in Salesforce")
    for event_id in [*others[1:], target]:
        world.advance(1)
        world.org.update_event(event_id, Subject=world.org.record(event_id)["Subject"])
    later = moved_in_outlook(world, graph_id)
    world.advance(30)
    mark = len(world.graph.faults.calls)

    world.service.poll()

    assert patches_of(world, graph_id, mark) == [], "Outlook already holds the move"
    outlook = world.graph.get_event(ORGANIZER, graph_id)
    assert outlook["subject"] == "Moved in Outlook"
    event = world.org.record(target)
    assert event["Subject"] == "Moved in Outlook" and event["StartDateTime"] == later
    record = world.record(target)
    assert record is not None and record.request["subject"] == "Moved in Outlook"
    assert entries(world, target).count(("outlook", "observed")) == 1
    world.advance(61)
    world.service.poll()
    world.service.sweep_outlook()
    assert patches_of(world, graph_id, mark) == []
    quiet_after(world)


def test_the_outlook_job_writing_an_event_while_the_poll_reads_causes_no_echo() -> None:
    # The daemon runs the outlook job beside the poll: here it handles the move right
    # after the poll's query answered, before the poll compares the page with the ledger.
    world = world_with()
    target = world.create_event(subject="Quarterly review", invitees=[COLLEAGUE])
    world.service.poll()
    world.service.sweep_outlook()
    graph_id = world.outlook_id(target)
    assert graph_id
    world.advance(600)
    world.org.update_event(target, Subject="Quarterly review")  # read by the next poll
    moved_in_outlook(world, graph_id)
    world.advance(30)
    query = world.salesforce.query
    swept: list[Any] = []

    def query_then_sweep(soql: str) -> Any:
        rows = list(query(soql))
        if "SystemModstamp >" in soql and not swept:
            swept.append(None)  # once (the sweep queries the Events too)
            swept[0] = world.service.sweep_outlook()  # the outlook job, meanwhile
        return iter(rows)

    world.salesforce.query = query_then_sweep  # type: ignore[method-assign]
    mark = len(world.graph.faults.calls)
    try:
        world.service.poll()
    finally:
        del world.salesforce.query
    assert swept and swept[0].salesforce_written == 1, swept

    assert patches_of(world, graph_id, mark) == []
    assert world.graph.get_event(ORGANIZER, graph_id)["subject"] == "Moved in Outlook"
    assert world.org.record(target)["Subject"] == "Moved in Outlook"
    world.advance(61)
    world.service.poll()
    assert patches_of(world, graph_id, mark) == []
    quiet_after(world)


class Killed(BaseException):
    """The process ending between two steps (as a SIGKILL would: nothing else runs)."""


def test_a_deletion_marked_before_a_kill_keeps_its_mark_beside_the_poll() -> None:
    # The sweep marks the Event "Deleted in Outlook" and is killed before the ledger
    # closes the meeting. After the restart the poll reads the marked Event and the
    # still synced row, and took the mark for a lost write-back ("Synced" written again);
    # the outlook job, beside it, marks the Event again and closes the row before that
    # write lands: the Event ended "Synced", its meeting deleted and never marked again.
    world = world_with()
    event_id, graph_id = synced(world)
    world.graph.organizer_delete(ORGANIZER, graph_id)
    world.advance(30)
    world.salesforce.faults.fail_after("update_records", Killed())
    try:
        world.service.sweep_outlook()
    except Killed:
        pass
    else:
        raise AssertionError("the sweep should have been killed")
    assert world.org.record(event_id)["Sync_Status__c"] == "Deleted in Outlook"
    record = world.record(event_id)
    assert record is not None and record.status == MeetingStatus.SYNCED
    world.restart()
    world.advance(61)
    update_records = world.salesforce.update_records
    swept: list[Any] = []

    def outlook_job_first(sobject: str, records: Any) -> Any:
        # The poll's write-back of this Event (the sweep writes its mark, not "Synced").
        ours = [r for r in records if r.get("id") == event_id]
        if not swept and any(r.get("Sync_Status__c") == "Synced" for r in ours):
            swept.append(None)
            swept[0] = world.service.sweep_outlook()  # the outlook job, meanwhile
        return update_records(sobject, records)

    world.salesforce.update_records = outlook_job_first  # type: ignore[method-assign]
    try:
        world.service.poll()
        world.service.sweep_outlook()
    finally:
        del world.salesforce.update_records

    assert world.org.record(event_id)["Sync_Status__c"] == "Deleted in Outlook"
    record = world.record(event_id)
    assert record is not None and record.status == MeetingStatus.CANCELLED
    assert record.last_error_code == GONE_IN_OUTLOOK
    quiet_after(world)
    assert world.org.record(event_id)["Sync_Status__c"] == "Deleted in Outlook"
    assert entries(world, event_id).count(("outlook", "observed")) == 1
