"""The scheduler core against the sandbox, through the real Graph client and msal."""

from __future__ import annotations

import uuid
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from syncd.core import event_mapping as em
from syncd.core.scheduler import Scheduler
from syncd.domain import (
    Attendee,
    ErrorCode,
    Meeting,
    MeetingChanges,
    ResponseStatus,
    SyncdError,
)
from syncd.runtime import Runtime
from syncd.sandbox.server import RunningSandbox
from tests.support import SpyGraph, users_of

START = datetime(2031, 3, 3, 9, tzinfo=UTC)


@pytest.fixture
def spy(runtime: Runtime) -> SpyGraph:
    return SpyGraph(runtime.graphs["demo"])


@pytest.fixture
def scheduler(runtime: Runtime, spy: SpyGraph) -> Scheduler:
    return Scheduler(runtime.config.tenant("demo"), runtime.engine, spy)


def new_meeting(sandbox: RunningSandbox, **overrides: Any) -> Meeting:
    users = users_of(sandbox, "demo")
    fields: dict[str, Any] = {
        "external_id": f"core-{uuid.uuid4()}",
        "organizer_email": users[0],
        "subject": "Quarterly review",
        "body": "Agenda: numbers",
        "location": "Room 4",
        "start": START,
        "end": START + timedelta(hours=1),
        "attendees": (Attendee(users[1], True), Attendee("guest@fabrikam-partner.example", False)),
    }
    fields.update(overrides)
    return Meeting(**fields)


def events_with_key(sandbox: RunningSandbox, meeting: Meeting) -> list[Any]:
    owner = sandbox.directory.find_by_email(meeting.organizer_email)
    key = em.external_key("demo", "api", meeting.external_id)
    return [e for e in sandbox.calendars.events(owner.id) if key in e.extended.values()]


def test_schedule_creates_one_stamped_event(scheduler: Scheduler, sandbox: RunningSandbox) -> None:
    meeting = new_meeting(sandbox)
    scheduler.schedule(meeting)
    [event] = events_with_key(sandbox, meeting)
    assert event.subject == "Quarterly review"
    assert event.start == START
    assert event.transaction_id == em.transaction_id("demo", "api", meeting.external_id, 0)
    found = scheduler.graph.find_event_by_property(
        meeting.organizer_email,
        em.EXTERNAL_KEY_PROPERTY_ID,
        em.external_key("demo", "api", meeting.external_id),
    )
    assert found is not None and found["id"] == event.id


def test_same_request_twice_creates_nothing_more(
    scheduler: Scheduler, spy: SpyGraph, sandbox: RunningSandbox
) -> None:
    meeting = new_meeting(sandbox)
    scheduler.schedule(meeting)
    calls = len(spy.calls)
    scheduler.schedule(meeting)
    assert len(spy.calls) == calls
    assert len(events_with_key(sandbox, meeting)) == 1
    with pytest.raises(SyncdError) as error:
        scheduler.schedule(replace(meeting, subject="Another subject"))
    assert error.value.code == ErrorCode.MEETING_ALREADY_EXISTS


def test_lost_create_response_is_retried_without_a_duplicate(
    scheduler: Scheduler, spy: SpyGraph, sandbox: RunningSandbox
) -> None:
    meeting = new_meeting(sandbox)
    spy.fail_after["create_event"] = SyncdError(ErrorCode.UPSTREAM_UNAVAILABLE, "reset")
    with pytest.raises(SyncdError):
        scheduler.schedule(meeting)
    assert len(events_with_key(sandbox, meeting)) == 1
    scheduler.schedule(meeting)
    assert len(events_with_key(sandbox, meeting)) == 1
    # The retry finds the event the lost POST made by its key and takes it over: it
    # does not rely on Graph still deduplicating the transactionId.
    assert spy.names() == ["create_event", "find_event_by_property"]


def test_crash_before_the_graph_call_is_finished_by_resume(
    scheduler: Scheduler, spy: SpyGraph, sandbox: RunningSandbox
) -> None:
    meeting = new_meeting(sandbox)
    spy.fail_before["create_event"] = SyncdError(ErrorCode.UPSTREAM_UNAVAILABLE, "down")
    with pytest.raises(SyncdError):
        scheduler.schedule(meeting)
    assert events_with_key(sandbox, meeting) == []
    assert scheduler.resume() >= 1
    assert len(events_with_key(sandbox, meeting)) == 1


def test_update_sends_only_changed_fields(
    scheduler: Scheduler, spy: SpyGraph, sandbox: RunningSandbox
) -> None:
    meeting = new_meeting(sandbox)
    scheduler.schedule(meeting)
    scheduler.update(meeting.external_id, meeting.organizer_email, MeetingChanges(subject="New"))
    [(_, args, _)] = [c for c in spy.calls if c[0] == "update_event"]
    assert args[2] == {"subject": "New"}
    [event] = events_with_key(sandbox, meeting)
    assert event.subject == "New"
    assert event.body_content == "Agenda: numbers"
    before = len(spy.calls)
    scheduler.update(meeting.external_id, meeting.organizer_email, MeetingChanges(subject="New"))
    assert len(spy.calls) == before, "an update that changes nothing must not call Graph"


