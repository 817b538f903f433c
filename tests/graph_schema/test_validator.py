"""The schema validator on its own: Microsoft's documented examples pass, broken bodies don't."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest

from tests.graph_schema.validator import (
    SCHEMA_FILE,
    Mode,
    load_schema,
    validate,
    validate_action,
)

EXAMPLES = Path(__file__).resolve().parents[1] / "data" / "graph-v1.0-event-examples.json"


def _examples() -> list[dict[str, Any]]:
    return list(json.loads(EXAMPLES.read_text(encoding="utf-8"))["examples"])


def _example(name: str) -> dict[str, Any]:
    found = next(e for e in _examples() if e["name"] == name)
    return copy.deepcopy(found["body"])


def test_the_extracted_schema_names_its_source() -> None:
    head = SCHEMA_FILE.read_text(encoding="utf-8")[:1500]
    assert "Source repository: https://github.com/microsoftgraph/msgraph-metadata" in head
    assert "Source path: clean_v10_metadata/cleanMetadata.xml" in head
    assert "Commit: f54f11b60956ea7b185ca0447b2b80805836ec7b" in head
    assert "Commit date: 2026-08-20" in head
    schema = load_schema()
    assert {"event", "outlookItem", "entity", "attendee", "patternedRecurrence"} <= set(
        schema.types
    )
    assert ("cancel", "event") in schema.actions and ("getSchedule", "calendar") in schema.actions


@pytest.mark.parametrize("example", _examples(), ids=lambda e: e["name"])
def test_documented_examples_validate(example: dict[str, Any]) -> None:
    """learn.microsoft.com's Create event samples, requests and responses alike; the one
    published response that spells a property "OnlineMeeting" is reported for exactly that."""
    problems = validate(example["body"], "event", mode=Mode(example["mode"]))
    assert problems == example.get("known_problems", [])


@pytest.mark.parametrize(
    ("change", "problem"),
    [
        (lambda b: b.update(subjet="x"), "event.subjet: no property 'subjet'"),
        (
            lambda b: b.update(Subject="x"),
            "event.Subject: no property 'Subject' on microsoft.graph.event (the metadata spells "
            "it 'subject')",
        ),
        (lambda b: b.update(isAllDay="false"), "event.isAllDay: expected true or false"),
        (
            lambda b: b.update(reminderMinutesBeforeStart=True),
            "event.reminderMinutesBeforeStart: expected an integer",
        ),
        (
            lambda b: b.update(reminderMinutesBeforeStart=2**31),
            "event.reminderMinutesBeforeStart: integer out of range",
        ),
        (lambda b: b.update(subject=42), "event.subject: expected a string"),
        (
            lambda b: b.update(showAs="away"),
            "event.showAs: 'away' is not a member of freeBusyStatus",
        ),
        (lambda b: b.update(attendees=None), "event.attendees: expected an array"),
        (lambda b: b.update(attendees={"emailAddress": {}}), "event.attendees: expected an array"),
        (
            lambda b: b["attendees"][0]["emailAddress"].update(mail="x@y"),
            "event.attendees[0].emailAddress.mail: no property 'mail' on "
            "microsoft.graph.emailAddress",
        ),
        (
            lambda b: b["start"].update(dateTime=None),
            "event.start.dateTime: null, but dateTimeTimeZone.dateTime is not nullable",
        ),
        (
            lambda b: b["start"].update(dateTime="2017-04-15T12:00:00Z"),
            "event.start.dateTime: expected a local {date}T{time} without offset",
        ),
        (
            lambda b: b["start"].update(dateTime="15/04/2017 12:00"),
            "event.start.dateTime: expected a local {date}T{time}",
        ),
        (lambda b: b.update(body="text"), "event.body: expected a microsoft.graph.itemBody object"),
        (
            lambda b: b.update(singleValueExtendedProperties=[{"id": "String {x} Name k", "v": 1}]),
            "event.singleValueExtendedProperties[0].v: no property 'v'",
        ),
    ],
)
def test_broken_requests_are_reported(change: Any, problem: str) -> None:
    body = _example("user-post-events request 1")
    change(body)
    problems = validate(body, "event", mode=Mode.REQUEST)
    assert len(problems) == 1 and problems[0].startswith(problem), problems


def test_recurrence_is_checked_to_the_bottom() -> None:
    body = _example("user-post-events request 3")
    body["recurrence"]["pattern"].update(index="fifth", interval=None, dayOfWeek=["monday"])
    body["recurrence"]["range"].update(startDate="2017-02-30", type="until")
    assert sorted(validate(body, "event")) == [
        "event.recurrence.pattern.dayOfWeek: no property 'dayOfWeek' on "
        "microsoft.graph.recurrencePattern",
        "event.recurrence.pattern.index: 'fifth' is not a member of weekIndex "
        "(first, second, third, fourth, last)",
        "event.recurrence.pattern.interval: null, but recurrencePattern.interval is not nullable",
        "event.recurrence.range.startDate: expected an Edm.Date YYYY-MM-DD, got '2017-02-30'",
        "event.recurrence.range.type: 'until' is not a member of recurrenceRangeType "
        "(endDate, noEnd, numbered)",
    ]


def test_enum_case_is_forgiven_in_requests_only() -> None:
    """The documented request sends "HTML" and "Required"; Graph answers "html"."""
    request = _example("user-post-events request 2")
    assert validate(request, mode=Mode.REQUEST) == []
    answer = _example("user-post-events response 1")
    answer["body"]["contentType"] = "HTML"
    assert validate(answer, mode=Mode.RESPONSE) == [
        "event.body.contentType: 'HTML' is not a member of bodyType (text, html)"
    ]


@pytest.mark.parametrize(
    ("value", "valid"),
    [
        ("0001-01-01T00:00:00Z", True),
        ("2017-07-31T18:58:34.3298022Z", True),  # Graph's 7 fractional digits
        ("2017-04-15T03:00:50.7579581+02:00", True),
        ("2017-04-15T03:00", False),  # no zone designator
        ("2017-04-15 03:00:00Z", False),
        ("2017-13-15T03:00:00Z", False),
        ("2017-04-15T24:00:00Z", False),
        (1492225250, False),
    ],
)
def test_date_time_offsets(value: Any, valid: bool) -> None:
    answer = _example("user-post-events response 1")
    answer["responseStatus"]["time"] = value
    assert (validate(answer, mode=Mode.RESPONSE) == []) is valid


def test_annotations_and_derived_types() -> None:
    body = _example("user-post-events request 1")
    body["@odata.type"] = "#microsoft.graph.event"
    body["attendees@odata.type"] = "#Collection(microsoft.graph.attendee)"
    body["extensions"] = [
        {"@odata.type": "microsoft.graph.openTypeExtension", "extensionName": "x", "any": 1}
    ]
    assert validate(body) == []
    body["extensions"] = [{"extensionName": "x"}]
    assert validate(body) == [
        "event.extensions[0]: extension is abstract: name a derived type in @odata.type"
    ]
    body["extensions"] = [{"@odata.type": "#microsoft.graph.attendee"}]
    assert validate(body)[0].endswith("'#microsoft.graph.attendee' does not derive from extension")
    del body["extensions"]
    body["subjet@odata.type"] = "String"
    assert validate(body) == ["event.subjet@odata.type: annotates 'subjet', which event lacks"]


def test_other_types_and_pages() -> None:
    settings = {
        "timeZone": "Pacific Standard Time",
        "workingHours": {
            "daysOfWeek": ["monday", "friday"],
            "startTime": "08:00:00.0000000",
            "endTime": "17:00:00.0000000",
            "timeZone": {"@odata.type": "#microsoft.graph.customTimeZone", "name": "x", "bias": 0},
        },
    }
    assert validate(settings, "mailboxSettings", mode=Mode.RESPONSE) == []
    settings["workingHours"]["startTime"] = "8am"
    assert validate(settings, "mailboxSettings", mode=Mode.RESPONSE) == [
        "mailboxSettings.workingHours.startTime: expected an Edm.TimeOfDay hh:mm[:ss[.f]], "
        "got '8am'"
    ]


def test_action_parameters_take_the_metadata_or_the_documented_spelling() -> None:
    """Metadata: "Comment", "Schedules"...; docs: "comment", "schedules"... (event-cancel,
    calendar-getschedule). Any other name is refused."""
    assert validate_action({"Comment": "Sorry"}, "cancel", "event") == []
    assert validate_action({"comment": "Sorry"}, "cancel", "event") == []
    assert validate_action(None, "cancel", "event") == []
    assert validate_action({"reason": "Sorry"}, "cancel", "event") == [
        "event.cancel.reason: no parameter 'reason' (the action takes Comment)"
    ]
    assert validate_action({"comment": 3}, "cancel", "event") == [
        "event.cancel.comment: expected a string"
    ]
    schedule = {
        "schedules": ["adelev@contoso.example"],
        "startTime": {"dateTime": "2019-03-15T09:00:00", "timeZone": "Pacific Standard Time"},
        "endTime": {"dateTime": "2019-03-15T18:00:00", "timeZone": "Pacific Standard Time"},
        "availabilityViewInterval": 60,
    }
    assert validate_action(schedule, "getSchedule", "calendar") == []
    schedule["AvailabilityViewInterval"] = "60"
    assert validate_action(schedule, "getSchedule", "calendar") == [
        "calendar.getSchedule.AvailabilityViewInterval: expected an integer"
    ]
