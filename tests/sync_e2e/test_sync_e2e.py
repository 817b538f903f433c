"""The Salesforce -> Outlook sync, end to end against both sandboxes over HTTPS."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Sequence
from datetime import datetime, timedelta
from typing import Any

from syncd.core import event_mapping as em
from syncd.domain import MeetingStatus, Source
from syncd.ledger.queries import recent_failures
from syncd.salesforce import SalesforceClient
from syncd.sandbox.salesforce import SalesforceState
from syncd.sandbox.salesforce.budget import DEFAULT_DAILY_LIMIT
from syncd.sandbox.salesforce.writes import EVENT_DEFAULTS

from .conftest import (
    COLLEAGUE,
    DOMAIN,
    EVENT_ROUTE,
    NO_MAILBOX,
    ORGANIZER,
    OTHER_COLLEAGUE,
    TENANT,
    USERS,
    World,
)
from .tenant_options import set_salesforce_fields


def test_new_salesforce_event_becomes_teams_meeting_with_write_back(world: World) -> None:
    org = world.org
    contact = org.add_contact("jo.buyer@fabrikam.example", "Jo", "Buyer")
    lead = org.add_lead("sam.prospect@tailspin.example", "Sam", "Prospect", company="Tailspin")
    colleague = org.find_user(COLLEAGUE)
    assert colleague is not None
    start = world.meeting_start(days=2, hour=14)
    event_id = world.create_event(
        subject="Renewal kick-off",
        description="Agenda: pricing, timeline.",
        location="MS Teams",
        start=start,
        end=start + timedelta(minutes=90),
        invitees=[colleague, contact, lead],
    )

    report = world.service().poll()

    assert report.full_resync
    assert report.counts["create"] == 1
    assert report.failures == [] and report.writeback_errors == []
    written = org.record(event_id)
    graph_id = written["Outlook_Event_Id__c"]
    assert graph_id
    meeting = world.outlook_event(ORGANIZER, graph_id)
    assert meeting.is_organizer
    assert meeting.subject == "Renewal kick-off"
    assert meeting.body_content == "Agenda: pricing, timeline."
    assert meeting.location["displayName"] == "MS Teams"
    assert meeting.start == start
    assert meeting.end == start + timedelta(minutes=90)
    assert {a.address.lower() for a in meeting.attendees} == {
        COLLEAGUE,
        "jo.buyer@fabrikam.example",
        "sam.prospect@tailspin.example",
    }
    assert meeting.is_online_meeting and meeting.online_meeting_provider == "teamsForBusiness"
    assert meeting.join_url
    # The in-org invitee got the invitation in their own calendar.
    assert [e.organizer_event_id for e in world.calendar(COLLEAGUE)] == [graph_id]

    assert written["Sync_Status__c"] == "Synced"
    assert written["Sync_Error__c"] is None
    assert written["Teams_Join_Url__c"] == meeting.join_url
    synced_at = written["Synced_At__c"]
    assert synced_at is not None
    assert abs(synced_at - world.now()) < timedelta(minutes=1)
    record = world.record(event_id)
    assert record.status == MeetingStatus.SYNCED
    assert record.graph_event_id == graph_id
    assert len(world.graph_log("POST", "/users/{user}/events")) == 1
    assert world.graph_log("PATCH", EVENT_ROUTE) == []


def writes_after_the_sweep(world: World, logged: int) -> list[Any]:
    """The requests since `logged`, the delta round the poll sweeps the organizer's
    mailbox with before its PATCH left out (one, asserted here)."""
    sent = world.graph_log()[logged:]
    rounds = [r for r in sent if r.route == "/users/{user}/calendarView/delta"]
    assert len(rounds) == 1
    return [r for r in sent if r not in rounds]


def test_editing_one_field_patches_only_that_field(world: World) -> None:
    start = world.meeting_start()
    event_id = world.create_event(
        subject="Pipeline sync", location="Room 4", start=start, invitees=[COLLEAGUE]
    )
    service = world.service()
    service.poll()
    graph_id = world.org.record(event_id)["Outlook_Event_Id__c"]
    logged = len(world.graph_log())

    world.org.update_event(event_id, Subject="Pipeline sync (moved to Q3)")
    report = service.poll()

    assert not report.full_resync
    assert report.counts["update"] == 1 and report.failures == []
    # The poll sweeps the organizer's mailbox first (one delta request), then PATCHes.
    sent = world.graph_log()[logged:]
    assert [(r.method, r.route, r.mailbox) for r in sent] == [
        ("GET", "/users/{user}/calendarView/delta", ORGANIZER),
        ("PATCH", EVENT_ROUTE, ORGANIZER),
    ]
    sent = sent[1:]
    assert sent[0].path.endswith(graph_id)
    assert sent[0].body == {"subject": "Pipeline sync (moved to Q3)"}
    meeting = world.outlook_event(ORGANIZER, graph_id)
    assert meeting.subject == "Pipeline sync (moved to Q3)"
    assert meeting.location["displayName"] == "Room 4"
    assert meeting.start == start
    assert [a.address for a in meeting.attendees] == [COLLEAGUE]
    record = world.record(event_id)
    assert record.sent["subject"] == "Pipeline sync (moved to Q3)"
    assert record.sent == record.target
    assert world.org.record(event_id)["Sync_Status__c"] == "Synced"


def test_reassigned_invitees_update_the_outlook_attendees(world: World) -> None:
    contact = world.org.add_contact("jo.buyer@fabrikam.example", "Jo", "Buyer")
    event_id = world.create_event(invitees=[COLLEAGUE, contact])
    service = world.service()
    service.poll()
    graph_id = world.org.record(event_id)["Outlook_Event_Id__c"]
    logged = len(world.graph_log())

    world.org.uninvite(event_id, contact)
    world.org.invite(event_id, OTHER_COLLEAGUE)
    report = service.poll()

    assert report.counts["update"] == 1 and report.failures == []
    sent = writes_after_the_sweep(world, logged)
    assert [(r.method, r.route) for r in sent] == [("PATCH", EVENT_ROUTE)]
    assert set(sent[0].body) == {"attendees"}
    assert {a["emailAddress"]["address"] for a in sent[0].body["attendees"]} == {
        COLLEAGUE,
        OTHER_COLLEAGUE,
    }
    meeting = world.outlook_event(ORGANIZER, graph_id)
    assert {a.address for a in meeting.attendees} == {COLLEAGUE, OTHER_COLLEAGUE}
    # The new colleague got the invitation in their own calendar.
    assert [e.organizer_event_id for e in world.calendar(OTHER_COLLEAGUE)] == [graph_id]


def test_removing_an_invitee_alone_updates_the_outlook_attendees(world: World) -> None:
    """Deleting an EventRelation leaves the parent Event's SystemModstamp alone: once the
    Event is older than the poll's look-back, the removal shows only as a deleted row."""
    contact = world.org.add_contact("jo.buyer@fabrikam.example", "Jo", "Buyer")
    event_id = world.create_event(invitees=[COLLEAGUE, contact])
    service = world.service()
    service.poll()
    graph_id = world.org.record(event_id)["Outlook_Event_Id__c"]
    # Later work elsewhere moves the watermarks well past this Event and its invitations.
    world.advance(600)
    world.create_event(subject="Unrelated", invitees=[OTHER_COLLEAGUE])
    service.poll()
    world.advance(600)
    logged = len(world.graph_log())

    world.org.uninvite(event_id, contact)
    report = service.poll()

    assert report.counts["update"] == 1 and report.failures == []
    sent = writes_after_the_sweep(world, logged)
    assert [(r.method, r.body) for r in sent] == [
        ("PATCH", {"attendees": [{"emailAddress": {"address": COLLEAGUE}, "type": "required"}]})
    ]
    meeting = world.outlook_event(ORGANIZER, graph_id)
    assert [a.address for a in meeting.attendees] == [COLLEAGUE]


