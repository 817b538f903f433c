"""The Graph port's contract: what syncd relies on, held true on every backend.

The same functions run on MemoryGraph, on GraphClient against the sandbox over HTTPS
and (opt-in) on GraphClient against a real tenant. They assert meaning (instants,
text, ids, error codes), not bytes: Graph may render a body as HTML or a time with
more digits, and syncd reads both.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import pytest

from syncd.core import event_mapping as em
from syncd.core.recurrence_mapping import zone_info
from syncd.domain import ErrorCode, SyncdError
from tests.contract.backends import MISSING_EVENT_ID, GraphBackend
from tests.support import suite_now

KEY = em.EXTERNAL_KEY_PROPERTY_ID


def at(days: int, hour: int = 14) -> datetime:
    """A whole hour `days` after the suite's instant (the future on any backend)."""
    return (suite_now() + timedelta(days=days)).replace(
        hour=hour, minute=0, second=0, microsecond=0
    )


def payload(
    graph: GraphBackend, name: str, start: datetime, *, minutes: int = 60, **extra: Any
) -> dict[str, Any]:
    key = f"contract:{name}:{graph.nonce}"
    return {
        "subject": f"Contract {name}",
        "body": {"contentType": "text", "content": "Agenda to follow."},
        "start": {"dateTime": start.strftime("%Y-%m-%dT%H:%M:%S"), "timeZone": "UTC"},
        "end": {
            "dateTime": (start + timedelta(minutes=minutes)).strftime("%Y-%m-%dT%H:%M:%S"),
            "timeZone": "UTC",
        },
        "location": {"displayName": "Room 4"},
        "attendees": [{"emailAddress": {"address": graph.attendee}, "type": "required"}],
        "transactionId": em.transaction_id("contract", "api", key, 0),
        "singleValueExtendedProperties": [{"id": KEY, "value": key}],
        **extra,
    }


def instant(value: Any) -> datetime | None:
    return em.parse_graph_time(value)


def code_of(call: Any) -> ErrorCode:
    with pytest.raises(SyncdError) as caught:
        call()
    return caught.value.code


def test_create_answers_the_event_in_utc_and_a_retried_post_makes_no_second_one(
    graph: GraphBackend,
) -> None:
    start = at(30)
    body = payload(graph, "create", start)

    created = graph.create(graph.organizer, body)
    again = graph.create(graph.organizer, body)  # the POST retried with its transactionId

    assert again["id"] == created["id"]
    assert created["changeKey"]
    assert created["start"]["timeZone"] == "UTC" and instant(created["start"]) == start
    assert instant(created["end"]) == start + timedelta(hours=1)
    assert created["subject"] == "Contract create"
    assert [a["emailAddress"]["address"].lower() for a in created["attendees"]] == [
        graph.attendee.lower()
    ]
    view = graph.port.calendar_view(
        graph.organizer, start - timedelta(hours=1), start + timedelta(hours=2)
    )
    assert [e["id"] for e in view] == [created["id"]]
    for nobody in filter(None, (graph.no_mailbox, graph.unknown)):
        assert code_of(lambda who=nobody: graph.port.create_event(who, body)) is (
            ErrorCode.MAILBOX_NOT_FOUND
        )


def test_the_syncd_key_finds_the_event_by_its_exact_value(graph: GraphBackend) -> None:
    body = payload(graph, "find", at(31))
    created = graph.create(graph.organizer, body)
    key = body["singleValueExtendedProperties"][0]["value"]

    found = graph.port.find_event_by_property(graph.organizer, KEY, key)

    assert found is not None and found["id"] == created["id"]
    assert graph.port.find_event_by_property(graph.organizer, KEY, key + "-other") is None
    assert graph.port.find_event_by_property(graph.attendee, KEY, key + "-other") is None
    assert code_of(lambda: graph.port.find_event_by_property(graph.unknown, KEY, key)) is (
        ErrorCode.MAILBOX_NOT_FOUND
    )


def test_get_reads_the_event_and_select_narrows_it(graph: GraphBackend) -> None:
    start = at(32)
    created = graph.create(graph.organizer, payload(graph, "get", start))

    event = graph.port.get_event(graph.organizer, created["id"])
    narrow = graph.port.get_event(graph.organizer, created["id"], select=["attendees", "changeKey"])

    assert event["id"] == created["id"] and instant(event["start"]) == start
    assert "Agenda to follow." in event["body"]["content"]
    assert event["location"]["displayName"] == "Room 4"
    assert event["changeKey"] == created["changeKey"]
    assert {"id", "attendees", "changeKey"} <= narrow.keys() and "subject" not in narrow
    assert code_of(lambda: graph.port.get_event(graph.organizer, MISSING_EVENT_ID)) is (
        ErrorCode.MEETING_NOT_FOUND
    )
    assert code_of(lambda: graph.port.get_event(graph.unknown, created["id"])) is (
        ErrorCode.MAILBOX_NOT_FOUND
    )


