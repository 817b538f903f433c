"""The full Graph client, with msal's real token flow, against the sandbox Microsoft 365.

The same client code that talks to graph.microsoft.com runs here over TLS against
syncd.sandbox; the fields the cassette tests read from Microsoft's documented
answers must be in the sandbox's answers too.
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from syncd.config import GraphTuning
from syncd.domain import ErrorCode, SyncdError
from syncd.graph import GraphClient, GraphRequest, MsalTokenProvider, build_session
from syncd.sandbox import RunningSandbox, SandboxTenantSpec, start_sandbox
from syncd.sandbox.microsoft.directory import DirectoryUser

from .conftest import RecordingSleep
from .test_cassettes import (
    CREATED_EVENT_FIELDS,
    READ_EVENT_FIELDS,
    SCHEDULE_FIELDS,
    SCHEDULE_ITEM_FIELDS,
)

KEY_ID = "String {8d3c2a5e-6f1b-4c7e-9a44-5b1f0e2d7c61} Name syncdExternalKey"
GRAPH_SCOPE = "https://graph.microsoft.com/.default"


@pytest.fixture(scope="module")
def sandbox(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningSandbox]:
    specs = [SandboxTenantSpec("Contoso", "contoso.example", users=60, seed=42)]
    with start_sandbox(
        state_dir=tmp_path_factory.mktemp("graph-sandbox"), tenants=specs
    ) as running:
        yield running


@pytest.fixture(autouse=True)
def clean(sandbox: RunningSandbox) -> Iterator[None]:
    sandbox.reset(events=True)
    yield
    sandbox.reset(events=True)


@pytest.fixture
def sleep() -> RecordingSleep:
    return RecordingSleep()


def make_client(sandbox: RunningSandbox, sleep: RecordingSleep, **tuning: Any) -> GraphClient:
    _, client_id, secret = sandbox.credentials()
    session = build_session(Path(sandbox.ca_file))
    tokens = MsalTokenProvider(
        authority=sandbox.authority(),
        client_id=client_id,
        credential=secret,
        session=session,
        scopes=[GRAPH_SCOPE],
        is_microsoft_cloud=False,
    )
    return GraphClient(
        graph_url=sandbox.graph_url,
        tokens=tokens,
        session=session,
        tuning=GraphTuning(**tuning),
        sleep=sleep,
    )


@pytest.fixture
def client(sandbox: RunningSandbox, sleep: RecordingSleep) -> GraphClient:
    return make_client(sandbox, sleep)


@pytest.fixture
def people(sandbox: RunningSandbox) -> list[DirectoryUser]:
    return [u for u in sandbox.tenant().users if u.has_mailbox]


def payload(
    attendee: str, key: str, *, start: datetime | None = None, **extra: Any
) -> dict[str, Any]:
    begin = start or datetime(2030, 5, 6, 14, 0, tzinfo=UTC)
    return {
        "subject": "Pipeline review",
        "body": {"contentType": "text", "content": "Agenda to follow."},
        "start": {"dateTime": begin.strftime("%Y-%m-%dT%H:%M:%S"), "timeZone": "UTC"},
        "end": {
            "dateTime": (begin + timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%S"),
            "timeZone": "UTC",
        },
        "location": {"displayName": "Room 4"},
        "attendees": [{"emailAddress": {"address": attendee}, "type": "required"}],
        "transactionId": str(uuid.uuid5(uuid.NAMESPACE_URL, key)),
        "singleValueExtendedProperties": [{"id": KEY_ID, "value": key}],
        **extra,
    }


def test_event_lifecycle(client: GraphClient, people: list[DirectoryUser]) -> None:
    organizer, attendee = people[0].email, people[1].email
    key = "contoso:salesforce:00U000000000001"

    created = client.create_event(organizer, payload(attendee, key), correlation_id="00U-β-1")
    assert set(CREATED_EVENT_FIELDS) <= created.keys()
    assert created["start"]["timeZone"] == "UTC"  # Prefer: outlook.timezone="UTC" honoured

    again = client.create_event(organizer, payload(attendee, key))  # a retried create
    assert again["id"] == created["id"]

    found = client.find_event_by_property(organizer, KEY_ID, key)
    assert found is not None and found["id"] == created["id"]
    assert client.find_event_by_property(organizer, KEY_ID, key.upper()) is None  # exact value
    assert client.find_event_by_property(organizer, KEY_ID, "contoso:salesforce:O'Hara") is None

    event = client.get_event(organizer, created["id"])
    assert set(READ_EVENT_FIELDS) <= event.keys()
    assert event["start"] == {"dateTime": "2030-05-06T14:00:00.0000000", "timeZone": "UTC"}
    selected = client.get_event(organizer, created["id"], select=["attendees", "changeKey"])
    assert {"attendees", "changeKey"} <= selected.keys()
    assert "subject" not in selected

    updated = client.update_event(organizer, created["id"], {"subject": "Pipeline review (moved)"})
    assert updated["subject"] == "Pipeline review (moved)"
    assert updated["changeKey"] != created["changeKey"]

    client.cancel_event(organizer, created["id"], "Cancelled in Salesforce")
    with pytest.raises(SyncdError) as caught:
        client.get_event(organizer, created["id"])
    assert caught.value.code is ErrorCode.MEETING_NOT_FOUND
    assert client.find_event_by_property(organizer, KEY_ID, key) is None


def test_teams_meeting_has_a_join_url(client: GraphClient, people: list[DirectoryUser]) -> None:
    teams = payload(
        people[1].email, "contoso:api:teams-1",
        isOnlineMeeting=True, onlineMeetingProvider="teamsForBusiness",
    )  # fmt: skip
    created = client.create_event(people[0].email, teams)
    assert created["onlineMeeting"]["joinUrl"].startswith(
        "https://teams.microsoft.com/l/meetup-join/"
    )


def test_delete_then_gone(client: GraphClient, people: list[DirectoryUser]) -> None:
    created = client.create_event(people[0].email, payload(people[1].email, "contoso:api:del"))
    client.delete_event(people[0].email, created["id"])
    with pytest.raises(SyncdError) as caught:
        client.delete_event(people[0].email, created["id"])
    assert caught.value.code is ErrorCode.MEETING_NOT_FOUND


def test_get_schedule_45_addresses_over_100_days(
    client: GraphClient, people: list[DirectoryUser], sandbox: RunningSandbox
) -> None:
    addresses = [p.email for p in people[:45]]
    start = datetime(2030, 1, 1, tzinfo=UTC)
    end = start + timedelta(days=100)
    busy_at = start + timedelta(days=80, hours=9)  # only the second period sees it
    client.create_event(people[0].email, payload(people[44].email, "contoso:api:fb", start=busy_at))
    sandbox.counters.reset()

    schedules = client.get_schedule(people[0].email, addresses, start, end)

    assert [s["scheduleId"] for s in schedules] == addresses
    assert all(set(SCHEDULE_FIELDS) <= s.keys() for s in schedules)
    assert all("error" not in s for s in schedules)
    assert all(len(s["availabilityView"]) == 100 * 48 for s in schedules)  # 30-minute slots
    organizer_items = schedules[0]["scheduleItems"]
    assert [i["start"]["dateTime"][:19] for i in organizer_items] == ["2030-03-22T09:00:00"]
    assert all(set(SCHEDULE_ITEM_FIELDS) <= i.keys() for i in organizer_items)
    counts = client.counter.snapshot()
    assert counts["by_operation"]["get_schedule"] == 1
    assert counts["http_round_trips"] - 1 == 1  # one $batch after the create
    assert sandbox.counters.snapshot()["batch_inner_requests"] == 6  # 3 x 20 addresses, 2 periods


def test_get_schedule_for_a_user_without_mailbox_answers_per_address(
    client: GraphClient, sandbox: RunningSandbox, people: list[DirectoryUser]
) -> None:
    no_mailbox = next(u for u in sandbox.tenant().users if not u.has_mailbox)
    start = datetime(2030, 1, 1, tzinfo=UTC)

    first, second = client.get_schedule(
        people[0].email, [people[1].email, no_mailbox.email], start, start + timedelta(days=1)
    )

    assert "error" not in first
    assert "error" in second


def test_batch_reads_events_in_order(client: GraphClient, people: list[DirectoryUser]) -> None:
    ids = [
        client.create_event(people[n].email, payload(people[n + 1].email, f"contoso:api:b{n}"))[
            "id"
        ]
        for n in range(3)
    ]
    items = [(people[n].email, ids[n]) for n in range(3)] + [(people[0].email, "AAMkAmissingAAA=")]

    answers = client.get_events_batch(items, select=["subject", "start"])

    assert [a.status for a in answers] == [200, 200, 200, 404]
    assert [a.body["id"] for a in answers[:3]] == ids
    assert answers[0].body["start"]["timeZone"] == "UTC"
    assert answers[3].body["error"]["code"] == "ErrorItemNotFound"

    raw = client.batch(
        [GraphRequest("GET", f"/users/{people[0].email}/events/{ids[0]}", mailbox=people[0].email)]
    )
    assert raw[0].status == 200


def test_throttled_request_waits_retry_after(
    client: GraphClient, sandbox: RunningSandbox, people: list[DirectoryUser], sleep: RecordingSleep
) -> None:
    created = client.create_event(people[0].email, payload(people[1].email, "contoso:api:t"))
    sandbox.faults.configure(retry_after_seconds=3)
    sandbox.faults.fail_next(429, 503, mailbox=people[0].email)

    assert client.get_event(people[0].email, created["id"])["id"] == created["id"]
    assert sleep.waits == [3.0, 3.0]


def test_revoked_token_is_refreshed_once(
    client: GraphClient, sandbox: RunningSandbox, people: list[DirectoryUser]
) -> None:
    assert client.get_user(people[0].email) is not None
    sandbox.revoke_tokens()

    assert client.get_user(people[0].email) is not None
    assert client.counter.snapshot()["forced_token_refreshes"] == 1


def test_twenty_threads_never_trip_the_mailbox_concurrency_limit(
    sandbox: RunningSandbox, people: list[DirectoryUser], sleep: RecordingSleep
) -> None:
    client = make_client(sandbox, sleep)
    created = client.create_event(people[0].email, payload(people[1].email, "contoso:api:c"))
    sandbox.faults.configure(latency_seconds=0.02)
    errors: list[Exception] = []

    def reader() -> None:
        try:
            for _ in range(3):
                client.get_event(people[0].email, created["id"])
        except Exception as exc:  # collected and asserted below
            errors.append(exc)

    threads = [threading.Thread(target=reader) for _ in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert errors == []
    assert sandbox.counters.snapshot()["throttled"] == 0
    assert sleep.waits == []


def test_errors_from_the_sandbox_map_to_contract_codes(
    client: GraphClient, sandbox: RunningSandbox, people: list[DirectoryUser]
) -> None:
    no_mailbox = next(u for u in sandbox.tenant().users if not u.has_mailbox)
    assert client.get_user("nobody@contoso.example") is None

    with pytest.raises(SyncdError) as caught:
        client.create_event(no_mailbox.email, payload(people[0].email, "contoso:api:nm"))
    assert caught.value.code is ErrorCode.MAILBOX_NOT_FOUND
    assert no_mailbox.email in caught.value.message

    with pytest.raises(SyncdError) as caught:
        client.create_event("nobody@contoso.example", payload(people[0].email, "contoso:api:nu"))
    assert caught.value.code is ErrorCode.MAILBOX_NOT_FOUND

    with pytest.raises(SyncdError) as caught:
        client.get_event(people[0].email, "AAMkAmissingAAA=")
    assert caught.value.code is ErrorCode.MEETING_NOT_FOUND

    sandbox.access_policy.deny(people[2].email)
    with pytest.raises(SyncdError) as caught:
        client.get_event(people[2].email, "AAMkAmissingAAA=")
    assert caught.value.code is ErrorCode.ACCESS_DENIED
    assert people[2].email in caught.value.message
