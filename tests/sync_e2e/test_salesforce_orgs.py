"""Salesforce orgs as they really come, end to end against both sandboxes over HTTPS:
Shared Activities off, an API version without the Lightning series link, a critical
change that deletes and recreates a series, and answers kept off EventRelation unless
the tenant turns that on."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from syncd.core import event_mapping as em
from syncd.domain import MeetingStatus, Source
from syncd.salesforce import ClientCredentialsLogin, SalesforceClient, build_session
from syncd.sandbox.salesforce.recurrence import (
    SeriesIds,
    create_lightning_series,
    critical_change,
)
from syncd.sync.series_shape import UNLINKED_REASON

from .conftest import COLLEAGUE, EVENT_ROUTE, ORGANIZER, TENANT, World

BERLIN = ZoneInfo("Europe/Berlin")
EVENTS_ROUTE = "/users/{user}/events"
CANCEL_ROUTE = "/users/{user}/events/{event}/cancel"


def _next_monday(world: World, hour: int = 9) -> datetime:
    today = world.now().astimezone(BERLIN).date()
    monday = today + timedelta(days=(7 - today.weekday()) % 7 or 7)
    return datetime.combine(monday, datetime.min.time(), tzinfo=BERLIN).replace(hour=hour)


def _weekly(world: World, first: datetime, subject: str = "Pipeline review") -> SeriesIds:
    return create_lightning_series(
        world.org,
        ORGANIZER,
        first,
        timedelta(minutes=30),
        rrule="RRULE:FREQ=WEEKLY;BYDAY=MO;COUNT=4",
        time_zone="Europe/Berlin",
        subject=subject,
        invitees=[COLLEAGUE],
    )


def _writes(world: World, since: int) -> list[tuple[str, str]]:
    """Graph writes (POST / PATCH / DELETE, cancel included) after the first `since` requests."""
    return [
        (r.method, r.route)
        for r in world.graph_log()[since:]
        if r.method in ("POST", "PATCH", "DELETE")
    ]


def _client(world: World, api_version: str) -> SalesforceClient:
    session = build_session(Path(world.sandbox.ca_file))
    world.closers.append(session.close)
    login = ClientCredentialsLogin(
        login_url=world.endpoint.login_url,
        client_id=world.endpoint.client_id,
        client_secret=world.endpoint.client_secret,
        session=session,
    )
    return SalesforceClient(login=login, session=session, api_version=api_version, clock=world.now)


# -- Shared Activities off -----------------------------------------------------------------


def test_an_org_without_shared_activities_syncs_its_invitees(world: World) -> None:
    admin = f"{world.endpoint.base_url}/_sandbox/salesforce/settings"
    with build_session(Path(world.sandbox.ca_file)) as http:
        assert http.put(admin, json={"shared_activities": False}).ok
    contact = world.org.add_contact("jo.buyer@fabrikam.example", "Jo", "Buyer")
    customer = world.org.add_contact("ann.other@fabrikam.example", "Ann", "Other")
    event_id = world.create_event(invitees=[COLLEAGUE, contact], who=customer)

    report = world.service().poll()

    assert report.failures == [] and report.counts["create"] == 1
    graph_id = world.org.record(event_id)["Outlook_Event_Id__c"]
    meeting = world.outlook_event(ORGANIZER, graph_id)
    # Every EventRelation is an invitee there; the Who (a related contact) is no row.
    assert {a.address.lower() for a in meeting.attendees} == {
        COLLEAGUE,
        "jo.buyer@fabrikam.example",
    }
    # The org's shape came from describe: Event and EventRelation, once for the session.
    assert world.sf_state.counters.snapshot()["per_resource"]["describe"] == 2
    world.service().poll()
    assert world.sf_state.counters.snapshot()["per_resource"]["describe"] == 2


# -- Lightning series ----------------------------------------------------------------------


def test_without_the_series_link_occurrences_sync_one_by_one(world: World) -> None:
    first = _next_monday(world)
    series = _weekly(world, first)
    service = world.service(_client(world, "64.0"))  # Event.ActivityRecurrence2Id: 65.0+

    report = service.poll()

    assert report.failures == []
    assert report.counts["create"] == len(series.occurrences) == 4
    skipped = [s for s in report.steps if s.salesforce_id == series.master]
    assert [(s.action.value, s.reason) for s in skipped] == [("skip", UNLINKED_REASON)]
    starts = sorted(world.org.record(o)["StartDateTime"] for o in series.occurrences)
    assert sorted(e.start for e in world.calendar(ORGANIZER)) == starts


def test_a_critical_change_keeps_the_outlook_series(world: World) -> None:
    first = _next_monday(world)
    old = _weekly(world, first)
    service = world.service()
    assert service.poll().failures == []
    graph_id = world.record(old.master).graph_event_id
    assert graph_id is not None
    logged = len(world.graph_log())

    # Tuesdays instead of Mondays: Salesforce deletes the series and makes a new one.
    new = critical_change(
        world.org,
        old.master,
        rrule="RRULE:FREQ=WEEKLY;BYDAY=TU;COUNT=4",
        first_start=first + timedelta(days=1),
    )
    report = service.poll()
    world.advance(61)  # getDeleted covers whole minutes: the old ids are listed now
    again = service.poll()

    assert report.failures == [] and again.failures == []
    writes = [r for r in world.graph_log()[logged:] if r.method in ("POST", "PATCH", "DELETE")]
    assert [(r.method, r.route) for r in writes] == [("PATCH", EVENT_ROUTE)]
    patch = writes[0]
    assert patch.path.endswith(graph_id)
    assert patch.body["recurrence"]["pattern"]["daysOfWeek"] == ["tuesday"]
    key = em.external_key(TENANT, Source.SALESFORCE, new.master)
    assert patch.body["singleValueExtendedProperties"][0]["value"] == key
    # The ledger follows the new ids; the Outlook series shows the new occurrences.
    assert world.record(new.master).graph_event_id == graph_id
    assert world.org.record(new.master)["Outlook_Event_Id__c"] == graph_id
    for occurrence in new.occurrences:
        assert world.record(occurrence).status == MeetingStatus.SYNCED
    for occurrence in old.occurrences:
        record = world.record(occurrence)
        assert record.status == MeetingStatus.CANCELLED and record.graph_event_id is None
    starts = sorted(world.org.record(o)["StartDateTime"] for o in new.occurrences)
    view = world.sandbox.calendars.between(
        world.user(ORGANIZER).id, starts[0] - timedelta(days=1), starts[-1] + timedelta(days=1)
    )
    assert [e.start for e in view if e.series_master_id == graph_id] == starts
    assert [e.id for e in world.calendar(ORGANIZER) if e.recurrence] == [graph_id]


def test_a_critical_change_with_a_new_subject_is_one_invitation_and_one_cancellation(
    world: World,
) -> None:
    first = _next_monday(world)
    old = _weekly(world, first)
    service = world.service()
    service.poll()
    old_graph_id = world.record(old.master).graph_event_id
    logged = len(world.graph_log())

    new = critical_change(
        world.org,
        old.master,
        rrule="RRULE:FREQ=WEEKLY;BYDAY=TU;COUNT=4",
        first_start=first + timedelta(days=1),
        subject="Pipeline review (new format)",
    )
    service.poll()
    world.advance(61)
    service.poll()

    # Not the same series to syncd (another subject): one new series, one cancelled --
    # never a message per occurrence.
    assert sorted(_writes(world, logged)) == [("POST", EVENTS_ROUTE), ("POST", CANCEL_ROUTE)]
    assert world.record(old.master).status == MeetingStatus.CANCELLED
    assert world.record(new.master).graph_event_id not in (None, old_graph_id)
    for occurrence in old.occurrences:
        assert world.record(occurrence).status == MeetingStatus.CANCELLED


# -- answers -------------------------------------------------------------------------------


def test_answers_reach_the_summary_but_not_event_relation_by_default(world: World) -> None:
    world.sandbox.answers.configure(accepted=1, tentatively_accepted=0, declined=0, not_responded=0)
    event_id = world.create_event(invitees=[COLLEAGUE])
    service = world.service()
    service.poll()
    assert world.tenant.salesforce.fields.event_relation_status is False

    report = service.refresh_responses()

    assert report.meetings_changed == 1 and report.writeback_errors == []
    assert report.relations_written == 0
    colleague = world.org.find_user(COLLEAGUE)
    assert colleague is not None
    relation = world.relation_of(event_id, colleague)
    assert relation["Status"] == "New" and relation["RespondedDate"] is None
    assert world.org.record(event_id)["Responses_Summary__c"] == f"Accepted: {COLLEAGUE}"
