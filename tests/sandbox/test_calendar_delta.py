"""calendarView delta over HTTPS: pages and state tokens, changes and @removed, expiry, $batch.

What each test holds the sandbox to is documented at
https://learn.microsoft.com/graph/api/event-delta and
https://learn.microsoft.com/graph/delta-query-events (see syncd/sandbox/microsoft/delta.py).
"""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import requests

from syncd.sandbox import RunningSandbox
from syncd.sandbox.microsoft.directory import DirectoryUser

from .helpers import Graph, attendee, event_body

WINDOW = "startDateTime=2031-03-01T00:00:00Z&endDateTime=2031-04-01T00:00:00Z"


def at(day: int, hour: int = 9, *, month: int = 3) -> dict[str, Any]:
    """A slot in UTC on a day of March 2031 (inside the window) or another month."""
    return {
        "start": {"dateTime": f"2031-{month:02d}-{day:02d}T{hour:02d}:00:00", "timeZone": "UTC"},
        "end": {"dateTime": f"2031-{month:02d}-{day:02d}T{hour + 1:02d}:00:00", "timeZone": "UTC"},
    }


def make(graph: Graph, mailbox: str, subject: str, day: int, **extra: Any) -> dict[str, Any]:
    response = graph.post(
        f"/users/{mailbox}/events", json=event_body(subject, **{**at(day), **extra})
    )
    assert response.status_code == 201, response.text
    return dict(response.json())


def round_of(graph: Graph, url: str, page_size: int | None = None) -> dict[str, Any]:
    """Follow a round from `url` to its deltaLink: every page's entries and the links seen."""
    headers = {"Prefer": f"odata.maxpagesize={page_size}"} if page_size else {}
    pages: list[list[dict[str, Any]]] = []
    links: list[str] = []
    while True:
        response = graph.get(url, headers=headers)
        assert response.status_code == 200, response.text
        body = response.json()
        pages.append(body["value"])
        if "@odata.deltaLink" in body:
            assert "@odata.nextLink" not in body
            links.append(body["@odata.deltaLink"])
            entries = [e for page in pages for e in page]
            return {
                "pages": pages,
                "links": links,
                "delta_link": body["@odata.deltaLink"],
                "changed": {e["id"]: e for e in entries if "@removed" not in e},
                "removed": [e for e in entries if "@removed" in e],
                "headers": response.headers,
            }
        links.append(body["@odata.nextLink"])
        url = body["@odata.nextLink"]


def admin(
    graph: Graph, sandbox: RunningSandbox, method: str, path: str, **kwargs: Any
) -> requests.Response:
    """The sandbox's control API (over HTTP, as an operator steers it)."""
    return graph.session.request(method, f"{sandbox.base_url}/_sandbox{path}", **kwargs)


def first_url(mailbox: str) -> str:
    return f"/users/{mailbox}/calendarView/delta?{WINDOW}"


def test_the_first_round_pages_every_event_of_the_window_then_hands_out_a_delta_link(
    graph: Graph, people: list[DirectoryUser]
) -> None:
    mailbox = people[0].email
    inside = [make(graph, mailbox, f"Inside {n}", 3 + n)["id"] for n in range(5)]
    make(graph, mailbox, "April", 3, **at(3, month=4))

    done = round_of(graph, first_url(mailbox), page_size=2)

    assert [len(page) for page in done["pages"]] == [2, 2, 1]
    assert sorted(done["changed"]) == sorted(inside)
    assert done["removed"] == []
    for link in done["links"][:-1]:
        query = parse_qs(urlsplit(link).query)
        # The window is encoded in the opaque token, not repeated in the link.
        assert set(query) == {"$skiptoken"}
    assert set(parse_qs(urlsplit(done["delta_link"]).query)) == {"$deltatoken"}
    assert done["delta_link"].startswith(graph.base + f"/users/{mailbox}/calendarView/delta?")
    assert "odata.maxpagesize=2" in done["headers"]["Preference-Applied"]
    event = done["changed"][inside[0]]
    assert event["@odata.type"] == "#microsoft.graph.event"
    assert event["start"] == {"dateTime": "2031-03-03T09:00:00.0000000", "timeZone": "UTC"}


def test_without_maxpagesize_a_page_holds_ten_events(
    graph: Graph, people: list[DirectoryUser]
) -> None:
    mailbox = people[0].email
    for n in range(12):
        make(graph, mailbox, f"Many {n}", 2 + n)
    assert [len(page) for page in round_of(graph, first_url(mailbox))["pages"]] == [10, 2]


def test_times_follow_prefer_outlook_timezone(graph: Graph, people: list[DirectoryUser]) -> None:
    mailbox = people[0].email
    make(graph, mailbox, "Zoned", 10)
    response = graph.get(
        first_url(mailbox), headers={"Prefer": 'outlook.timezone="W. Europe Standard Time"'}
    )
    (event,) = response.json()["value"]
    assert event["start"] == {
        "dateTime": "2031-03-10T10:00:00.0000000",
        "timeZone": "W. Europe Standard Time",
    }