def test_deleted_salesforce_event_cancels_the_outlook_meeting(world: World) -> None:
    event_id = world.create_event(invitees=[COLLEAGUE])
    service = world.service()
    service.poll()
    graph_id = world.org.record(event_id)["Outlook_Event_Id__c"]
    assert len(world.calendar(COLLEAGUE)) == 1

    world.org.delete_event(event_id)
    # getDeleted covers whole minutes only (latestDateCovered is at most the current minute).
    world.advance(61)
    report = service.poll()

    assert not report.full_resync  # the getDeleted path, not a full pass
    assert report.counts["cancel"] == 1 and report.failures == []
    cancels = world.graph_log("POST", EVENT_ROUTE + "/cancel")
    assert [(r.mailbox, r.path.split("/")[-2]) for r in cancels] == [(ORGANIZER, graph_id)]
    assert world.calendar(ORGANIZER) == []
    (invitation,) = world.calendar(COLLEAGUE)
    assert invitation.is_cancelled
    assert world.record(event_id).status == MeetingStatus.CANCELLED
    # Nothing is written back to a deleted Event (Salesforce would refuse it).
    assert report.writeback_errors == []
    assert world.org.record(event_id)["Sync_Status__c"] == "Synced"


def _pick(world: World, ids: list[str], meeting_key: str, choice: str) -> tuple[str, str]:
    """(id, e-mail) of the first person the sandbox has answer `choice` for this meeting."""
    for person in ids:
        email = world.org.record(person)["Email"]
        if email and world.sandbox.answers.decide(meeting_key, email, 0) == choice:
            return person, email.lower()
    raise AssertionError(f"no candidate answers {choice}")


