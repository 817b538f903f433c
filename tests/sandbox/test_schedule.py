"""getSchedule: busy blocks, the documented limits, and error items for unknown addresses."""

from __future__ import annotations

from typing import Any

from syncd.sandbox import RunningSandbox
from syncd.sandbox.microsoft.directory import DirectoryUser

from .helpers import Graph, event_body


def window(start: str, end: str, schedules: list[str], interval: int = 60) -> dict[str, Any]:
    return {
        "schedules": schedules,
        "startTime": {"dateTime": start, "timeZone": "UTC"},
        "endTime": {"dateTime": end, "timeZone": "UTC"},
        "availabilityViewInterval": interval,
    }


def test_busy_block_and_working_hours(graph: Graph, people: list[DirectoryUser]) -> None:
    owner = people[0]
    graph.post(f"/users/{owner.email}/events", json=event_body())  # 08:00-09:00 UTC
    response = graph.post(
        f"/users/{owner.email}/calendar/getSchedule",
        json=window("2031-03-10T06:00:00", "2031-03-10T11:00:00", [owner.email]),
        headers={"Prefer": 'outlook.timezone="Pacific Standard Time"'},
    )
    assert response.status_code == 200
    assert response.headers["Preference-Applied"] == 'outlook.timezone="Pacific Standard Time"'
    [info] = response.json()["value"]
    assert info["scheduleId"] == owner.email
    assert info["availabilityView"] == "00200"
    assert info["scheduleItems"] == [
        {
            "isPrivate": False,
            "status": "busy",
            "start": {
                "dateTime": "2031-03-10T01:00:00.0000000",
                "timeZone": "Pacific Standard Time",
            },
            "end": {"dateTime": "2031-03-10T02:00:00.0000000", "timeZone": "Pacific Standard Time"},
        }
    ]
    assert info["workingHours"]["timeZone"] == {"name": owner.time_zone}


def test_unknown_external_and_unlicensed_addresses_get_error_items(
    sandbox: RunningSandbox, graph: Graph, people: list[DirectoryUser]
) -> None:
    unlicensed = next(u for u in sandbox.tenant("Contoso").users if not u.has_mailbox)
    other_tenant = sandbox.tenant("Fabrikam").users[0].email
    addresses = ["ghost@contoso.example", "someone@partner.example", unlicensed.email, other_tenant]
    response = graph.post(
        f"/users/{people[0].email}/calendar/getSchedule",
        json=window("2031-03-10T06:00:00", "2031-03-10T11:00:00", addresses),
    )
    assert response.status_code == 200
    values = response.json()["value"]
    assert [v["scheduleId"] for v in values] == addresses
    for value in values:
        assert set(value) == {"scheduleId", "error"}
        assert set(value["error"]) == {"message", "responseCode"}


def test_more_than_twenty_schedules_is_400(graph: Graph, people: list[DirectoryUser]) -> None:
    addresses = [f"person{n}@contoso.example" for n in range(21)]
    response = graph.post(
        f"/users/{people[0].email}/calendar/getSchedule",
        json=window("2031-03-10T06:00:00", "2031-03-10T11:00:00", addresses),
    )
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "ErrorMailboxDataArrayTooBig"


def test_period_must_be_under_62_days(graph: Graph, people: list[DirectoryUser]) -> None:
    path = f"/users/{people[0].email}/calendar/getSchedule"
    too_long = graph.post(
        path, json=window("2031-01-01T00:00:00", "2031-03-04T00:00:00", [people[1].email], 1440)
    )
    assert too_long.status_code == 400
    assert too_long.json()["error"]["code"] == "ErrorTimeIntervalTooBig"
    fine = graph.post(
        path, json=window("2031-01-01T00:00:00", "2031-03-03T00:00:00", [people[1].email], 1440)
    )
    assert fine.status_code == 200
    assert len(fine.json()["value"][0]["availabilityView"]) == 61
    backwards = graph.post(
        path, json=window("2031-01-02T00:00:00", "2031-01-01T00:00:00", [people[1].email])
    )
    assert backwards.json()["error"]["code"] == "ErrorInvalidTimeInterval"
