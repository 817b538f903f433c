"""Events: create and dedupe, extended properties, paging, time zones, update, cancel, delete."""

from __future__ import annotations

from urllib.parse import parse_qs, urlparse

from syncd.sandbox import RunningSandbox
from syncd.sandbox.microsoft.directory import DirectoryUser

from .helpers import Graph, attendee, event_body

PROP = "String {66f5a359-4659-4830-9070-00047ec6ac6e} Name syncdKey"


def test_create_returns_the_full_event(graph: Graph, people: list[DirectoryUser]) -> None:
    organizer, guest = people[0], people[1]
    response = graph.post(
        f"/users/{organizer.email}/events",
        json=event_body(
            attendees=[attendee(guest)],
            isOnlineMeeting=True,
            onlineMeetingProvider="teamsForBusiness",
        ),
    )
    assert response.status_code == 201
    event = response.json()
    assert event["@odata.etag"] == f'W/"{event["changeKey"]}"'
    assert event["organizer"]["emailAddress"]["address"] == organizer.email
    assert event["isOrganizer"] is True
    assert event["responseStatus"]["response"] == "organizer"
    assert event["attendees"] == [
        {
            "type": "required",
            "status": {"response": "none", "time": "0001-01-01T00:00:00Z"},
            "emailAddress": {"name": guest.email, "address": guest.email},
        }
    ]
    assert event["type"] == "singleInstance"
    assert event["body"]["contentType"] == "html"
    assert event["bodyPreview"] == "Agenda attached"
    assert event["location"]["displayName"] == "Room 1"
    assert event["locations"][0]["displayName"] == "Room 1"
    assert event["onlineMeeting"]["joinUrl"].startswith(
        "https://teams.microsoft.com/l/meetup-join/19%3ameeting_"
    )
    assert "transactionId" not in event  # only returned when the app set it
    assert "singleValueExtendedProperties" not in event


def test_a_repeated_transaction_id_returns_the_first_event(
    sandbox: RunningSandbox, graph: Graph, people: list[DirectoryUser]
) -> None:
    mailbox = people[0].email
    payload = event_body(transactionId="sf-00U1-attempt", attendees=[attendee(people[1])])
    first = graph.post(f"/users/{mailbox}/events", json=payload)
    second = graph.post(f"/users/{mailbox}/events", json=payload)
    assert first.status_code == second.status_code == 201
    assert first.json()["id"] == second.json()["id"]
    assert second.json()["transactionId"] == "sf-00U1-attempt"
    assert len(sandbox.calendars.events(people[0].id)) == 1
    assert len(sandbox.calendars.events(people[1].id)) == 1  # one invitation, not two


def test_extended_property_filter_finds_the_event(
    graph: Graph, people: list[DirectoryUser]
) -> None:
    mailbox = people[0].email
    for key in ("00U-A", "00U-B"):
        graph.post(
            f"/users/{mailbox}/events",
            json=event_body(key, singleValueExtendedProperties=[{"id": PROP, "value": key}]),
        )
    found = graph.get(
        f"/users/{mailbox}/events",
        params={
            "$filter": f"singleValueExtendedProperties/Any(ep: ep/id eq '{PROP}' "
            "and ep/value eq '00u-b')",
            "$expand": f"singleValueExtendedProperties($filter=id eq '{PROP}')",
            "$select": "subject,start",
        },
    )
    assert found.status_code == 200
    [event] = found.json()["value"]
    assert event["subject"] == "00U-B"
    assert set(event) == {"@odata.etag", "id", "subject", "start", "singleValueExtendedProperties"}
    assert event["singleValueExtendedProperties"] == [{"id": PROP, "value": "00U-B"}]
    # The documented lower-case form works too; other filters are refused.
    lower = graph.get(
        f"/users/{mailbox}/events",
        params={
            "$filter": f"singleValueExtendedProperties/any(ep:ep/Id eq '{PROP}' and "
            "ep/Value eq '00U-A')"
        },
    )
    assert [e["subject"] for e in lower.json()["value"]] == ["00U-A"]
    refused = graph.get(f"/users/{mailbox}/events", params={"$filter": "subject eq 'x'"})
    assert refused.status_code == 400
    assert refused.json()["error"]["code"] == "ErrorInvalidUrlQueryFilter"


def test_get_expands_an_extended_property_only_when_asked(
    graph: Graph, people: list[DirectoryUser]
) -> None:
    mailbox = people[0].email
    created = graph.post(
        f"/users/{mailbox}/events",
        json=event_body(singleValueExtendedProperties=[{"id": PROP, "value": "k1"}]),
    ).json()
    plain = graph.get(f"/users/{mailbox}/events/{created['id']}").json()
    assert "singleValueExtendedProperties" not in plain
    expanded = graph.get(
        f"/users/{mailbox}/events/{created['id']}",
        params={"$expand": f"singleValueExtendedProperties($filter=id eq '{PROP}')"},
    ).json()
    assert expanded["singleValueExtendedProperties"] == [{"id": PROP, "value": "k1"}]