def test_outlook_answers_are_written_to_event_relations_and_summary(world: World) -> None:
    org = world.org
    event_id = world.create_event(subject="Design review")
    # Sandbox attendees answer by a seeded draw per (meeting, address); the meeting's key
    # is the transactionId syncd sends, so pick invitees whose draw is what we want.
    meeting_key = em.transaction_id(TENANT, Source.SALESFORCE, event_id, 0)
    users = [
        user_id
        for u in world.sandbox.tenant(TENANT).users
        if u.has_mailbox and u.email != ORGANIZER and (user_id := org.find_user(u.email))
    ]
    user, user_email = _pick(world, users, meeting_key, "accepted")
    contact, contact_email = _pick(world, org.ids_of("Contact"), meeting_key, "declined")
    lead, lead_email = _pick(world, org.ids_of("Lead"), meeting_key, "tentativelyAccepted")
    silent, silent_email = _pick(world, org.ids_of("Contact"), meeting_key, "notResponded")
    for person in (user, contact, lead, silent):
        org.invite(event_id, person)
    set_salesforce_fields(world.config(), TENANT, event_relation_status=True)  # off by default
    service = world.service()
    service.poll()
    graph_id = org.record(event_id)["Outlook_Event_Id__c"]
    meeting = world.outlook_event(ORGANIZER, graph_id)
    assert meeting.meeting_key == meeting_key
    # Salesforce keeps datetimes to the millisecond.
    answered_at = {
        a.address.lower(): a.invite.answer_at.replace(
            microsecond=a.invite.answer_at.microsecond // 1000 * 1000
        )
        for a in meeting.attendees
        if a.invite.answer_at is not None
    }

    report = service.refresh_responses()

    assert report.meetings_checked == 1 and report.meetings_changed == 1
    assert report.relations_written == 2 and report.writeback_errors == []
    accepted = world.relation_of(event_id, user)
    assert accepted["Status"] == "Accepted"
    assert accepted["RespondedDate"] == answered_at[user_email]
    declined = world.relation_of(event_id, contact)
    assert declined["Status"] == "Declined"
    assert declined["RespondedDate"] == answered_at[contact_email]
    # EventRelation has no tentative status: the summary alone says so.
    for untouched in (lead, silent):
        assert world.relation_of(event_id, untouched)["Status"] == "New"
        assert world.relation_of(event_id, untouched)["RespondedDate"] is None
    assert org.record(event_id)["Responses_Summary__c"] == (
        f"NoResponseReceived: {silent_email}; Accepted: {user_email}; "
        f"Declined: {contact_email}; Tentative: {lead_email}"
    )
    assert world.record(event_id).responses[lead_email]["response"] == "Tentative"

    writes = world.sf_state.counters.records_written
    again = service.refresh_responses()
    assert again.meetings_checked == 1 and again.meetings_changed == 0
    assert world.sf_state.counters.records_written == writes  # nothing new to write