def test_update_rejects_other_organizer_and_bad_times(
    scheduler: Scheduler, sandbox: RunningSandbox
) -> None:
    meeting = new_meeting(sandbox)
    scheduler.schedule(meeting)
    other = users_of(sandbox, "demo")[2]
    with pytest.raises(SyncdError) as mismatch:
        scheduler.update(meeting.external_id, other, MeetingChanges(subject="x"))
    assert mismatch.value.code == ErrorCode.ORGANIZER_MISMATCH
    with pytest.raises(SyncdError) as bad:
        scheduler.update(meeting.external_id, meeting.organizer_email, MeetingChanges(end=START))
    assert bad.value.code == ErrorCode.INVALID_REQUEST


def test_cancel_with_attendees_cancels_and_id_can_be_reused(
    scheduler: Scheduler, spy: SpyGraph, sandbox: RunningSandbox
) -> None:
    meeting = new_meeting(sandbox)
    scheduler.schedule(meeting)
    scheduler.cancel(meeting.external_id, meeting.organizer_email)
    assert "cancel_event" in spy.names()
    assert events_with_key(sandbox, meeting) == []
    with pytest.raises(SyncdError) as gone:
        scheduler.get(meeting.external_id, meeting.organizer_email)
    assert gone.value.code == ErrorCode.MEETING_NOT_FOUND
    scheduler.schedule(meeting)
    [event] = events_with_key(sandbox, meeting)
    assert event.transaction_id == em.transaction_id("demo", "api", meeting.external_id, 1)


def test_cancel_without_attendees_deletes(
    scheduler: Scheduler, spy: SpyGraph, sandbox: RunningSandbox
) -> None:
    meeting = new_meeting(sandbox, attendees=())
    scheduler.schedule(meeting)
    scheduler.cancel(meeting.external_id, meeting.organizer_email)
    assert "delete_event" in spy.names() and "cancel_event" not in spy.names()
    assert events_with_key(sandbox, meeting) == []


def test_get_returns_attendee_responses_and_teams_link(
    scheduler: Scheduler, sandbox: RunningSandbox
) -> None:
    meeting = new_meeting(sandbox, location="MS Teams")
    created = scheduler.schedule(meeting)
    assert created.join_url and created.join_url.startswith("https://teams.microsoft.com/")
    read = scheduler.get(meeting.external_id, meeting.organizer_email)
    assert read.join_url == created.join_url
    assert [a.email for a in read.attendees] == [a.email for a in meeting.attendees]
    owner = sandbox.directory.find_by_email(meeting.organizer_email)
    [event] = [e for e in sandbox.calendars.events(owner.id) if e.join_url == created.join_url]
    expected = {a.address.casefold(): em.response_of(a.invite.choice) for a in event.attendees}
    assert {a.email.casefold(): a.response for a in read.attendees} == expected
    assert all(r in ResponseStatus for r in expected.values())


def test_external_or_unknown_organizer_is_refused(
    scheduler: Scheduler, runtime: Runtime, sandbox: RunningSandbox
) -> None:
    with pytest.raises(SyncdError) as external:
        scheduler.schedule(new_meeting(sandbox, organizer_email="someone@gmail.example"))
    assert external.value.code == ErrorCode.ORGANIZER_NOT_FOUND
    ghost = new_meeting(sandbox, organizer_email="nobody.here@contoso.example")
    with pytest.raises(SyncdError) as unknown:
        scheduler.schedule(ghost)
    assert unknown.value.code == ErrorCode.ORGANIZER_NOT_FOUND
    with pytest.raises(SyncdError) as after:
        scheduler.get(ghost.external_id, ghost.organizer_email)
    assert after.value.code == ErrorCode.MEETING_NOT_FOUND


def test_availability_merges_busy_slots_and_flags_external(
    scheduler: Scheduler, sandbox: RunningSandbox
) -> None:
    users = users_of(sandbox, "demo")
    organizer, colleague = users[5], users[6]
    day = datetime(2031, 5, 6, tzinfo=UTC)
    for hour, length in ((9, 2), (10, 2), (15, 1)):
        scheduler.schedule(
            new_meeting(
                sandbox,
                organizer_email=organizer,
                attendees=(),
                start=day + timedelta(hours=hour),
                end=day + timedelta(hours=hour + length),
            )
        )
    answers = scheduler.availability(
        [organizer, colleague, "x@elsewhere.example", "ghost@contoso.example"],
        day,
        day + timedelta(days=1),
    )
    assert [a.error_code for a in answers] == [
        ErrorCode.NO_ERROR,
        ErrorCode.NO_ERROR,
        ErrorCode.EXTERNAL_USER_NOT_SUPPORTED,
        ErrorCode.MAILBOX_NOT_FOUND,
    ]
    assert [(s.start.hour, s.end.hour) for s in answers[0].slots] == [(9, 12), (15, 16)]
    assert answers[1].slots == ()