def test_list_pages_with_next_link(graph: Graph, people: list[DirectoryUser]) -> None:
    mailbox = people[0].email
    for number in range(12):
        graph.post(f"/users/{mailbox}/events", json=event_body(f"event {number}"))
    first = graph.get(f"/users/{mailbox}/events").json()
    assert len(first["value"]) == 10  # Outlook's default page size
    next_link = first["@odata.nextLink"]
    assert next_link.startswith(graph.base + f"/users/{mailbox}/events?")
    assert "$skiptoken" in parse_qs(urlparse(next_link).query)
    second = graph.get(next_link).json()
    assert [e["subject"] for e in second["value"]] == ["event 10", "event 11"]
    assert "@odata.nextLink" not in second
    small = graph.get(f"/users/{mailbox}/events", params={"$top": "5", "$select": "subject"})
    pages = [small.json()]
    while "@odata.nextLink" in pages[-1]:
        pages.append(graph.get(pages[-1]["@odata.nextLink"]).json())
    assert [len(p["value"]) for p in pages] == [5, 5, 2]
    assert set(pages[-1]["value"][0]) == {"@odata.etag", "id", "subject"}


def test_times_come_back_in_utc_unless_prefer_says_otherwise(
    graph: Graph, people: list[DirectoryUser]
) -> None:
    mailbox = people[0].email
    created = graph.post(f"/users/{mailbox}/events", json=event_body())
    # The create answer keeps the zone the client sent (user-post-events, example 3).
    assert created.json()["start"] == {
        "dateTime": "2031-03-10T09:00:00.0000000",
        "timeZone": "W. Europe Standard Time",
    }
    event_id = created.json()["id"]
    plain = graph.get(f"/users/{mailbox}/events/{event_id}")
    assert plain.json()["start"] == {"dateTime": "2031-03-10T08:00:00.0000000", "timeZone": "UTC"}
    assert "Preference-Applied" not in plain.headers
    pacific = graph.get(
        f"/users/{mailbox}/events/{event_id}",
        headers={"Prefer": 'outlook.timezone="Pacific Standard Time"'},
    )
    assert pacific.json()["start"] == {
        "dateTime": "2031-03-10T01:00:00.0000000",
        "timeZone": "Pacific Standard Time",
    }
    assert pacific.headers["Preference-Applied"] == 'outlook.timezone="Pacific Standard Time"'
    utc = graph.get(
        f"/users/{mailbox}/events/{event_id}", headers={"Prefer": 'outlook.timezone="UTC"'}
    )
    assert utc.json()["end"]["dateTime"] == "2031-03-10T09:00:00.0000000"
    assert utc.json()["originalStartTimeZone"] == "W. Europe Standard Time"


def test_patch_changes_only_what_is_given(graph: Graph, people: list[DirectoryUser]) -> None:
    mailbox = people[0].email
    created = graph.post(
        f"/users/{mailbox}/events", json=event_body(attendees=[attendee(people[1])])
    ).json()
    updated = graph.patch(
        f"/users/{mailbox}/events/{created['id']}",
        json={"subject": "Renamed", "attendees": [attendee(people[2]), attendee("x@ext.example")]},
    )
    assert updated.status_code == 200
    body = updated.json()
    assert body["subject"] == "Renamed"
    assert body["changeKey"] != created["changeKey"]
    assert body["start"] == created["start"]
    assert body["location"] == created["location"]
    assert [a["emailAddress"]["address"] for a in body["attendees"]] == [
        people[2].email,
        "x@ext.example",
    ]
    # The removed attendee's copy is cancelled, the new one has an invitation.
    dropped = graph.get(f"/users/{people[1].email}/events").json()["value"]
    assert [e["isCancelled"] for e in dropped] == [True]
    added = graph.get(f"/users/{people[2].email}/events").json()["value"]
    assert [e["subject"] for e in added] == ["Renamed"]


def test_cancel_removes_the_meeting_and_cancels_copies(
    graph: Graph, people: list[DirectoryUser]
) -> None:
    organizer, guest = people[0], people[1]
    created = graph.post(
        f"/users/{organizer.email}/events", json=event_body(attendees=[attendee(guest)])
    ).json()
    [guest_copy] = graph.get(f"/users/{guest.email}/events").json()["value"]
    assert guest_copy["isOrganizer"] is False
    refused = graph.post(f"/users/{guest.email}/events/{guest_copy['id']}/cancel", json={})
    assert refused.status_code == 400
    cancelled = graph.post(
        f"/users/{organizer.email}/events/{created['id']}/cancel", json={"comment": "Sorry"}
    )
    assert cancelled.status_code == 202
    assert cancelled.content == b""
    gone = graph.get(f"/users/{organizer.email}/events/{created['id']}")
    assert gone.status_code == 404
    assert gone.json()["error"]["code"] == "ErrorItemNotFound"
    assert graph.get(f"/users/{organizer.email}/events").json()["value"] == []
    copy = graph.get(f"/users/{guest.email}/events/{guest_copy['id']}").json()
    assert copy["isCancelled"] is True