def test_availability_snapshot_lists_busy_slots_of_in_org_users(world: World) -> None:
    world.sandbox.answers.configure(accepted=1, tentatively_accepted=0, declined=0, not_responded=0)
    first = world.meeting_start(days=1, hour=9)
    second = world.meeting_start(days=3, hour=13)
    world.create_event(start=first, end=first + timedelta(minutes=30), invitees=[COLLEAGUE])
    world.create_event(subject="Solo focus", start=second, end=second + timedelta(hours=2))
    service = world.service()
    assert service.poll().counts["create"] == 2

    before = world.now()
    report = service.snapshot_availability()

    org = world.org
    in_org = [u for u in org.ids_of("User") if org.record(u)["Email"].endswith(f"@{DOMAIN}")]
    assert report.users == len(in_org) == USERS + 1  # the integration user too
    # No Exchange mailbox: the unlicensed user and syncd's own integration user.
    assert sorted(email for email, _ in report.errors) == [
        NO_MAILBOX,
        world.org.integration_username,
    ]
    assert report.written == USERS - 1

    def snapshot(email: str) -> dict[str, Any]:
        value = org.record(org.find_user(email) or "")["Availability_Snapshot__c"]
        assert value is not None, f"no snapshot for {email}"
        return json.loads(value)

    def gmt(value: datetime) -> str:
        return value.strftime("%Y-%m-%dT%H:%M:%SZ")

    organizer = snapshot(ORGANIZER)
    assert organizer["busy"] == [
        [gmt(first), gmt(first + timedelta(minutes=30))],
        [gmt(second), gmt(second + timedelta(hours=2))],
    ]
    start = datetime.fromisoformat(organizer["from"].replace("Z", "+00:00"))
    end = datetime.fromisoformat(organizer["to"].replace("Z", "+00:00"))
    assert before.replace(second=0, microsecond=0) <= start <= world.now()
    assert end - start == timedelta(days=14)
    # The invitee accepted, so the meeting blocks their calendar too.
    assert snapshot(COLLEAGUE)["busy"] == [[gmt(first), gmt(first + timedelta(minutes=30))]]
    assert snapshot(OTHER_COLLEAGUE)["busy"] == []
    assert org.record(org.find_user(NO_MAILBOX) or "")["Availability_Snapshot__c"] is None


def test_poll_with_nothing_changed_makes_no_graph_call(world: World) -> None:
    world.sandbox.answers.configure(accepted=1, tentatively_accepted=0, declined=0, not_responded=0)
    event_id = world.create_event(invitees=[COLLEAGUE])
    set_salesforce_fields(world.config(), TENANT, event_relation_status=True)  # off by default
    service = world.service()
    assert service.poll().counts["create"] == 1
    stamped = world.org.record(event_id)
    # The write-back moved SystemModstamp (an API write), not LastModifiedDate.
    assert stamped["SystemModstamp"] > stamped["LastModifiedDate"]
    writes = world.sf_state.counters.records_written
    calls = world.graph_calls()

    report = service.poll()

    assert report.records_read == 1  # our own write-back is read again ...
    assert report.counts["skip"] == 1  # ... and recognised as nothing to do
    assert world.graph_calls() == calls
    # Nor written back again, or each poll would bump SystemModstamp for the next one.
    assert world.sf_state.counters.records_written == writes

    # Responses written to the EventRelation rows bump their SystemModstamp too.
    assert service.refresh_responses().relations_written == 1
    calls = world.graph_calls()
    again = service.poll()
    assert again.records_read >= 1 and again.counts["skip"] == again.records_read
    assert world.graph_calls() == calls


