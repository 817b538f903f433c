"""The API over the real runtime and sandbox: lifecycle, error codes, tenants, auth methods."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from syncd.auth import create_client, sign_request
from syncd.runtime import Runtime
from syncd.sandbox.faults import ForcedFailure
from syncd.sandbox.server import RunningSandbox
from tests.support import users_of

from .live import AVAILABILITY, MEETING, bearer_client

WINDOW = {"from": "2031-06-02T00:00:00Z", "to": "2031-06-03T00:00:00Z"}


@pytest.fixture
def demo(runtime: Runtime, api_url: str) -> Iterator[httpx.Client]:
    with bearer_client(runtime, api_url, "demo") as client:
        yield client


@pytest.fixture
def acme(runtime: Runtime, api_url: str) -> Iterator[httpx.Client]:
    with bearer_client(runtime, api_url, "acme") as client:
        yield client


def new_meeting(sandbox: RunningSandbox, **overrides: Any) -> dict[str, Any]:
    users = users_of(sandbox, "demo")
    body: dict[str, Any] = {
        "id": f"e2e-{uuid.uuid4()}",
        "organizerEmail": users[0],
        "body": "agenda",
        "subject": "Pipeline review",
        "location": "Room 2",
        "startTime": "2031-06-02T11:00:00+02:00",
        "endTime": "2031-06-02T10:00:00Z",
        "attendees": [
            {"email": users[1], "isRequired": "true"},
            {"email": "guest@fabrikam-partner.example", "isRequired": False},
        ],
    }
    body.update(overrides)
    return body


def send(client: httpx.Client, method: str, body: dict[str, Any]) -> httpx.Response:
    return client.request(method, MEETING, content=json.dumps(body).encode())


def error_of(answer: httpx.Response, status: int) -> str:
    assert answer.status_code == status, answer.text
    body = answer.json()
    assert set(body) == {"email", "errorCode", "errorMessage"}
    assert body["errorMessage"]
    return body["errorCode"]


def ref(meeting: dict[str, Any]) -> dict[str, str]:
    return {"id": meeting["id"], "organizerEmail": meeting["organizerEmail"]}


def test_a_meeting_lifecycle(demo: httpx.Client, sandbox: RunningSandbox) -> None:
    meeting = new_meeting(sandbox, location="MS Teams")
    organizer = meeting["organizerEmail"]
    created = send(demo, "POST", meeting)
    assert created.status_code == 200, created.text
    assert created.json()["errorCode"] == "NoError"
    join_url = created.json()["joinUrl"]
    assert join_url.startswith("https://")

    read = demo.get(MEETING, params=ref(meeting))
    assert read.status_code == 200, read.text
    got = read.json()
    assert (got["startTime"], got["endTime"]) == ("2031-06-02T09:00:00Z", "2031-06-02T10:00:00Z")
    assert got["joinUrl"] == join_url
    assert [(a["email"], a["isRequired"]) for a in got["attendees"]] == [
        (meeting["attendees"][0]["email"], "true"),
        ("guest@fabrikam-partner.example", "false"),
    ]

    changed = send(demo, "PATCH", {**ref(meeting), "subject": "Moved"})
    assert changed.json() == {"email": organizer, "errorCode": "NoError", "joinUrl": join_url}
    assert demo.get(MEETING, params=ref(meeting)).json()["subject"] == "Moved"

    clash = send(demo, "POST", {**meeting, "subject": "Something else"})
    assert error_of(clash, 409) == "MeetingAlreadyExists"
    other = users_of(sandbox, "demo")[2]
    mismatch = send(demo, "PATCH", {"id": meeting["id"], "organizerEmail": other, "subject": "x"})
    assert error_of(mismatch, 409) == "OrganizerMismatch"

    deleted = send(demo, "DELETE", ref(meeting))
    assert deleted.json() == {"email": organizer, "errorCode": "NoError"}
    assert error_of(demo.get(MEETING, params=ref(meeting)), 404) == "MeetingNotFound"
    assert error_of(send(demo, "DELETE", ref(meeting)), 404) == "MeetingNotFound"
    assert send(demo, "POST", meeting).status_code == 200  # the id may be scheduled afresh


def test_organizers_must_be_in_org_mailboxes(demo: httpx.Client, sandbox: RunningSandbox) -> None:
    external = send(demo, "POST", new_meeting(sandbox, organizerEmail="someone@gmail.example"))
    assert error_of(external, 422) == "OrganizerNotFound"
    assert external.json()["email"] == "someone@gmail.example"
    ghost = send(demo, "POST", new_meeting(sandbox, organizerEmail="nobody.here@contoso.example"))
    assert error_of(ghost, 422) == "OrganizerNotFound"


def test_availability_answers_every_address_with_its_own_code(
    demo: httpx.Client, sandbox: RunningSandbox
) -> None:
    users = users_of(sandbox, "demo")
    meeting = new_meeting(sandbox, organizerEmail=users[3], attendees=[])
    assert send(demo, "POST", meeting).status_code == 200
    addresses = [users[3], "x@elsewhere.example", "ghost@contoso.example", "no-at-sign"]
    answer = demo.post(
        AVAILABILITY,
        params={"From": WINDOW["from"], "TO": WINDOW["to"]},
        content=json.dumps([{"email": a} for a in addresses]).encode(),
    )
    assert answer.status_code == 200, answer.text
    items = answer.json()
    assert [(i["email"], i["errorCode"]) for i in items] == [
        (users[3], "NoError"),
        ("x@elsewhere.example", "ExternalUserNotSupported"),
        ("ghost@contoso.example", "MailboxNotFound"),
        ("no-at-sign", "InvalidRequest"),
    ]
    assert items[0]["unavailableTimeslots"] == [
        {"timeMin": "2031-06-02T09:00:00Z", "timeMax": "2031-06-02T10:00:00Z"}
    ]
    assert all(i["errorMessage"] for i in items[1:])


def test_a_client_never_reaches_another_tenants_meeting(
    demo: httpx.Client, acme: httpx.Client, sandbox: RunningSandbox
) -> None:
    """Another tenant's meeting is answered MeetingNotFound: its existence does not leak."""
    meeting = new_meeting(sandbox)
    assert send(demo, "POST", meeting).status_code == 200
    assert error_of(acme.get(MEETING, params=ref(meeting)), 404) == "MeetingNotFound"
    assert error_of(send(acme, "PATCH", {**ref(meeting), "subject": "x"}), 404) == "MeetingNotFound"
    assert error_of(send(acme, "DELETE", ref(meeting)), 404) == "MeetingNotFound"
    # Nor can it schedule in the other tenant's mailboxes.
    assert error_of(send(acme, "POST", new_meeting(sandbox)), 422) == "OrganizerNotFound"
    assert demo.get(MEETING, params=ref(meeting)).json()["subject"] == "Pipeline review"


