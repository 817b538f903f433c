"""The sync's decisions on the fakes: create, update, cancel, skip, failures, responses.

The logic checks of tests/sync_e2e, asserting the same outcomes, without the wire:
what syncd decides to send and write back is the same whatever carries it (the
contract suite holds the fakes to the sandbox's answers).
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta

from syncd.core import event_mapping as em
from syncd.domain import ErrorCode, MeetingStatus, SyncdError
from tests.fakes import FakeWorld
from tests.fakes.world import COLLEAGUE, NO_MAILBOX, ORGANIZER, OTHER_COLLEAGUE


def creates(world: FakeWorld) -> list[dict]:
    return [c.sent for c in world.graph.faults.of("create_event")]


def patches(world: FakeWorld, since: int = 0) -> list[dict]:
    return [c.sent["body"] for c in world.graph.faults.of("update_event")[since:]]


def test_a_new_event_becomes_a_teams_meeting_and_is_written_back(world: FakeWorld) -> None:
    contact = world.org.add_contact("jo.buyer@fabrikam.example", "Jo", "Buyer")
    start = world.meeting_start(days=2, hour=14)
    event_id = world.create_event(
        subject="Renewal kick-off",
        description="Agenda: pricing, timeline.",
        location="MS Teams",
        start=start,
        end=start + timedelta(minutes=90),
        invitees=[COLLEAGUE, contact],
    )

    report = world.service.poll()

    assert report.full_resync and report.counts["create"] == 1
    assert report.failures == [] and report.writeback_errors == []
    meeting = world.meeting(event_id)
    assert meeting["subject"] == "Renewal kick-off"
    assert meeting["body"]["content"] == "Agenda: pricing, timeline."
    assert em.parse_graph_time(meeting["start"]) == start
    assert em.parse_graph_time(meeting["end"]) == start + timedelta(minutes=90)
    assert {a["emailAddress"]["address"] for a in meeting["attendees"]} == {
        COLLEAGUE,
        "jo.buyer@fabrikam.example",
    }
    assert meeting["isOnlineMeeting"] and em.join_url_of(meeting)
    written = world.org.record(event_id)
    assert written["Sync_Status__c"] == "Synced" and written["Sync_Error__c"] is None
    assert written["Teams_Join_Url__c"] == em.join_url_of(meeting)
    record = world.record(event_id)
    assert record is not None and record.status == MeetingStatus.SYNCED
    assert record.graph_event_id == meeting["id"]
    assert len(creates(world)) == 1 and patches(world) == []


def test_editing_one_field_patches_only_that_field(world: FakeWorld) -> None:
    event_id = world.create_event(subject="Pipeline sync", location="Room 4", invitees=[COLLEAGUE])
    world.service.poll()
    world.advance(5)

    world.org.update_event(event_id, Subject="Pipeline sync (moved to Q3)")
    report = world.service.poll()

    assert not report.full_resync and report.counts["update"] == 1
    assert patches(world) == [{"subject": "Pipeline sync (moved to Q3)"}]
    meeting = world.meeting(event_id)
    assert meeting["subject"] == "Pipeline sync (moved to Q3)"
    assert meeting["location"]["displayName"] == "Room 4"
    record = world.record(event_id)
    assert record is not None and record.sent == record.target


def test_reassigned_invitees_update_the_outlook_attendees(world: FakeWorld) -> None:
    contact = world.org.add_contact("jo.buyer@fabrikam.example", "Jo", "Buyer")
    event_id = world.create_event(invitees=[COLLEAGUE, contact])
    world.service.poll()
    world.advance(5)

    world.org.uninvite(event_id, contact)
    world.org.invite(event_id, OTHER_COLLEAGUE)
    report = world.service.poll()

    assert report.counts["update"] == 1 and report.failures == []
    (sent,) = patches(world)
    assert set(sent) == {"attendees"}
    assert {a["emailAddress"]["address"] for a in sent["attendees"]} == {
        COLLEAGUE,
        OTHER_COLLEAGUE,
    }


def test_removing_an_invitee_alone_updates_the_outlook_attendees(world: FakeWorld) -> None:
    """The removal leaves the Event's SystemModstamp alone: it shows only as a deleted
    EventRelation row once the Event is older than the poll's look-back."""
    contact = world.org.add_contact("jo.buyer@fabrikam.example", "Jo", "Buyer")
    event_id = world.create_event(invitees=[COLLEAGUE, contact])
    world.service.poll()
    world.advance(600)
    world.create_event(subject="Unrelated", invitees=[OTHER_COLLEAGUE])
    world.service.poll()
    world.advance(600)

    world.org.uninvite(event_id, contact)
    report = world.service.poll()

    assert report.counts["update"] == 1 and report.failures == []
    assert patches(world) == [
        {"attendees": [{"emailAddress": {"address": COLLEAGUE}, "type": "required"}]}
    ]


