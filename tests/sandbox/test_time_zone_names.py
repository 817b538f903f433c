"""The Graph sandbox takes time zone names as Graph does, and checks a series' startDate.

dateTimeTimeZone: https://learn.microsoft.com/en-us/graph/api/resources/datetimetimezone
recurrenceRange: https://learn.microsoft.com/en-us/graph/api/resources/recurrencerange
"""

from __future__ import annotations

from typing import Any

import pytest

from syncd.sandbox import RunningSandbox
from syncd.sandbox.microsoft.directory import MAILBOX_TIME_ZONES, DirectoryUser, build_tenant
from syncd.sandbox.microsoft.timezones import resolve_zone

from .helpers import Graph, event_body


def _at(zone: str, day: str = "2031-03-10", start: str = "09:00", end: str = "10:00") -> Any:
    return {
        "start": {"dateTime": f"{day}T{start}:00", "timeZone": zone},
        "end": {"dateTime": f"{day}T{end}:00", "timeZone": zone},
    }


def _daily(start_date: str, zone: str | None = None) -> dict[str, Any]:
    span: dict[str, Any] = {"type": "numbered", "startDate": start_date, "numberOfOccurrences": 3}
    if zone is not None:
        span["recurrenceTimeZone"] = zone
    return {"pattern": {"type": "daily", "interval": 1}, "range": span}


@pytest.mark.parametrize(
    "zone", ["Europe/Amsterdam", "Europe/Rome", "America/Toronto", "Australia/Melbourne"]
)
def test_an_iana_name_graph_does_not_list_is_refused_as_graph_does(
    graph: Graph, people: list[DirectoryUser], zone: str
) -> None:
    response = graph.post(f"/users/{people[0].email}/events", json=event_body(**_at(zone)))
    assert response.status_code == 400
    # The answer Graph gave (microsoft-graph-docs issue 4758).
    assert response.json()["error"]["code"] == "TimeZoneNotSupportedException"
    assert response.json()["error"]["message"] == (
        "A valid TimeZone value must be specified. "
        f"The following TimeZone value is not supported: '{zone}'."
    )


@pytest.mark.parametrize(
    "zone", ["W. Europe Standard Time", "Cen. Australia Standard Time", "Europe/Berlin", "UTC"]
)
def test_windows_names_and_listed_iana_names_are_taken(
    graph: Graph, people: list[DirectoryUser], zone: str
) -> None:
    response = graph.post(f"/users/{people[0].email}/events", json=event_body(**_at(zone)))
    assert response.status_code == 201, response.text


def test_an_unlisted_recurrence_time_zone_is_refused(
    graph: Graph, people: list[DirectoryUser]
) -> None:
    body = event_body(
        **_at("W. Europe Standard Time"), recurrence=_daily("2031-03-10", "Europe/Amsterdam")
    )
    response = graph.post(f"/users/{people[0].email}/events", json=body)
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "TimeZoneNotSupportedException"


def test_a_series_whose_start_date_is_not_its_start_is_refused(
    graph: Graph, people: list[DirectoryUser]
) -> None:
    path = f"/users/{people[0].email}/events"
    # An all-day series on March 10 in London, whose range says March 9.
    times = _at("GMT Standard Time", start="00:00", end="00:00")
    times["end"]["dateTime"] = "2031-03-11T00:00:00"
    early = event_body(**times, isAllDay=True, recurrence=_daily("2031-03-09", "GMT Standard Time"))
    refused = graph.post(path, json=early)
    assert refused.status_code == 400
    assert "startDate 2031-03-09" in refused.json()["error"]["message"]
    right = event_body(**times, isAllDay=True, recurrence=_daily("2031-03-10", "GMT Standard Time"))
    created = graph.post(path, json=right)
    assert created.status_code == 201
    # A PATCH that moves the start away from the range is refused too.
    moved = graph.patch(
        f"{path}/{created.json()['id']}",
        json={
            "start": {"dateTime": "2031-03-12T00:00:00", "timeZone": "GMT Standard Time"},
            "end": {"dateTime": "2031-03-13T00:00:00", "timeZone": "GMT Standard Time"},
        },
    )
    assert moved.status_code == 400


def test_mailboxes_get_a_wide_spread_of_time_zones_the_same_for_a_seed(
    sandbox: RunningSandbox,
) -> None:
    tenant = build_tenant("Spread", "spread.example", users=200, seed=3)
    again = build_tenant("Spread", "spread.example", users=200, seed=3)
    assert [u.time_zone for u in tenant.users] == [u.time_zone for u in again.users]
    zones = {u.time_zone for u in tenant.users}
    assert zones == set(MAILBOX_TIME_ZONES)
    for name in MAILBOX_TIME_ZONES:
        resolve_zone(name)
    wanted = {
        "west of UTC": "Pacific Standard Time",
        "a half-hour offset": "India Standard Time",
        "no daylight saving": "US Mountain Standard Time",
        "southern hemisphere": "AUS Eastern Standard Time",
        "Europe": "W. Europe Standard Time",
    }
    assert set(wanted.values()) <= zones
    # The sandbox's own directory hands out the spread too.
    assert len({u.time_zone for u in sandbox.tenant("Contoso").users}) > 5