def test_invalid_records_fail_with_reasons_while_valid_ones_sync(world: World) -> None:
    org = world.org
    outsider = org.add_user("guest.owner@partner.example", "Guest", "Owner")
    bad_contact = org.add_contact("pat.lee@acme@example.com", "Pat", "Lee")
    start = world.meeting_start()
    valid = world.create_event(subject="All good", invitees=[COLLEAGUE])
    foreign_owner = world.create_event(outsider, subject="Partner-owned")
    zero_length = world.create_event(subject="Zero length", start=start, end=start)
    bad_invitee = world.create_event(subject="Bad invitee", invitees=[bad_contact])
    # Salesforce refuses an end before the start, so write the row the way the
    # generator does (no checks): syncd must not rely on the org's validation.
    owner_id = org.find_user(ORGANIZER)
    with org.lock:
        backwards = org.writer.insert(
            "Event",
            None,
            **EVENT_DEFAULTS,
            **org.writer.stamps(owner_id),
            OwnerId=owner_id,
            Subject="Ends before it starts",
            StartDateTime=start,
            EndDateTime=start - timedelta(minutes=30),
            ActivityDateTime=start,
            ActivityDate=start.date(),
            DurationInMinutes=-30,
            IsDeleted=False,
        ).id
    # What each reason must name, so a Salesforce admin can act on it.
    must_say = {
        foreign_owner: ("guest.owner@partner.example", "not in the organization's mail domains"),
        zero_length: ("EndDateTime is not after StartDateTime",),
        backwards: ("EndDateTime is not after StartDateTime",),
        bad_invitee: (bad_contact, "invalid e-mail address", "pat.lee@acme@example.com"),
    }

    report = world.service().poll()

    assert report.counts["create"] == 1 and report.counts["fail"] == len(must_say)
    reasons = dict(report.failures)
    assert set(reasons) == set(must_say)
    for event_id, fragments in must_say.items():
        for fragment in fragments:
            assert fragment in reasons[event_id], (event_id, reasons[event_id])
    assert report.writeback_errors == []
    assert len(world.graph_log("POST", "/users/{user}/events")) == 1
    synced = org.record(valid)
    assert synced["Sync_Status__c"] == "Synced" and synced["Outlook_Event_Id__c"]
    failures = dict(recent_failures(world.runtime.engine, TENANT))
    for event_id, reason in reasons.items():
        record = world.record(event_id)
        assert record.status == MeetingStatus.FAILED
        assert record.graph_event_id is None
        assert record.last_error_message == reason
        assert failures[event_id] == reason
        written = org.record(event_id)
        assert written["Sync_Status__c"] == "Failed"
        assert written["Sync_Error__c"] == reason
        assert written["Outlook_Event_Id__c"] is None

    # Still invalid and unchanged: the next poll neither retries nor writes them again.
    calls, writes = world.graph_calls(), world.sf_state.counters.records_written
    later = world.service().poll()
    assert later.counts["fail"] == 0 and later.failures == []
    assert world.graph_calls() == calls
    assert world.sf_state.counters.records_written == writes


def test_invalid_record_fixed_in_salesforce_syncs_on_the_next_poll(world: World) -> None:
    start = world.meeting_start()
    event_id = world.create_event(subject="Zero length", start=start, end=start)
    service = world.service()
    assert service.poll().counts["fail"] == 1
    assert world.org.record(event_id)["Sync_Status__c"] == "Failed"

    world.org.update_event(event_id, EndDateTime=start + timedelta(minutes=30))
    report = service.poll()

    assert report.failures == []
    written = world.org.record(event_id)
    assert written["Sync_Status__c"] == "Synced"
    assert written["Sync_Error__c"] is None
    meeting = world.outlook_event(ORGANIZER, written["Outlook_Event_Id__c"])
    assert meeting.end == start + timedelta(minutes=30)
    record = world.record(event_id)
    assert record.status == MeetingStatus.SYNCED and record.last_error_message is None


class RecordingSleep:
    """Stands in for time.sleep: records each wait and runs `on_sleep` instead of waiting."""

    def __init__(self, on_sleep: Callable[[float], None]) -> None:
        self.waits: list[float] = []
        self.on_sleep = on_sleep

    def __call__(self, seconds: float) -> None:
        self.waits.append(seconds)
        self.on_sleep(seconds)


class RevokeSessionsOnFirstWrite:
    """The real client, but every Salesforce session is revoked just before the first
    write-back: the poll's queries ran on the old session, its writes need a new one."""

    def __init__(self, client: SalesforceClient, state: SalesforceState) -> None:
        self.client = client
        self.state = state
        self.revoked = 0

    def query(self, soql: str) -> Iterator[dict[str, Any]]:
        return self.client.query(soql)

    def query_all(self, soql: str) -> Iterator[dict[str, Any]]:
        return self.client.query_all(soql)

    def deleted(self, sobject: str, start: datetime, end: datetime) -> Any:
        return self.client.deleted(sobject, start, end)

    def update_records(self, sobject: str, records: Sequence[dict[str, Any]]) -> list[Any]:
        if not self.revoked:
            self.revoked = self.state.revoke_sessions()
        return self.client.update_records(sobject, records)