@pytest.mark.parametrize(
    ("query", "status", "code"),
    [
        ("", 400, "ErrorInvalidParameter"),
        ("startDateTime=2031-03-01T00:00:00Z", 400, "ErrorInvalidParameter"),
        (f"{WINDOW}&$select=subject", 400, "BadRequest"),
        (f"{WINDOW}&$filter=subject eq 'x'", 400, "BadRequest"),
        (f"{WINDOW}&$orderby=start/dateTime", 400, "BadRequest"),
        ("$deltatoken=never-handed-out", 410, "syncStateNotFound"),
        ("$skiptoken=never-handed-out", 410, "syncStateNotFound"),
    ],
)
def test_what_the_service_refuses(
    graph: Graph, people: list[DirectoryUser], query: str, status: int, code: str
) -> None:
    response = graph.get(f"/users/{people[0].email}/calendarView/delta?{query}")
    assert response.status_code == status
    assert response.json()["error"]["code"] == code


def test_the_next_round_holds_what_changed_and_removed_entries_for_what_left(
    graph: Graph, people: list[DirectoryUser]
) -> None:
    mailbox = people[0].email
    events = {name: make(graph, mailbox, name, day) for day, name in enumerate("ABCDEFGIJ", 3)}
    first = round_of(graph, first_url(mailbox))
    path = f"/users/{mailbox}/events/"

    graph.patch(path + events["A"]["id"], json={"subject": "A renamed"})
    graph.patch(path + events["B"]["id"], json=at(20, 15))  # moved, still inside
    graph.patch(path + events["C"]["id"], json=at(2, month=5))  # moved out of the window
    graph.patch(path + events["D"]["id"], json={"location": {"displayName": "Room 9"}})
    assert graph.delete(path + events["E"]["id"]).status_code == 204
    assert graph.post(path + events["F"]["id"] + "/cancel", json={}).status_code == 202
    graph.patch(path + events["I"]["id"], json={"body": {"contentType": "text", "content": "New"}})
    graph.patch(path + events["J"]["id"], json={"attendees": [attendee(people[2])]})
    new = make(graph, mailbox, "H", 25)
    second = round_of(graph, first["delta_link"], page_size=3)

    assert set(second["changed"]) == {events[n]["id"] for n in "ABDIJ"} | {new["id"]}
    assert second["changed"][events["A"]["id"]]["subject"] == "A renamed"
    assert second["changed"][events["B"]["id"]]["start"]["dateTime"].startswith("2031-03-20T15")
    assert second["changed"][events["D"]["id"]]["location"]["displayName"] == "Room 9"
    assert "New" in second["changed"][events["I"]["id"]]["body"]["content"]
    assert [
        a["emailAddress"]["address"] for a in second["changed"][events["J"]["id"]]["attendees"]
    ] == [people[2].email]
    assert {e["id"] for e in second["removed"]} == {events[n]["id"] for n in "CEF"}
    assert all(e["@removed"] == {"reason": "deleted"} for e in second["removed"])
    assert set(second["removed"][0]) == {"@odata.type", "id", "@removed"}
    for name in "ABDIJ":  # each write gave the event a new version
        changed = second["changed"][events[name]["id"]]
        assert changed["changeKey"] != first["changed"][events[name]["id"]]["changeKey"]
        assert changed["lastModifiedDateTime"] >= events[name]["lastModifiedDateTime"]

    third = round_of(graph, second["delta_link"])
    assert third["changed"] == {} and third["removed"] == []


def test_events_outside_the_window_that_changed_come_as_removed(
    graph: Graph, people: list[DirectoryUser]
) -> None:
    mailbox = people[0].email
    april = make(graph, mailbox, "April", 3, **at(3, month=4))
    first = round_of(graph, first_url(mailbox))
    graph.patch(f"/users/{mailbox}/events/{april['id']}", json={"subject": "Still April"})
    may = make(graph, mailbox, "May", 3, **at(3, month=5))

    second = round_of(graph, first["delta_link"])

    assert second["changed"] == {}
    assert {e["id"] for e in second["removed"]} == {april["id"], may["id"]}


def test_series_expand_to_occurrences_and_their_edits_show(
    graph: Graph, people: list[DirectoryUser]
) -> None:
    mailbox = people[0].email
    recurrence = {
        "pattern": {"type": "daily", "interval": 1},
        "range": {"type": "endDate", "startDate": "2031-03-10", "endDate": "2031-03-13"},
    }
    master = make(graph, mailbox, "Daily", 10, recurrence=recurrence)
    first = round_of(graph, first_url(mailbox))
    occurrences = sorted(first["changed"].values(), key=lambda e: e["start"]["dateTime"])
    assert [e["type"] for e in occurrences] == ["occurrence"] * 4
    assert master["id"] not in first["changed"]
    assert {e["seriesMasterId"] for e in occurrences} == {master["id"]}
    path = f"/users/{mailbox}/events/"

    assert graph.post(path + occurrences[0]["id"] + "/cancel", json={}).status_code == 202
    assert graph.delete(path + occurrences[1]["id"]).status_code == 204
    graph.patch(path + occurrences[2]["id"], json={"subject": "Just this one"})
    second = round_of(graph, first["delta_link"])

    assert {e["id"] for e in second["removed"]} == {occurrences[0]["id"], occurrences[1]["id"]}
    exception = second["changed"][occurrences[2]["id"]]
    assert (exception["type"], exception["subject"]) == ("exception", "Just this one")
    assert master["id"] not in second["changed"]


