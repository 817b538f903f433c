"""The organizer the Outlook-watching tests play (tests/outlook_organizer.py): each of its
changes goes through Graph over HTTPS and lands in the organizer's stored calendar."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest

from syncd.sandbox import RunningSandbox
from syncd.sandbox.microsoft.directory import DirectoryUser
from tests.outlook_organizer import Organizer, OrganizerError, answer_now

from .helpers import Graph, attendee, event_body

START = datetime(2031, 3, 10, 8, 0, tzinfo=UTC)  # event_body: 09:00 W. Europe = 08:00 UTC


@pytest.fixture
def organizer(sandbox: RunningSandbox) -> Iterator[Organizer]:
    with Organizer(sandbox, "Contoso") as playing:
        yield playing


def _meeting(graph: Graph, owner: DirectoryUser, guest: DirectoryUser, **extra: object) -> str:
    created = graph.post(
        f"/users/{owner.email}/events", json=event_body(attendees=[attendee(guest)], **extra)
    )
    assert created.status_code == 201, created.text
    return str(created.json()["id"])


def test_move_edit_and_attendees_reach_the_stored_meeting(
    sandbox: RunningSandbox, graph: Graph, organizer: Organizer, people: list[DirectoryUser]
) -> None:
    owner, guest, other = people[:3]
    event_id = _meeting(graph, owner, guest)
    before = sandbox.calendars.get(owner.id, event_id)

    organizer.move(owner.email, event_id, timedelta(hours=2))
    organizer.edit(owner.email, event_id, subject="Moved review", location="Room 9", body="New")
    organizer.add_attendee(owner.email, event_id, other.email)
    organizer.remove_attendee(owner.email, event_id, guest.email)

    stored = sandbox.calendars.get(owner.id, event_id)
    assert stored.start == START + timedelta(hours=2)
    assert stored.end == START + timedelta(hours=3)
    assert (stored.subject, stored.location["displayName"], stored.body_content) == (
        "Moved review",
        "Room 9",
        "New",
    )
    assert [a.address for a in stored.attendees] == [other.email]
    assert stored.change_key != before.change_key
    assert [c.kind for c in organizer.changes] == ["moved", "edited", "attendees", "attendees"]
    assert organizer.changes[0].values == {
        "start": {"dateTime": "2031-03-10T10:00:00", "timeZone": "UTC"},
        "end": {"dateTime": "2031-03-10T11:00:00", "timeZone": "UTC"},
    }


def test_delete_and_cancel_remove_the_meeting(
    sandbox: RunningSandbox, graph: Graph, organizer: Organizer, people: list[DirectoryUser]
) -> None:
    owner, guest = people[:2]
    deleted, cancelled = _meeting(graph, owner, guest), _meeting(graph, owner, guest)
    organizer.delete(owner.email, deleted)
    organizer.cancel(owner.email, cancelled, "No longer needed")
    assert {e.id for e in sandbox.calendars.events(owner.id)} & {deleted, cancelled} == set()
    with pytest.raises(OrganizerError, match="404"):
        organizer.get(owner.email, deleted)


def test_one_occurrence_cancelled_and_one_moved(
    sandbox: RunningSandbox, graph: Graph, organizer: Organizer, people: list[DirectoryUser]
) -> None:
    owner, guest = people[:2]
    weekly = {
        "pattern": {"type": "weekly", "interval": 1, "daysOfWeek": ["monday"]},
        "range": {"type": "numbered", "startDate": "2031-03-10", "numberOfOccurrences": 4},
    }
    series = _meeting(graph, owner, guest, recurrence=weekly)
    second, third = START + timedelta(weeks=1), START + timedelta(weeks=2)

    cancelled = organizer.cancel_occurrence(owner.email, series, second)
    moved = organizer.move_occurrence(owner.email, series, third, timedelta(hours=1))

    assert cancelled != moved
    instances = organizer.occurrences(owner.email, series, START, START + timedelta(weeks=5))
    starts = sorted(i["start"]["dateTime"][:19] for i in instances)
    # 09:00 in Western Europe is 07:00 UTC from 30 March 2031 on (summer time).
    assert starts == ["2031-03-10T08:00:00", "2031-03-24T09:00:00", "2031-03-31T07:00:00"]
    with pytest.raises(OrganizerError, match="no occurrence"):
        organizer.cancel_occurrence(owner.email, series, second)


def test_an_attendee_answers_now_and_the_organizers_copy_changes(
    sandbox: RunningSandbox, graph: Graph, organizer: Organizer, people: list[DirectoryUser]
) -> None:
    sandbox.answers.configure(accepted=0, tentatively_accepted=0, declined=0, not_responded=1)
    owner, guest = people[:2]
    event_id = _meeting(graph, owner, guest)
    before = organizer.get(owner.email, event_id)
    assert before["attendees"][0]["status"]["response"] == "none"

    sandbox.clock.advance(60)
    answer_now(sandbox, owner.email, event_id, guest.email, "declined")

    after = organizer.get(owner.email, event_id)
    assert after["attendees"][0]["status"]["response"] == "declined"
    assert after["changeKey"] != before["changeKey"]
    assert after["lastModifiedDateTime"] > before["lastModifiedDateTime"]
    with pytest.raises(OrganizerError, match="not invited"):
        answer_now(sandbox, owner.email, event_id, "nobody@contoso.example", "accepted")
