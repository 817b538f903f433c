"""The real GraphClient against cassettes built from Microsoft's documented examples.

Each cassette names its source page. Requests are matched on method, path, query
and JSON body (the body is the contract), plus the Prefer and Content-Type headers,
so these tests pin syncd's wire format; the responses are Microsoft's.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import vcr
from vcr.request import Request

from syncd.graph import GraphClient, GraphRequest, build_session

from .conftest import RecordingSleep, StaticTokens

CASSETTES = Path(__file__).resolve().parent.parent / "cassettes" / "graph"
GRAPH_URL = "https://graph.microsoft.com/v1.0"
KEY_ID = "String {8d3c2a5e-6f1b-4c7e-9a44-5b1f0e2d7c61} Name syncdExternalKey"
PINNED_HEADERS = ("Prefer", "Content-Type")

#: What syncd reads from each kind of Graph answer; test_against_sandbox checks the
#: sandbox answers carry the same fields.
CREATED_EVENT_FIELDS = (
    "id", "changeKey", "transactionId", "iCalUId", "start", "end", "organizer", "attendees",
)  # fmt: skip
READ_EVENT_FIELDS = ("id", "subject", "start", "end", "attendees", "organizer", "location")
SCHEDULE_FIELDS = ("scheduleId", "availabilityView", "scheduleItems", "workingHours")
SCHEDULE_ITEM_FIELDS = ("status", "start", "end")


def _pinned_headers(live: Request, recorded: Request) -> None:
    for name in PINNED_HEADERS:
        got, want = live.headers.get(name), recorded.headers.get(name)
        if want is not None and (got or "").split(";")[0] != want.split(";")[0]:
            raise AssertionError(f"header {name}: {got!r} != {want!r}")


class Recorder:
    """Keeps the live requests vcrpy saw (for header assertions).

    vcrpy runs this hook on the cassette's requests too; only ours carry a token.
    """

    def __init__(self) -> None:
        self.requests: list[Request] = []

    def __call__(self, request: Request) -> Request:
        if "authorization" in request.headers:
            self.requests.append(request)
        return request


@pytest.fixture
def recorder() -> Recorder:
    return Recorder()


@pytest.fixture
def player(recorder: Recorder) -> vcr.VCR:
    player = vcr.VCR(
        cassette_library_dir=str(CASSETTES),
        record_mode="none",
        match_on=("method", "path", "query", "body", "pinned_headers"),
        before_record_request=recorder,
    )
    player.register_matcher("pinned_headers", _pinned_headers)
    return player


@pytest.fixture
def client() -> Iterator[GraphClient]:
    yield GraphClient(
        graph_url=GRAPH_URL,
        tokens=StaticTokens(),
        session=build_session(None),
        sleep=RecordingSleep(),
    )


def _play(player: vcr.VCR, name: str) -> Any:
    return player.use_cassette(name, allow_playback_repeats=False)


def test_create_event_sends_payload_and_reads_ids(player: vcr.VCR, client: GraphClient) -> None:
    payload = {
        "subject": "Let's go for lunch",
        "body": {"contentType": "HTML", "content": "Does noon work for you?"},
        "start": {"dateTime": "2017-04-15T12:00:00", "timeZone": "Pacific Standard Time"},
        "end": {"dateTime": "2017-04-15T14:00:00", "timeZone": "Pacific Standard Time"},
        "location": {"displayName": "Harry's Bar"},
        "attendees": [
            {
                "emailAddress": {
                    "address": "samanthab@contoso.onmicrosoft.com",
                    "name": "Samantha Booth",
                },
                "type": "required",
            }
        ],
        "allowNewTimeProposals": True,
        "transactionId": "7E163156-7762-4BEB-A1C6-729EA81755A7",
        "singleValueExtendedProperties": [
            {"id": KEY_ID, "value": "acme:salesforce:00U5e000001AbCdEAK"}
        ],
    }
    teams = {
        **payload,
        "isOnlineMeeting": True,
        "onlineMeetingProvider": "teamsForBusiness",
        "transactionId": "0c7d2a5b-3e7f-5a61-9b0e-4f2d6c8a1e37",
        "singleValueExtendedProperties": [
            {"id": KEY_ID, "value": "acme:salesforce:00U5e000001AbCdFAK"}
        ],
    }
    with _play(player, "create_event.yaml") as cassette:
        created = client.create_event("danas@contoso.onmicrosoft.com", payload)
        online = client.create_event("danas@contoso.onmicrosoft.com", teams)
        assert cassette.all_played

    assert set(CREATED_EVENT_FIELDS) <= created.keys()
    assert created["id"] == "AAMkAGI1AAAt9AHjAAA="
    assert created["changeKey"] == "ZlnW4RIAV06KYYwlrfNZvQAALfZeRQ=="
    assert created["transactionId"] == payload["transactionId"]
    assert created["iCalUId"].startswith("040000008200E00074C5B7101A82E008")
    assert created["start"] == {"dateTime": "2017-04-15T18:00:00.0000000", "timeZone": "UTC"}
    assert created["organizer"]["emailAddress"]["address"] == "danas@contoso.onmicrosoft.com"
    assert created["attendees"][0]["status"]["response"] == "none"
    assert online["id"] == "AAMkAGI1AAAt8AHjAAA="
    assert online["isOnlineMeeting"] is True
    assert online["onlineMeeting"]["joinUrl"].startswith(
        "https://teams.microsoft.com/l/meetup-join/"
    )


def test_get_event_asks_utc_and_parses_event(
    player: vcr.VCR, client: GraphClient, recorder: Recorder
) -> None:
    event_id = (
        "AAMkAGVmMDEzMTM4LTZmYWUtNDdkNC1hMDZiLTU1OGY5OTZhYmY4OABGAAAAAAAiQ8W967B7TKBjgx9rVEURBwA"
        "iIsqMbYjsT5e-T7KzowPTAAAAAAENAAAiIsqMbYjsT5e-T7KzowPTAAAa_WKzAAA="
    )
    select = [
        "subject", "body", "bodyPreview", "organizer", "attendees",
        "start", "end", "location", "hideAttendees",
    ]  # fmt: skip
    correlation = "ac7b40b4-2c33-723b-8aaie-8bpf077z7539"  # not a GUID: mapped
    with _play(player, "get_event.yaml") as cassette:
        event = client.get_event(
            "48d31887-5fad-4d73-a9f5-3c356e68a038",
            event_id,
            select=select,
            correlation_id=correlation,
        )
        assert cassette.all_played

    assert set(READ_EVENT_FIELDS) <= event.keys()
    assert event["id"] == event_id
    assert event["subject"] == "New Product Regulations Touchpoint"
    assert event["start"] == {"dateTime": "2014-11-03T17:00:00.0000000", "timeZone": "UTC"}
    assert [a["emailAddress"]["address"] for a in event["attendees"]] == [
        "engineering@M365x214355.onmicrosoft.com",
        "IrvinS@M365x214355.onmicrosoft.com",
    ]
    sent = recorder.requests[0].headers
    assert sent["client-request-id"] == str(uuid.uuid5(uuid.NAMESPACE_URL, correlation))
    assert sent["return-client-request-id"] == "true"


def test_throttled_read_waits_retry_after_then_succeeds(player: vcr.VCR) -> None:
    sleep = RecordingSleep()
    client = GraphClient(
        graph_url=GRAPH_URL, tokens=StaticTokens(), session=build_session(None), sleep=sleep
    )
    event_id = (
        "AAMkAGVmMDEzMTM4LTZmYWUtNDdkNC1hMDZiLTU1OGY5OTZhYmY4OABGAAAAAAAiQ8W967B7TKBjgx9rVEURBwA"
        "iIsqMbYjsT5e-T7KzowPTAAAAAAENAAAiIsqMbYjsT5e-T7KzowPTAAAa_WKzAAA="
    )
    select = "subject,body,bodyPreview,organizer,attendees,start,end,location,hideAttendees"
    with _play(player, "throttled_then_ok.yaml") as cassette:
        event = client.get_event(
            "48d31887-5fad-4d73-a9f5-3c356e68a038", event_id, select=select.split(",")
        )
        assert cassette.all_played

    assert event["id"] == event_id
    assert sleep.waits == [2.128]
    counts = client.counter.snapshot()
    assert counts["http_round_trips"] == 2
    assert counts["retries"] == 1
    assert counts["throttled_responses"] == 1
    assert counts["seconds_waited"] == pytest.approx(2.128)


def test_get_schedule_converts_times_and_keeps_request_order(
    player: vcr.VCR, client: GraphClient
) -> None:
    pacific = ZoneInfo("America/Los_Angeles")
    with _play(player, "get_schedule.yaml") as cassette:
        schedules = client.get_schedule(
            "adelev@contoso.onmicrosoft.com",
            ["adelev@contoso.onmicrosoft.com", "meganb@contoso.onmicrosoft.com"],
            datetime(2019, 3, 15, 9, 0, tzinfo=pacific),
            datetime(2019, 3, 15, 18, 0, tzinfo=pacific),
            interval_minutes=60,
        )
        assert cassette.all_played

    assert [s["scheduleId"] for s in schedules] == [
        "adelev@contoso.onmicrosoft.com",
        "meganb@contoso.onmicrosoft.com",
    ]
    adele, megan = schedules
    assert all(set(SCHEDULE_FIELDS) <= s.keys() for s in schedules)
    assert all(set(SCHEDULE_ITEM_FIELDS) <= i.keys() for i in megan["scheduleItems"])
    assert adele["availabilityView"] == "000220000"
    assert [(i["status"], i["start"]["dateTime"]) for i in adele["scheduleItems"]] == [
        ("busy", "2019-03-15T19:00:00.0000000")
    ]
    assert megan["availabilityView"] == "200220010"
    assert [
        (i["status"], i["start"]["dateTime"], i["end"]["dateTime"]) for i in megan["scheduleItems"]
    ] == [
        ("busy", "2019-03-15T15:30:00.0000000", "2019-03-15T16:30:00.0000000"),
        ("tentative", "2019-03-15T19:00:00.0000000", "2019-03-15T20:00:00.0000000"),
        ("busy", "2019-03-15T19:00:00.0000000", "2019-03-15T21:00:00.0000000"),
        ("busy", "2019-03-15T20:00:00.0000000", "2019-03-15T21:00:00.0000000"),
        ("tentative", "2019-03-15T23:00:00.0000000", "2019-03-16T00:00:00.0000000"),
    ]
    assert "error" not in adele and "error" not in megan
    assert megan["workingHours"]["startTime"] == "08:00:00.0000000"


def test_batch_documented_example_in_input_order(player: vcr.VCR, client: GraphClient) -> None:
    requests = [
        GraphRequest("GET", "/me/memberOf"),
        GraphRequest("GET", "/me/planner/tasks"),
        GraphRequest("DELETE", "/groups/0e226165-c685-41ce-8bfc-df8360ab325d"),
        GraphRequest(
            "POST",
            "/users/161ab652-cdbc-490d-82a4-0ada1f0db247/getPasswordSingleSignOnCredentials",
            body={},
            headers={"Content-Type": "application/json"},
        ),
        GraphRequest(
            "GET",
            "users?$select=id,displayName,userPrincipalName&$filter=city eq null&$count=true",
            headers={"ConsistencyLevel": "eventual"},
        ),
    ]
    with _play(player, "batch.yaml") as cassette:
        answers = client.batch(requests)
        assert cassette.all_played

    assert [a.status for a in answers] == [200, 403, 403, 405, 200]
    assert answers[0].body["value"][0]["displayName"] == "User Administrator"
    assert answers[2].body["error"]["code"] == "Authorization_RequestDenied"
    assert answers[4].body["@odata.count"] == 36
    assert answers[4].headers["odata-version"] == "4.0"
    counts = client.counter.snapshot()
    assert counts["http_round_trips"] == 1
    assert counts["graph_requests"] == 5
    assert counts["by_method"] == {"GET": 3, "DELETE": 1, "POST": 1}


def test_batch_resends_only_the_throttled_request(player: vcr.VCR) -> None:
    sleep = RecordingSleep()
    client = GraphClient(
        graph_url=GRAPH_URL, tokens=StaticTokens(), session=build_session(None), sleep=sleep
    )
    event_id = (
        "AAMkAGVmMDEzMTM4LTZmYWUtNDdkNC1hMDZiLTU1OGY5OTZhYmY4OABGAAAAAAAiQ8W967B7TKBjgx9rVEURBwA"
        "iIsqMbYjsT5e-T7KzowPTAAAAAAENAAAiIsqMbYjsT5e-T7KzowPTAAAa_WKzAAA="
    )
    with _play(player, "batch_throttled.yaml") as cassette:
        answers = client.get_events_batch(
            [
                ("48d31887-5fad-4d73-a9f5-3c356e68a038", event_id),
                ("danas@contoso.onmicrosoft.com", "AAMkAGI1AAAt9AHjAAA="),
            ]
        )
        assert cassette.all_played

    assert [a.status for a in answers] == [200, 200]
    assert answers[0].body["id"] == event_id
    assert answers[1].body["id"] == "AAMkAGI1AAAt9AHjAAA="
    assert sleep.waits == [2.128]
    counts = client.counter.snapshot()
    assert counts["http_round_trips"] == 2
    assert counts["graph_requests"] == 3  # 2 in the first batch, the throttled one again