def test_update_changes_only_the_given_fields_and_the_change_key(graph: GraphBackend) -> None:
    start = at(33)
    created = graph.create(graph.organizer, payload(graph, "update", start))

    updated = graph.port.update_event(graph.organizer, created["id"], {"subject": "Moved on"})
    again = graph.port.update_event(
        graph.organizer,
        created["id"],
        {"attendees": [{"emailAddress": {"address": graph.organizer}, "type": "optional"}]},
    )

    assert updated["subject"] == "Moved on"
    assert updated["changeKey"] != created["changeKey"]
    assert again["changeKey"] not in (created["changeKey"], updated["changeKey"])
    event = graph.port.get_event(graph.organizer, created["id"])
    assert event["subject"] == "Moved on"
    assert event["location"]["displayName"] == "Room 4" and instant(event["start"]) == start
    assert [a["emailAddress"]["address"].lower() for a in event["attendees"]] == [
        graph.organizer.lower()
    ]
    assert (
        code_of(
            lambda: graph.port.update_event(graph.organizer, MISSING_EVENT_ID, {"subject": "x"})
        )
        is ErrorCode.MEETING_NOT_FOUND
    )


def test_a_teams_meeting_has_a_join_link_and_stays_online(graph: GraphBackend) -> None:
    teams: dict[str, Any] = {"isOnlineMeeting": True, "onlineMeetingProvider": "teamsForBusiness"}
    created = graph.create(graph.organizer, payload(graph, "teams", at(34), **teams))

    graph.port.update_event(graph.organizer, created["id"], {"isOnlineMeeting": False})

    assert em.join_url_of(created)
    event = graph.port.get_event(graph.organizer, created["id"])
    assert event["isOnlineMeeting"] is True
    assert em.join_url_of(event) == em.join_url_of(created)


def test_cancel_takes_the_meeting_away_and_its_key_with_it(graph: GraphBackend) -> None:
    body = payload(graph, "cancel", at(35))
    created = graph.create(graph.organizer, body)

    graph.port.cancel_event(graph.organizer, created["id"], "Cancelled in Salesforce")

    key = body["singleValueExtendedProperties"][0]["value"]
    assert code_of(lambda: graph.port.get_event(graph.organizer, created["id"])) is (
        ErrorCode.MEETING_NOT_FOUND
    )
    assert graph.port.find_event_by_property(graph.organizer, KEY, key) is None
    assert (
        code_of(lambda: graph.port.cancel_event(graph.organizer, created["id"], "again"))
        is ErrorCode.MEETING_NOT_FOUND
    )


def test_delete_takes_the_event_away_once(graph: GraphBackend) -> None:
    created = graph.create(graph.organizer, payload(graph, "delete", at(36), attendees=[]))

    graph.port.delete_event(graph.organizer, created["id"])

    assert code_of(lambda: graph.port.delete_event(graph.organizer, created["id"])) is (
        ErrorCode.MEETING_NOT_FOUND
    )
    assert code_of(lambda: graph.port.get_event(graph.organizer, created["id"])) is (
        ErrorCode.MEETING_NOT_FOUND
    )


def test_calendar_view_lists_what_overlaps_the_window_in_start_order(
    graph: GraphBackend,
) -> None:
    base = at(40, hour=9)
    late = graph.create(graph.organizer, payload(graph, "view-late", base + timedelta(hours=4)))
    early = graph.create(graph.organizer, payload(graph, "view-early", base))
    graph.create(graph.organizer, payload(graph, "view-out", base + timedelta(days=2)))

    view = graph.port.calendar_view(
        graph.organizer, base + timedelta(minutes=30), base + timedelta(hours=5), select=["subject"]
    )

    assert [e["id"] for e in view] == [early["id"], late["id"]]
    assert [e["subject"] for e in view] == ["Contract view-early", "Contract view-late"]
    assert code_of(lambda: graph.port.calendar_view(graph.organizer, base, base)) is (
        ErrorCode.INVALID_REQUEST
    )
    assert (
        code_of(lambda: graph.port.calendar_view(graph.unknown, base, base + timedelta(hours=1)))
        is ErrorCode.MAILBOX_NOT_FOUND
    )