def test_a_deleted_event_cancels_its_meeting_and_writes_nothing_back(world: FakeWorld) -> None:
    event_id = world.create_event(invitees=[COLLEAGUE])
    world.service.poll()
    graph_id = world.outlook_id(event_id)

    world.org.delete_event(event_id)
    world.advance(61)  # getDeleted covers whole minutes only
    report = world.service.poll()

    assert not report.full_resync  # the getDeleted path
    assert report.counts["cancel"] == 1 and report.failures == []
    assert [(m, i) for m, i, _ in world.graph.cancellations] == [(ORGANIZER, graph_id)]
    assert world.graph.events(ORGANIZER) == []
    record = world.record(event_id)
    assert record is not None and record.status == MeetingStatus.CANCELLED
    assert world.salesforce.faults.count("update_records") == 1  # the first poll's only


def test_a_deleted_event_without_attendees_is_deleted_not_cancelled(world: FakeWorld) -> None:
    event_id = world.create_event(subject="Solo focus")
    world.service.poll()

    world.org.delete_event(event_id)
    world.advance(61)
    report = world.service.poll()

    assert report.counts["cancel"] == 1
    assert world.graph.faults.count("delete_event") == 1 and world.graph.cancellations == []
    assert world.graph.events(ORGANIZER) == []


def test_a_poll_with_nothing_changed_makes_no_graph_call(world: FakeWorld) -> None:
    world.create_event(invitees=[COLLEAGUE])
    assert world.service.poll().counts["create"] == 1
    graph_calls = world.graph.faults.count()
    writes = world.salesforce.faults.count("update_records")

    report = world.service.poll()

    assert report.records_read == 1  # our own write-back is read again ...
    assert report.counts["skip"] == 1  # ... and recognised as nothing to do
    assert world.graph.faults.count() == graph_calls
    assert world.salesforce.faults.count("update_records") == writes


def test_invalid_records_fail_with_reasons_while_valid_ones_sync(world: FakeWorld) -> None:
    org = world.org
    outsider = org.add_user("guest.owner@partner.example", "Guest", "Owner")
    bad_contact = org.add_contact("pat.lee@acme@example.com", "Pat", "Lee")
    start = world.meeting_start()
    valid = world.create_event(subject="All good", invitees=[COLLEAGUE])
    must_say = {
        world.create_event(outsider, subject="Partner-owned"): (
            "guest.owner@partner.example",
            "not in the organization's mail domains",
        ),
        world.create_event(subject="Zero length", start=start, end=start): (
            "EndDateTime is not after StartDateTime",
        ),
        world.create_event(subject="Bad invitee", invitees=[bad_contact]): (
            "invalid e-mail address",
            "pat.lee@acme@example.com",
        ),
    }

    report = world.service.poll()

    assert report.counts["create"] == 1 and report.counts["fail"] == len(must_say)
    reasons = dict(report.failures)
    assert set(reasons) == set(must_say)
    for event_id, fragments in must_say.items():
        assert all(f in reasons[event_id] for f in fragments), reasons[event_id]
        record = world.record(event_id)
        assert record is not None and record.status == MeetingStatus.FAILED
        assert record.graph_event_id is None and record.last_error_message == reasons[event_id]
        written = org.record(event_id)
        assert (
            written["Sync_Status__c"] == "Failed" and written["Sync_Error__c"] == reasons[event_id]
        )
    assert len(creates(world)) == 1 and org.record(valid)["Sync_Status__c"] == "Synced"

    graph_calls = world.graph.faults.count()
    later = world.service.poll()  # still invalid and unchanged: neither retried nor rewritten
    assert later.counts["fail"] == 0 and world.graph.faults.count() == graph_calls


def test_an_invalid_record_fixed_in_salesforce_syncs_on_the_next_poll(world: FakeWorld) -> None:
    start = world.meeting_start()
    event_id = world.create_event(subject="Zero length", start=start, end=start)
    assert world.service.poll().counts["fail"] == 1
    world.advance(5)

    world.org.update_event(event_id, EndDateTime=start + timedelta(minutes=30))
    report = world.service.poll()

    assert report.failures == []
    written = world.org.record(event_id)
    assert written["Sync_Status__c"] == "Synced" and written["Sync_Error__c"] is None
    assert em.parse_graph_time(world.meeting(event_id)["end"]) == start + timedelta(minutes=30)