def test_delete_answers_204(graph: Graph, people: list[DirectoryUser]) -> None:
    mailbox = people[0].email
    created = graph.post(f"/users/{mailbox}/events", json=event_body()).json()
    assert graph.delete(f"/users/{mailbox}/events/{created['id']}").status_code == 204
    assert graph.delete(f"/users/{mailbox}/events/{created['id']}").status_code == 404


def test_calendar_view_lists_the_window(graph: Graph, people: list[DirectoryUser]) -> None:
    mailbox = people[0].email
    for day in (9, 10, 11, 12):
        graph.post(
            f"/users/{mailbox}/events",
            json=event_body(
                f"day {day}",
                start={"dateTime": f"2031-03-{day}T09:00:00", "timeZone": "UTC"},
                end={"dateTime": f"2031-03-{day}T10:00:00", "timeZone": "UTC"},
            ),
        )
    view = graph.get(
        f"/users/{mailbox}/calendarView",
        params={
            "startDateTime": "2031-03-10T00:00:00Z",
            "endDateTime": "2031-03-12T00:00:00Z",
            "$top": "1",
        },
    )
    first = view.json()
    assert [e["subject"] for e in first["value"]] == ["day 10"]
    second = graph.get(first["@odata.nextLink"]).json()
    assert [e["subject"] for e in second["value"]] == ["day 11"]
    missing = graph.get(f"/users/{mailbox}/calendarView")
    assert missing.status_code == 400


def test_user_errors(sandbox: RunningSandbox, graph: Graph) -> None:
    unlicensed = next(u for u in sandbox.tenant("Contoso").users if not u.has_mailbox)
    no_mailbox = graph.get(f"/users/{unlicensed.email}/events")
    assert no_mailbox.status_code == 404
    assert no_mailbox.json()["error"]["code"] == "MailboxNotEnabledForRESTAPI"
    assert graph.get(f"/users/{unlicensed.id}").status_code == 200  # still a directory user
    unknown = graph.get("/users/nobody@contoso.example/events")
    assert unknown.json()["error"]["code"] == "ErrorInvalidUser"
    assert graph.get("/users/nobody@contoso.example").json()["error"]["code"] == (
        "Request_ResourceNotFound"
    )
    assert graph.get("/me/events").status_code == 400


def test_users_are_addressed_by_id_or_address_in_any_case(
    graph: Graph, people: list[DirectoryUser]
) -> None:
    user = people[0]
    for key in (user.id, user.email, user.email.upper()):
        assert graph.get(f"/users/{key}").json()["userPrincipalName"] == user.email


def test_access_policy_blocks_a_mailbox(
    sandbox: RunningSandbox, graph: Graph, people: list[DirectoryUser]
) -> None:
    sandbox.access_policy.deny(people[3].email)
    blocked = graph.get(f"/users/{people[3].id}/events")
    assert blocked.status_code == 403
    assert blocked.json()["error"]["code"] == "ErrorAccessDenied"
    assert graph.get(f"/users/{people[4].id}/events").status_code == 200


def test_bad_payloads_are_400(graph: Graph, people: list[DirectoryUser]) -> None:
    mailbox = people[0].email
    typo = graph.post(f"/users/{mailbox}/events", json=event_body(subjet="x"))
    assert typo.json()["error"]["code"] == "RequestBodyRead"
    zone = event_body(start={"dateTime": "2031-01-01T10:00:00", "timeZone": "Mars/Olympus"})
    assert graph.post(f"/users/{mailbox}/events", json=zone).json()["error"]["code"] == (
        "TimeZoneNotSupportedException"
    )
    broken = graph.post(
        f"/users/{mailbox}/events", data=b"{not json", headers={"Content-Type": "application/json"}
    )
    assert broken.status_code == 400
    select = graph.get(f"/users/{mailbox}/events", params={"$select": "nosuchthing"})
    assert select.status_code == 400


def test_orderby_start(graph: Graph, people: list[DirectoryUser]) -> None:
    mailbox = people[0].email
    for day in (12, 10, 11):
        graph.post(
            f"/users/{mailbox}/events",
            json=event_body(
                f"day {day}",
                start={"dateTime": f"2031-03-{day}T09:00:00", "timeZone": "UTC"},
                end={"dateTime": f"2031-03-{day}T10:00:00", "timeZone": "UTC"},
            ),
        )
    ordered = graph.get(f"/users/{mailbox}/events", params={"$orderby": "start/dateTime desc"})
    assert [e["subject"] for e in ordered.json()["value"]] == ["day 12", "day 11", "day 10"]
    refused = graph.get(f"/users/{mailbox}/events", params={"$orderby": "importance"})
    assert refused.status_code == 400