def test_an_attendee_answer_changes_the_organizers_copy(
    sandbox: RunningSandbox, graph: Graph, people: list[DirectoryUser]
) -> None:
    sandbox.clock.freeze()
    sandbox.answers.configure(
        delay_seconds=600, accepted=1, tentatively_accepted=0, declined=0, not_responded=0
    )
    organizer, guest = people[0].email, people[1].email
    meeting = make(graph, organizer, "Answered", 12, attendees=[attendee(guest)])
    first = round_of(graph, first_url(organizer))
    (before,) = first["changed"].values()
    assert before["attendees"][0]["status"]["response"] == "none"

    sandbox.clock.advance(600)
    second = round_of(graph, first["delta_link"])

    after = second["changed"][meeting["id"]]
    assert after["attendees"][0]["status"]["response"] == "accepted"
    assert after["changeKey"] != before["changeKey"]
    assert after["lastModifiedDateTime"] > before["lastModifiedDateTime"]
    assert (
        graph.get(f"/users/{organizer}/events/{meeting['id']}").json()["changeKey"]
        == (after["changeKey"])
    )


def test_expired_tokens_answer_410_with_the_initial_query_in_location(
    sandbox: RunningSandbox, graph: Graph, people: list[DirectoryUser]
) -> None:
    mine, other = people[0].email, people[1].email
    make(graph, mine, "Mine", 5)
    my_link = round_of(graph, first_url(mine))["delta_link"]
    other_link = round_of(graph, first_url(other))["delta_link"]

    expired = admin(graph, sandbox, "POST", "/delta/expire", json={"mailbox": mine})
    assert expired.json()["expired"] >= 1

    gone = graph.get(my_link)
    assert gone.status_code == 410
    assert gone.json()["error"]["code"] == "syncStateNotFound"
    location = parse_qs(urlsplit(gone.headers["Location"]).query, keep_blank_values=True)
    assert location["$deltatoken"] == [""]
    assert location["startDateTime"][0].startswith("2031-03-01T00:00:00")
    restarted = round_of(graph, gone.headers["Location"])  # the initial query again
    assert [e["subject"] for e in restarted["changed"].values()] == ["Mine"]
    assert graph.get(other_link).status_code == 200  # another mailbox's tokens stand


def test_tokens_older_than_the_configured_age_expire(
    sandbox: RunningSandbox, graph: Graph, people: list[DirectoryUser]
) -> None:
    sandbox.clock.freeze()
    mailbox = people[0].email
    link = round_of(graph, first_url(mailbox))["delta_link"]
    assert admin(graph, sandbox, "PUT", "/delta", json={"max_age_seconds": 600}).status_code == 200
    sandbox.clock.advance(500)
    fresh = round_of(graph, link)["delta_link"]  # young enough; hands out a new one
    sandbox.clock.advance(200)
    assert graph.get(link).status_code == 410
    assert graph.get(fresh).status_code == 200


def test_delta_inside_a_batch_with_relative_links_and_per_mailbox_throttling(
    sandbox: RunningSandbox, graph: Graph, people: list[DirectoryUser]
) -> None:
    busy, calm = people[0].email, people[1].email
    make(graph, busy, "Busy 1", 4)
    make(graph, busy, "Busy 2", 5)
    make(graph, calm, "Calm", 6)
    sandbox.clock.freeze()
    sandbox.throttle.configure(requests_per_window=2, window_seconds=10)
    sandbox.clock.advance(10)  # the creates above leave the window
    graph.get(f"/users/{busy}/calendarView?{WINDOW}")  # the busy mailbox's window is half used
    requests_ = [
        {
            "id": str(n),
            "method": "GET",
            "url": first_url(mailbox),
            "headers": {"Prefer": "odata.maxpagesize=1"},
        }
        for n, mailbox in enumerate([busy, calm, busy], start=1)
    ]
    answer = graph.post("/$batch", json={"requests": requests_})
    assert answer.status_code == 200
    replies = {r["id"]: r for r in answer.json()["responses"]}

    assert sorted(replies[n]["status"] for n in ("1", "3")) == [200, 429]
    assert replies["2"]["status"] == 200
    page = next(replies[n]["body"] for n in ("1", "3") if replies[n]["status"] == 200)
    next_link = page["@odata.nextLink"]
    relative = next_link.removeprefix(graph.base)
    assert relative.startswith(f"/users/{busy}/calendarView/delta?$skiptoken=")

    sandbox.clock.advance(10)
    again = graph.post(
        "/$batch",
        json={"requests": [{"id": "1", "method": "GET", "url": relative}]},
    ).json()["responses"][0]
    assert again["status"] == 200
    assert "@odata.deltaLink" in again["body"]
    assert len(again["body"]["value"]) == 1