def test_a_failed_record_is_retried_with_growing_back_off(world: FakeWorld) -> None:
    event_id = world.create_event(NO_MAILBOX, subject="Unlicensed owner", invitees=[COLLEAGUE])

    first = world.service.poll()

    assert [failed for failed, _ in first.failures] == [event_id]
    record = world.record(event_id)
    assert record is not None and record.attempts == 1 and record.next_attempt_at is not None
    assert record.last_error_code == ErrorCode.ORGANIZER_NOT_FOUND
    assert NO_MAILBOX in world.org.record(event_id)["Sync_Error__c"]
    assert world.service.retry_failed().records_read == 0  # not due yet

    world.advance(61)
    second = world.service.retry_failed()
    assert [e for e, _ in second.failures] == [event_id]
    record = world.record(event_id)
    assert record is not None and record.attempts == 2 and record.next_attempt_at is not None
    assert record.next_attempt_at - world.now() > timedelta(minutes=1)  # the wait grew
    world.advance(61)
    assert world.service.retry_failed().records_read == 0  # 2 minutes not over yet

    world.graph.add_user(NO_MAILBOX)  # a licence is assigned meanwhile
    world.advance(61)
    third = world.service.retry_failed()

    assert third.failures == [] and third.counts["update"] == 1
    assert world.org.record(event_id)["Sync_Status__c"] == "Synced"
    assert world.meeting(event_id, NO_MAILBOX)["subject"] == "Unlicensed owner"
    assert world.service.retry_failed().records_read == 0


def test_a_graph_failure_fails_one_record_and_the_rest_of_the_page_syncs(
    world: FakeWorld,
) -> None:
    world.service.poll()
    ids = [
        world.create_event(subject=f"Account review {n}", start=world.meeting_start(hour=9 + n))
        for n in range(3)
    ]
    world.graph.faults.fail_before(
        "create_event", SyncdError(ErrorCode.UPSTREAM_UNAVAILABLE, "Graph is down (injected)")
    )

    report = world.service.poll()

    assert report.counts["create"] == 2 and report.counts["fail"] == 1
    (failed,) = [event_id for event_id, _ in report.failures]
    assert failed in ids
    assert world.org.record(failed)["Sync_Status__c"] == "Failed"
    assert all(world.org.record(i)["Sync_Status__c"] == "Synced" for i in ids if i != failed)

    world.advance(61)
    retried = world.service.retry_failed()

    assert retried.failures == []
    assert sorted(e["subject"] for e in world.graph.events(ORGANIZER)) == [
        f"Account review {n}" for n in range(3)
    ]  # one meeting each, none twice


def test_outlook_answers_reach_the_summary_and_a_second_refresh_writes_nothing(
    world: FakeWorld,
) -> None:
    contact = world.org.add_contact("jo.buyer@fabrikam.example", "Jo", "Buyer")
    event_id = world.create_event(invitees=[COLLEAGUE, OTHER_COLLEAGUE, contact])
    world.service.poll()
    graph_id = world.outlook_id(event_id)
    assert graph_id
    world.graph.respond(ORGANIZER, graph_id, COLLEAGUE, "accepted")
    world.graph.respond(ORGANIZER, graph_id, "jo.buyer@fabrikam.example", "declined")
    world.graph.respond(ORGANIZER, graph_id, OTHER_COLLEAGUE, "tentativelyAccepted")

    report = world.service.refresh_responses()

    assert report.meetings_checked == 1 and report.meetings_changed == 1
    assert report.writeback_errors == [] and report.read_errors == []
    assert world.org.record(event_id)["Responses_Summary__c"] == (
        f"Accepted: {COLLEAGUE}; Declined: jo.buyer@fabrikam.example; Tentative: {OTHER_COLLEAGUE}"
    )
    record = world.record(event_id)
    assert record is not None and record.responses[COLLEAGUE]["response"] == "Accepted"
    writes = world.salesforce.faults.count("update_records")
    again = world.service.refresh_responses()
    assert again.meetings_checked == 1 and again.meetings_changed == 0
    assert world.salesforce.faults.count("update_records") == writes