def test_expired_salesforce_session_mid_poll_is_survived(world: World) -> None:
    client = world.salesforce_client(sleep=RecordingSleep(lambda _: None))
    salesforce = RevokeSessionsOnFirstWrite(client, world.sf_state)
    service = world.service(salesforce)
    event_id = world.create_event(invitees=[COLLEAGUE])

    report = service.poll()

    assert salesforce.revoked == 1  # one live session, revoked between reads and writes
    assert report.failures == [] and report.writeback_errors == []
    assert report.counts["create"] == 1
    written = world.org.record(event_id)
    assert written["Sync_Status__c"] == "Synced" and written["Outlook_Event_Id__c"]
    usage = client.usage.snapshot()
    assert usage["logins"] == 2 and usage["relogins"] == 1
    assert world.sf_state.counters.session_refusals == 1
    # The watermarks moved: the next poll is incremental and finds nothing to do.
    later = service.poll()
    assert not later.full_resync and later.counts["create"] == 0


def test_exhausted_daily_api_budget_is_waited_out(world: World) -> None:
    budget = world.sf_state.budget

    def budget_back(_seconds: float) -> None:
        budget.configure(daily_limit=DEFAULT_DAILY_LIMIT, used=0)

    sleep = RecordingSleep(budget_back)
    client = world.salesforce_client(sleep=sleep)
    service = world.service(client)
    service.poll()  # first poll (full resync) on a full budget
    assert sleep.waits == []
    event_id = world.create_event(invitees=[COLLEAGUE])
    used, _ = budget.usage()
    # Two more calls allowed: the incremental poll runs out part-way through.
    budget.configure(daily_limit=used + 2, used=used)

    report = service.poll()

    assert sleep.waits == [30.0]  # asked to wait for the rolling allowance once
    assert report.failures == [] and report.writeback_errors == []
    assert report.counts["create"] == 1
    assert world.org.record(event_id)["Sync_Status__c"] == "Synced"
    assert client.usage.snapshot()["limit_refusals"] == 1
    assert world.sf_state.counters.limit_refusals == 1


def test_failed_record_is_retried_with_growing_back_off(world: World) -> None:
    """An owner without a mailbox fails; retry_failed() tries again only once the
    back-off has passed (1 min, then 2 min), and syncs once the mailbox exists."""
    service = world.service()
    event_id = world.create_event(NO_MAILBOX, subject="Unlicensed owner", invitees=[COLLEAGUE])

    first = service.poll()

    assert [failed for failed, _ in first.failures] == [event_id]
    record = world.record(event_id)
    assert record.status == MeetingStatus.FAILED and record.attempts == 1
    assert record.next_attempt_at is not None
    assert record.next_attempt_at - world.now() <= timedelta(minutes=1)
    written = world.org.record(event_id)
    assert written["Sync_Status__c"] == "Failed"
    assert NO_MAILBOX in written["Sync_Error__c"] and "mailbox" in written["Sync_Error__c"]

    # Not due yet: nothing is read or tried.
    calls = world.graph_calls()
    early = service.retry_failed()
    assert early.records_read == 0 and world.graph_calls() == calls

    world.advance(61)
    second = service.retry_failed()
    assert second.records_read == 1 and [e for e, _ in second.failures] == [event_id]
    record = world.record(event_id)
    assert record.attempts == 2
    assert record.next_attempt_at is not None
    assert record.next_attempt_at - world.now() > timedelta(minutes=1)  # the wait grew

    world.advance(61)
    assert service.retry_failed().records_read == 0  # 2 minutes not over yet

    world.user(NO_MAILBOX).has_mailbox = True  # a licence is assigned meanwhile
    world.advance(61)
    third = service.retry_failed()

    assert third.records_read == 1 and third.counts["update"] == 1
    assert third.failures == [] and third.writeback_errors == []
    written = world.org.record(event_id)
    assert written["Sync_Status__c"] == "Synced" and written["Sync_Error__c"] is None
    meeting = world.outlook_event(NO_MAILBOX, written["Outlook_Event_Id__c"])
    assert meeting.subject == "Unlicensed owner"
    assert world.record(event_id).status == MeetingStatus.SYNCED
    assert service.retry_failed().records_read == 0  # nothing left to retry