def test_events_batch_answers_each_item_in_order(graph: GraphBackend) -> None:
    first = graph.create(graph.organizer, payload(graph, "batch-1", at(41)))
    second = graph.create(graph.attendee, payload(graph, "batch-2", at(42)))

    answers = graph.port.get_events_batch(
        [
            (graph.organizer, first["id"]),
            (graph.attendee, second["id"]),
            (graph.organizer, MISSING_EVENT_ID),
        ],
        select=["subject", "start"],
    )

    assert [a.status for a in answers] == [200, 200, 404]
    assert [a.body["id"] for a in answers[:2]] == [first["id"], second["id"]]
    assert instant(answers[0].body["start"]) == at(41)
    assert answers[2].body["error"]["code"] == "ErrorItemNotFound"


def weekly(start: datetime, count: int) -> dict[str, Any]:
    return {
        "pattern": {
            "type": "weekly",
            "interval": 1,
            "daysOfWeek": [start.strftime("%A").lower()],
            "firstDayOfWeek": "sunday",
        },
        "range": {
            "type": "numbered",
            "startDate": start.date().isoformat(),
            "numberOfOccurrences": count,
            "recurrenceTimeZone": "UTC",
        },
    }


def test_a_series_lists_its_instances_and_one_can_change_or_go(graph: GraphBackend) -> None:
    start = at(50, hour=10)
    master = graph.create(
        graph.organizer, payload(graph, "series", start, recurrence=weekly(start, 3))
    )
    window = (start - timedelta(days=1), start + timedelta(days=30))

    instances = graph.port.list_instances(graph.organizer, master["id"], *window)

    assert [instant(i["start"]) for i in instances] == [
        start + timedelta(weeks=n) for n in range(3)
    ]
    assert {i["type"] for i in instances} == {"occurrence"}
    assert {i["seriesMasterId"] for i in instances} == {master["id"]}
    assert [em.parse_graph_time({"dateTime": i["originalStart"][:19], "timeZone": "UTC"})
            for i in instances] == [start + timedelta(weeks=n) for n in range(3)]  # fmt: skip
    second, third = instances[1]["id"], instances[2]["id"]

    graph.port.update_event(graph.organizer, second, {"subject": "Just this once"})
    graph.port.delete_event(graph.organizer, third)

    after = graph.port.list_instances(graph.organizer, master["id"], *window)
    assert [i["type"] for i in after] == ["occurrence", "exception"]
    assert after[1]["subject"] == "Just this once" and after[0]["subject"] == "Contract series"
    assert graph.port.get_event(graph.organizer, second)["subject"] == "Just this once"
    view = graph.port.calendar_view(graph.organizer, *window)
    assert [e["id"] for e in view] == [i["id"] for i in after]


def test_mailbox_time_zone_is_a_zone_syncd_can_use(graph: GraphBackend) -> None:
    zone = graph.port.mailbox_time_zone(graph.organizer)

    assert zone_info(zone) is not None
    expected = graph.zone_of(graph.organizer)
    if expected is not None:
        assert zone == expected
    assert code_of(lambda: graph.port.mailbox_time_zone(graph.unknown)) is (
        ErrorCode.MAILBOX_NOT_FOUND
    )
    if graph.no_mailbox is not None:
        assert code_of(lambda: graph.port.mailbox_time_zone(graph.no_mailbox)) is (
            ErrorCode.MAILBOX_NOT_FOUND
        )


def test_free_busy_shows_the_organizers_meeting_and_an_error_per_unknown_address(
    graph: GraphBackend,
) -> None:
    day = at(60, hour=0)
    busy = day + timedelta(hours=9)
    graph.create(graph.organizer, payload(graph, "busy", busy, attendees=[]))

    mine, nobody = graph.port.get_schedule(
        graph.organizer, [graph.organizer, graph.unknown], day, day + timedelta(days=1)
    )

    assert mine["scheduleId"] == graph.organizer and "error" not in mine
    assert len(mine["availabilityView"]) == 48  # 30-minute slots
    assert mine["availabilityView"][18:20] == "22" and set(mine["availabilityView"][:18]) == {"0"}
    assert [(instant(i["start"]), i["status"]) for i in mine["scheduleItems"]] == [(busy, "busy")]
    assert nobody["scheduleId"] == graph.unknown and "error" in nobody
    assert graph.port.get_schedule(graph.organizer, [], day, day + timedelta(days=1)) == []
    assert (
        code_of(
            lambda: graph.port.get_schedule(
                graph.unknown, [graph.organizer], day, day + timedelta(hours=1)
            )
        )
        is ErrorCode.MAILBOX_NOT_FOUND
    )
