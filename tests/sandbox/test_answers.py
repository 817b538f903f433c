"""Attendee answers: seeded and repeatable, delayed by the clock, reset when a meeting moves."""

from __future__ import annotations

from pathlib import Path

import requests

from syncd.sandbox import RunningSandbox, SandboxTenantSpec, start_sandbox
from syncd.sandbox.microsoft.answers import AttendeeAnswers
from syncd.sandbox.microsoft.directory import DirectoryUser

from .helpers import Graph, attendee, event_body, fetch_token, make_session

GUESTS = [f"guest{n}@partner.example" for n in range(12)]


def statuses(event: dict) -> dict[str, str]:
    return {a["emailAddress"]["address"]: a["status"]["response"] for a in event["attendees"]}


def test_answers_appear_on_the_next_read(
    sandbox: RunningSandbox, graph: Graph, people: list[DirectoryUser]
) -> None:
    mailbox = people[0].email
    created = graph.post(
        f"/users/{mailbox}/events",
        json=event_body(transactionId="answers-1", attendees=[attendee(g) for g in GUESTS]),
    ).json()
    assert set(statuses(created).values()) == {"none"}
    read = graph.get(f"/users/{mailbox}/events/{created['id']}").json()
    expected = {}
    for guest in GUESTS:
        choice = sandbox.answers.decide("answers-1", guest, 0)
        expected[guest] = "none" if choice == "notResponded" else choice
    assert statuses(read) == expected
    assert len(set(expected.values())) > 1  # a realistic mix, not one answer for all
    answered = [a for a in read["attendees"] if a["status"]["response"] != "none"]
    assert all(a["status"]["time"] != "0001-01-01T00:00:00Z" for a in answered)


def test_same_seed_same_answers(tmp_path: Path, graph: Graph, people: list[DirectoryUser]) -> None:
    payload = event_body(transactionId="repeatable", attendees=[attendee(g) for g in GUESTS])
    mailbox = people[0].email
    first = graph.post(f"/users/{mailbox}/events", json=payload).json()
    ours = statuses(graph.get(f"/users/{mailbox}/events/{first['id']}").json())
    specs = [SandboxTenantSpec("Contoso", "contoso.example", users=25, seed=42)]
    with start_sandbox(state_dir=tmp_path, tenants=specs, seed=42) as twin:
        session = make_session(twin)
        other = Graph(session, twin, fetch_token(session, twin))
        created = other.post(f"/users/{mailbox}/events", json=payload).json()
        theirs = statuses(other.get(f"/users/{mailbox}/events/{created['id']}").json())
        session.close()
    assert theirs == ours
    assert AttendeeAnswers(seed=43).decide("repeatable", GUESTS[0], 0) in (
        "accepted",
        "tentativelyAccepted",
        "declined",
        "notResponded",
    )


def test_answers_wait_for_the_delay(
    sandbox: RunningSandbox, graph: Graph, people: list[DirectoryUser]
) -> None:
    sandbox.clock.freeze()
    sandbox.answers.configure(
        delay_seconds=600, accepted=1, tentatively_accepted=0, declined=0, not_responded=0
    )
    mailbox = people[0].email
    created = graph.post(
        f"/users/{mailbox}/events", json=event_body(attendees=[attendee(GUESTS[0])])
    ).json()
    path = f"/users/{mailbox}/events/{created['id']}"
    assert statuses(graph.get(path).json()) == {GUESTS[0]: "none"}
    sandbox.clock.advance(600)
    assert statuses(graph.get(path).json()) == {GUESTS[0]: "accepted"}


def test_moving_a_meeting_asks_again(
    sandbox: RunningSandbox, graph: Graph, people: list[DirectoryUser]
) -> None:
    sandbox.answers.configure(accepted=1, tentatively_accepted=0, declined=0, not_responded=0)
    mailbox = people[0].email
    created = graph.post(
        f"/users/{mailbox}/events", json=event_body(attendees=[attendee(GUESTS[1])])
    ).json()
    path = f"/users/{mailbox}/events/{created['id']}"
    assert statuses(graph.get(path).json()) == {GUESTS[1]: "accepted"}
    renamed = graph.patch(path, json={"subject": "Same time"}).json()
    assert statuses(renamed) == {GUESTS[1]: "accepted"}  # not moved: answer stands
    moved = graph.patch(
        path, json={"start": {"dateTime": "2031-03-10T07:00:00", "timeZone": "UTC"}}
    ).json()
    assert statuses(moved) == {GUESTS[1]: "none"}
    assert statuses(graph.get(path).json()) == {GUESTS[1]: "accepted"}


def _busy_status(graph: Graph, organizer: DirectoryUser, guest: DirectoryUser) -> tuple[str, str]:
    graph.post(f"/users/{organizer.email}/events", json=event_body(attendees=[attendee(guest)]))
    schedule = graph.post(
        f"/users/{organizer.email}/calendar/getSchedule",
        json={
            "schedules": [guest.email],
            "startTime": {"dateTime": "2031-03-10T08:00:00", "timeZone": "UTC"},
            "endTime": {"dateTime": "2031-03-10T09:00:00", "timeZone": "UTC"},
            "availabilityViewInterval": 30,
        },
    ).json()["value"][0]
    [item] = schedule["scheduleItems"]
    return item["status"], schedule["availabilityView"]


def test_invitee_copy_follows_the_answer_in_get_schedule(
    sandbox: RunningSandbox, graph: Graph, people: list[DirectoryUser]
) -> None:
    organizer = people[0]
    zero = {"accepted": 0, "tentatively_accepted": 0, "declined": 0, "not_responded": 0}
    cases = [
        ("accepted", people[1], ("busy", "22")),
        ("tentatively_accepted", people[2], ("tentative", "11")),
        ("declined", people[3], ("free", "00")),
    ]
    for answer, guest, expected in cases:
        sandbox.answers.configure(**{**zero, answer: 1})
        assert _busy_status(graph, organizer, guest) == expected
    [copy] = graph.get(f"/users/{people[1].email}/events").json()["value"]
    assert copy["responseStatus"]["response"] == "accepted"
    assert copy["showAs"] == "busy"


def test_unanswered_invitation_shows_tentative(
    sandbox: RunningSandbox, http: requests.Session, graph: Graph, people: list[DirectoryUser]
) -> None:
    sandbox.answers.configure(delay_seconds=3600)
    graph.post(f"/users/{people[0].email}/events", json=event_body(attendees=[attendee(people[5])]))
    [copy] = graph.get(f"/users/{people[5].email}/events").json()["value"]
    assert copy["responseStatus"]["response"] == "notResponded"
    assert copy["showAs"] == "tentative"