def test_an_hmac_client_works_end_to_end(
    runtime: Runtime, api_url: str, sandbox: RunningSandbox
) -> None:
    creds = create_client(
        runtime.engine, tenant="demo", method="hmac", master_key=runtime.master_key
    )
    meeting = new_meeting(sandbox)
    body = json.dumps(meeting).encode()
    url = api_url + MEETING
    headers = sign_request("POST", url, body, creds["client_id"], creds["secret"])
    created = httpx.post(url, content=body, headers=headers, timeout=60)
    assert created.status_code == 200, created.text
    query = f"{url}?id={meeting['id']}&organizerEmail={meeting['organizerEmail']}"
    headers = sign_request("GET", query, b"", creds["client_id"], creds["secret"])
    assert httpx.get(query, headers=headers, timeout=60).json()["id"] == meeting["id"]
    replay = httpx.get(query, headers=headers, timeout=60)
    assert error_of(replay, 401) == "Unauthorized"


def test_legacy_login_is_off_in_this_deployment(api_url: str) -> None:
    answer = httpx.get(api_url + MEETING, auth=("admin", "admin"), timeout=30)
    assert error_of(answer, 401) == "Unauthorized"
    assert "disabled for this deployment" in answer.json()["errorMessage"]


@pytest.mark.parametrize(
    ("status", "code", "http_status"),
    [(429, "Throttled", 429), (503, "UpstreamUnavailable", 503)],
)
def test_graph_trouble_is_answered_with_its_code(
    demo: httpx.Client,
    fresh_sandbox: RunningSandbox,
    runtime: Runtime,
    status: int,
    code: str,
    http_status: int,
) -> None:
    meeting = new_meeting(fresh_sandbox)
    attempts = runtime.config.settings.graph.max_retries + 1
    mailbox = meeting["organizerEmail"]
    fresh_sandbox.faults.fail_next(
        *[ForcedFailure(status, mailbox=mailbox, retry_after=0) for _ in range(attempts)]
    )
    answer = send(demo, "POST", meeting)
    assert error_of(answer, http_status) == code
    if code == "Throttled":
        assert int(answer.headers["Retry-After"]) >= 1