def test_a_meeting_moved_in_salesforce_asks_its_attendees_again(world: FakeWorld) -> None:
    event_id = world.create_event(invitees=[COLLEAGUE])
    world.service.poll()
    graph_id = world.outlook_id(event_id)
    assert graph_id
    world.graph.respond(ORGANIZER, graph_id, COLLEAGUE, "accepted")
    world.service.refresh_responses()
    world.advance(5)

    later = world.meeting_start(days=2)
    world.org.update_event(event_id, StartDateTime=later, EndDateTime=later + timedelta(hours=1))
    world.service.poll()
    world.service.refresh_responses()

    assert set(patches(world)[0]) == {"start", "end"}
    record = world.record(event_id)
    assert record is not None and record.responses[COLLEAGUE]["response"] == "NoResponseReceived"


def test_removing_ms_teams_keeps_the_teams_link_everywhere(world: FakeWorld) -> None:
    event_id = world.create_event(location="MS Teams", invitees=[COLLEAGUE])
    world.service.poll()
    join_url = em.join_url_of(world.meeting(event_id))
    assert join_url and world.org.record(event_id)["Teams_Join_Url__c"] == join_url
    world.advance(5)

    world.org.update_event(event_id, Location="Room 4")
    report = world.service.poll()

    assert report.counts["update"] == 1 and report.failures == []
    assert patches(world) == [{"location": {"displayName": "Room 4"}}]  # no isOnlineMeeting
    meeting = world.meeting(event_id)
    assert meeting["isOnlineMeeting"] and em.join_url_of(meeting) == join_url
    record = world.record(event_id)
    assert record is not None and record.sent["isOnlineMeeting"] is True
    assert world.org.record(event_id)["Teams_Join_Url__c"] == join_url
    world.advance(5)

    world.org.update_event(event_id, Description="New agenda")
    world.service.poll()

    (body,) = patches(world, since=1)
    assert body == {
        "body": {
            "contentType": "text",
            "content": f"New agenda\n\nJoin Microsoft Teams meeting: {join_url}",
        }
    }


def test_the_availability_snapshot_lists_busy_slots_of_in_org_users(world: FakeWorld) -> None:
    first = world.meeting_start(days=1, hour=9)
    second = world.meeting_start(days=3, hour=13)
    world.create_event(start=first, end=first + timedelta(minutes=30), invitees=[COLLEAGUE])
    world.create_event(subject="Solo focus", start=second, end=second + timedelta(hours=2))
    assert world.service.poll().counts["create"] == 2

    report = world.service.snapshot_availability()

    # Every in-org User is asked; the integration user and the unlicensed one have no
    # mailbox, and say so.
    assert report.users == len(world.user_ids) + 1
    assert sorted(email for email, _ in report.errors) == sorted(
        [NO_MAILBOX, world.salesforce.integration_user]
    )

    def snapshot(email: str) -> dict:
        value = world.org.record(world.user_ids[email])["Availability_Snapshot__c"]
        assert value is not None, f"no snapshot for {email}"
        return json.loads(value)

    def gmt(value: datetime) -> str:
        return value.strftime("%Y-%m-%dT%H:%M:%SZ")

    assert snapshot(ORGANIZER)["busy"] == [
        [gmt(first), gmt(first + timedelta(minutes=30))],
        [gmt(second), gmt(second + timedelta(hours=2))],
    ]
    assert snapshot(OTHER_COLLEAGUE)["busy"] == []
    assert world.org.record(world.user_ids[NO_MAILBOX])["Availability_Snapshot__c"] is None


def test_a_failed_update_waits_for_its_back_off(world: FakeWorld) -> None:
    """The promise of a failure (as for a failed create): within its back-off nothing is
    tried or written again, though its own write-back makes the next poll read it."""
    event_id = world.create_event(subject="Pipeline sync")
    world.service.poll()
    # Graph refuses the PATCH (a meeting deleted in Outlook is no longer a failure: the
    # Outlook sweep the poll runs first sees it, and an edited Event makes it again).
    refusal = SyncdError(ErrorCode.UPSTREAM_UNAVAILABLE, "Graph is unavailable")
    world.graph.faults.fail_before("update_event", refusal)
    world.advance(5)
    world.org.update_event(event_id, Subject="Pipeline sync (moved)")
    first = world.service.poll()
    assert [e for e, _ in first.failures] == [event_id]
    record = world.record(event_id)
    assert record is not None and record.next_attempt_at is not None
    assert record.next_attempt_at > world.now()
    graph_calls = world.graph.faults.count()
    salesforce_writes = world.salesforce.faults.count("update_records")

    again = world.service.poll()  # within the back-off

    assert again.failures == []
    assert world.graph.faults.count() == graph_calls
    assert world.salesforce.faults.count("update_records") == salesforce_writes
