"""A meeting deleted in Outlook after a kill left the sweep's write of an earlier Outlook
change without its ledger follow, on the fakes (open: see the xfail's reason)."""

from __future__ import annotations

import pytest

from syncd.domain import MeetingStatus
from tests.fakes.world import ORGANIZER
from tests.sync_logic.test_outlook_changes import entries, synced, world_with
from tests.sync_logic.test_outlook_stale_reads import Killed


@pytest.mark.xfail(
    strict=True,
    reason="the Event written by the killed sweep looks edited in Salesforce since the last "
    "sync, so the deletion counts as the earlier change and the meeting is made again "
    "(unmarked and recreated); telling syncd's own write from a person's edit "
    "(LastModifiedById) is not done yet",
)
def test_a_deletion_after_a_killed_follow_is_marked_and_not_made_again() -> None:
    world = world_with()
    event_id, graph_id = synced(world)
    world.graph.organizer_edit(ORGANIZER, graph_id, {"subject": "Edited in Outlook"})
    world.advance(30)
    world.salesforce.faults.fail_after("update_records", Killed())
    try:
        world.service.sweep_outlook()  # the Event takes the edit; killed before the ledger
    except Killed:
        pass
    else:
        raise AssertionError("the sweep should have been killed")
    world.restart()
    world.graph.organizer_delete(ORGANIZER, graph_id)
    world.advance(61)
    creates = world.graph.faults.count("create_event")

    world.service.sweep_outlook()
    world.advance(61)
    world.service.poll()

    assert world.org.record(event_id)["Sync_Status__c"] == "Deleted in Outlook"
    record = world.record(event_id)
    assert record is not None and record.status == MeetingStatus.CANCELLED
    assert world.graph.faults.count("create_event") == creates, entries(world, event_id)
