"""Pure mapping between meetings and Graph events."""

from __future__ import annotations

from datetime import UTC, datetime

from syncd.core import event_mapping as em
from syncd.domain import Attendee, Meeting, ResponseStatus, Source


def meeting(**overrides: object) -> Meeting:
    fields: dict[str, object] = {
        "external_id": "m1",
        "organizer_email": "org@contoso.example",
        "subject": "Plan",
        "body": "Agenda",
        "location": "Room 1",
        "start": datetime(2026, 1, 5, 10, tzinfo=UTC),
        "end": datetime(2026, 1, 5, 11, tzinfo=UTC),
        "attendees": (Attendee("a@contoso.example", True), Attendee("x@fabrikam.example", False)),
    }
    fields.update(overrides)
    return Meeting(**fields)  # type: ignore[arg-type]


def test_transaction_id_is_deterministic_per_generation() -> None:
    first = em.transaction_id("demo", Source.API, "m1", 0)
    assert first == em.transaction_id("demo", Source.API, "m1", 0)
    assert first != em.transaction_id("demo", Source.API, "m1", 1)
    assert first != em.transaction_id("other", Source.API, "m1", 0)


def test_teams_keyword_makes_an_online_meeting() -> None:
    content = em.event_content(meeting(location="ms teams"), teams_keyword="MS Teams")
    assert content["isOnlineMeeting"] is True
    assert content["onlineMeetingProvider"] == "teamsForBusiness"
    plain = em.event_content(meeting(), teams_keyword="MS Teams")
    assert plain["isOnlineMeeting"] is False
    assert "onlineMeetingProvider" not in em.create_payload(plain, transaction="t", key="k")


def test_create_payload_carries_transaction_and_key() -> None:
    payload = em.create_payload(
        em.event_content(meeting(), teams_keyword="MS Teams"), transaction="tx", key="demo:api:m1"
    )
    assert payload["transactionId"] == "tx"
    assert payload["singleValueExtendedProperties"] == [
        {"id": em.EXTERNAL_KEY_PROPERTY_ID, "value": "demo:api:m1"}
    ]
    assert payload["start"] == {"dateTime": "2026-01-05T10:00:00", "timeZone": "UTC"}


def test_changes_hold_only_what_changed() -> None:
    before = em.event_content(meeting(), teams_keyword="MS Teams")
    after = em.event_content(meeting(subject="New"), teams_keyword="MS Teams")
    assert em.content_changes(before, after) == {"subject": "New"}
    assert em.content_changes(before, before) == {}


def test_attendee_order_and_case_are_not_a_change() -> None:
    before = em.event_content(meeting(), teams_keyword="MS Teams")
    shuffled = meeting(
        attendees=(Attendee("X@fabrikam.example", False), Attendee("a@contoso.example", True))
    )
    after = em.event_content(shuffled, teams_keyword="MS Teams")
    assert em.content_changes(before, after) == {}


def test_body_change_of_teams_meeting_keeps_the_join_link() -> None:
    before = em.event_content(meeting(location="MS Teams"), teams_keyword="MS Teams")
    after = em.event_content(meeting(location="MS Teams", body="New"), teams_keyword="MS Teams")
    patch = em.content_changes(before, after, join_url="https://teams.example/join/1")
    assert patch["body"]["content"].startswith("New")
    assert "https://teams.example/join/1" in patch["body"]["content"]


def test_responses_map_to_the_contract_vocabulary() -> None:
    event = {
        "attendees": [
            {
                "emailAddress": {"address": "A@x.example"},
                "status": {"response": "accepted", "time": "2026-01-01T10:00:00Z"},
            },
            {
                "emailAddress": {"address": "b@x.example"},
                "status": {"response": "none", "time": "0001-01-01T00:00:00Z"},
            },
            {
                "emailAddress": {"address": "c@x.example"},
                "status": {"response": "tentativelyAccepted"},
            },
            {"emailAddress": {"address": "d@x.example"}, "status": {"response": "weird"}},
        ]
    }
    answers = em.attendee_responses(event)
    assert answers["a@x.example"]["response"] == ResponseStatus.ACCEPTED
    assert answers["b@x.example"] == {"response": "NoResponseReceived", "time": None}
    assert answers["c@x.example"]["response"] == ResponseStatus.TENTATIVE
    assert answers["d@x.example"]["response"] == ResponseStatus.UNKNOWN


def test_graph_time_with_seven_digit_fraction_parses() -> None:
    parsed = em.parse_graph_time({"dateTime": "2026-01-05T10:00:00.0000000", "timeZone": "UTC"})
    assert parsed == datetime(2026, 1, 5, 10, tzinfo=UTC)
