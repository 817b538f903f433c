"""The sandbox reads event bodies against Graph's published v1.0 schema: the names it knows
are the metadata's (tests/data/graph-v1.0-event-schema.xml), and any other name, at any
depth, is Graph's 400 RequestBodyRead."""

from __future__ import annotations

from typing import Any

import pytest

from syncd.sandbox.microsoft.directory import DirectoryUser
from syncd.sandbox.microsoft.event_input import IGNORED, KNOWN
from syncd.sandbox.microsoft.event_json import EVENT_PROPERTIES
from syncd.sandbox.microsoft.event_schema import BODY_TYPES
from tests.graph_schema.validator import load_schema

from .helpers import Graph, attendee, event_body

# https://learn.microsoft.com/graph/api/event-update, "Request body": the updatable ones.
DOCUMENTED_UPDATABLE = {
    "attendees",
    "body",
    "categories",
    "end",
    "hideAttendees",
    "importance",
    "isAllDay",
    "isOnlineMeeting",
    "isReminderOn",
    "location",
    "locations",
    "onlineMeetingProvider",
    "recurrence",
    "reminderMinutesBeforeStart",
    "responseRequested",
    "sensitivity",
    "showAs",
    "start",
    "subject",
}
# Set when the event is created: allowNewTimeProposals (user-post-events, "By default, the
# allowNewTimeProposals property is set to true"), transactionId (resources/event) and the
# extended property syncd stamps
# (api/singlevaluelegacyextendedproperty-post-singlevalueextendedproperties).
CREATE_TIME = {"allowNewTimeProposals", "transactionId", "singleValueExtendedProperties"}
# Navigation properties the sandbox accepts without modelling them (syncd sends none).
UNMODELLED = {"attachments", "calendar", "exceptionOccurrences", "extensions", "instances"}


@pytest.mark.parametrize("type_name", sorted(BODY_TYPES))
def test_sandbox_property_names_are_the_published_ones(type_name: str) -> None:
    schema = load_schema()
    published = schema.properties(type_name)
    assert set(BODY_TYPES[type_name]) == set(published)
    for name, target in BODY_TYPES[type_name].items():
        declared = published[name].type_name
        if declared in schema.types and name not in UNMODELLED:
            assert target == declared, f"{type_name}.{name} holds a {declared}"
        else:
            assert target is None, f"{type_name}.{name} holds a {declared}"


def test_the_sandbox_applies_the_documented_writable_properties() -> None:
    assert set(KNOWN.values()) == DOCUMENTED_UPDATABLE | CREATE_TIME
    assert set(KNOWN.values()) | set(IGNORED) == set(load_schema().properties("event"))


def test_select_takes_the_published_properties() -> None:
    """`$select` names structural properties. Not modelled: cancelledOccurrences, which
    Graph returns only on a `$select` of a series master read by id (resources/event)."""
    published = load_schema().properties("event")
    structural = {name for name, prop in published.items() if not prop.navigation}
    assert set(EVENT_PROPERTIES) == structural - {"cancelledOccurrences"}


def _error(response: Any) -> tuple[int, str, str]:
    error = response.json()["error"]
    return response.status_code, error["code"], error["message"]


@pytest.mark.parametrize(
    ("extra", "name", "outlook_type"),
    [
        ({"subjet": "typo"}, "subjet", "Event"),
        ({"uid": "beta-only"}, "uid", "Event"),  # a beta property, not in v1.0
        ({"event": {}}, "event", "Event"),
        ({"body": {"contentType": "text", "text": "x"}}, "text", "ItemBody"),
        ({"location": {"displayName": "A", "address": {"zip": "1"}}}, "zip", "PhysicalAddress"),
        ({"start": {"dateTime": "2031-03-10T09:00:00", "zone": "UTC"}}, "zone", "DateTimeTimeZone"),
        (
            {"singleValueExtendedProperties": [{"id": "String {0} Name k", "name": "v"}]},
            "name",
            "SingleValueLegacyExtendedProperty",
        ),
    ],
)
def test_an_undeclared_property_is_400_at_any_depth(
    graph: Graph, people: list[DirectoryUser], extra: dict[str, Any], name: str, outlook_type: str
) -> None:
    answer = graph.post(f"/users/{people[0].email}/events", json=event_body(**extra))
    status, code, message = _error(answer)
    assert (status, code) == (400, "RequestBodyRead")
    assert message.startswith(
        f"The property '{name}' does not exist on type 'Microsoft.OutlookServices.{outlook_type}'."
    )


def test_undeclared_names_inside_attendees_and_recurrence_are_400(
    graph: Graph, people: list[DirectoryUser]
) -> None:
    mailbox, guest = people[0].email, people[1]
    misspelt = {"emailAddress": {"address": guest.email, "nmae": "Guest"}, "type": "required"}
    answer = graph.post(f"/users/{mailbox}/events", json=event_body(attendees=[misspelt]))
    assert _error(answer)[:2] == (400, "RequestBodyRead")
    assert (
        "'nmae' does not exist on type 'Microsoft.OutlookServices.EmailAddress'"
        in (_error(answer)[2])
    )
    created = graph.post(f"/users/{mailbox}/events", json=event_body(attendees=[attendee(guest)]))
    assert created.status_code == 201
    series = {
        "pattern": {"type": "weekly", "interval": 1, "dayOfWeek": ["monday"]},
        "range": {"type": "noEnd", "startDate": "2031-03-10"},
    }
    patched = graph.patch(
        f"/users/{mailbox}/events/{created.json()['id']}", json={"recurrence": series}
    )
    status, code, message = _error(patched)
    assert (status, code) == (400, "RequestBodyRead")
    assert "'dayOfWeek' does not exist on type 'Microsoft.OutlookServices.RecurrencePattern'" in (
        message
    )


def test_read_only_properties_are_accepted_and_ignored(
    graph: Graph, people: list[DirectoryUser]
) -> None:
    """The documented update example sends originalStartTimeZone, originalEndTimeZone and
    responseStatus (https://learn.microsoft.com/graph/api/event-update)."""
    mailbox = people[0].email
    created = graph.post(f"/users/{mailbox}/events", json=event_body()).json()
    patched = graph.patch(
        f"/users/{mailbox}/events/{created['id']}",
        json={
            "originalStartTimeZone": "Pacific Standard Time",
            "originalEndTimeZone": "Pacific Standard Time",
            "responseStatus": {"response": "accepted", "time": "2031-01-01T00:00:00Z"},
            "id": "something-else",
            "isReminderOn": False,
            "Subject": "Case-insensitive names",
        },
    )
    assert patched.status_code == 200
    event = patched.json()
    assert event["id"] == created["id"]
    assert event["originalStartTimeZone"] == created["originalStartTimeZone"]
    assert event["responseStatus"] == {"response": "organizer", "time": "0001-01-01T00:00:00Z"}
    assert (event["isReminderOn"], event["subject"]) == (False, "Case-insensitive names")
