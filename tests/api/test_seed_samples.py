"""Every sample request of the seed page, byte for byte, against the live API ("seed" tenant)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from syncd.runtime import Runtime
from tests.support import SEED_LITERAL as SEED_ADDRESS
from tests.support import SEED_MAILBOX

from .live import AVAILABILITY, MEETING, bearer_client
from .seed_samples import seed_samples


@pytest.fixture
def seed_client(runtime: Runtime, api_url: str) -> Iterator[httpx.Client]:
    with bearer_client(runtime, api_url, "seed") as client:
        yield client


def samples() -> dict[tuple[str, str], tuple[str, bytes | None]]:
    return {(s.method, s.target.split("?")[0]): (s.target, s.body) for s in seed_samples()}


def forget(client: httpx.Client, meeting_id: str) -> None:
    """Delete the meeting if an earlier run left it (so the test can run again)."""
    ref = {"id": meeting_id, "organizerEmail": SEED_ADDRESS}
    answer = client.request("DELETE", MEETING, content=json.dumps(ref).encode())
    assert answer.status_code in (200, 404), answer.text


def test_the_seed_has_the_five_samples() -> None:
    assert sorted(samples()) == [
        ("DELETE", MEETING),
        ("GET", MEETING),
        ("PATCH", MEETING),
        ("POST", AVAILABILITY),
        ("POST", MEETING),
    ]
    assert all(body is not None for (method, _), (_, body) in samples().items() if method != "GET")


def test_every_seed_sample_is_accepted_byte_for_byte(seed_client: httpx.Client) -> None:
    found = samples()
    _, post_body = found[("POST", MEETING)]
    _, patch_body = found[("PATCH", MEETING)]
    _, delete_body = found[("DELETE", MEETING)]
    get_target, _ = found[("GET", MEETING)]
    availability_target, availability_body = found[("POST", AVAILABILITY)]
    assert post_body and patch_body and delete_body and availability_body
    scheduled_id = parse_qs(urlsplit(get_target).query)["id"][0]
    delete_id = "f9b54553-8e2a-47r2-a6db-27425fb3f11e"
    assert delete_id.encode() in delete_body
    forget(seed_client, scheduled_id)
    forget(seed_client, delete_id)
    # The "seed" tenant aliases the page's scraped address to a real mailbox;
    # answers name the mailbox the request was resolved to.
    no_error = {"email": SEED_MAILBOX, "errorCode": "NoError"}

    answer = seed_client.post(MEETING, content=post_body)
    assert (answer.status_code, answer.json()) == (200, no_error), answer.text
    assert answer.headers["X-Correlation-Id"] == "ac7b40b4-2c33-723b-8aaie-8bpf077z7539"
    again = seed_client.post(MEETING, content=post_body)  # idempotent: same id, same content
    assert (again.status_code, again.json()) == (200, no_error), again.text

    answer = seed_client.patch(MEETING, content=patch_body)
    assert (answer.status_code, answer.json()) == (200, no_error), answer.text

    answer = seed_client.get(get_target)
    assert answer.status_code == 200, answer.text
    meeting = answer.json()
    assert meeting["id"] == scheduled_id
    assert meeting["organizerEmail"] == SEED_MAILBOX
    assert meeting["subject"] == "New subject"
    assert (meeting["startTime"], meeting["endTime"]) == (
        "2020-10-16T10:00:00Z",
        "2020-10-20T23:00:00Z",
    )
    assert [a["isRequired"] for a in meeting["attendees"]] == ["true", "false", "true"]
    valid = {"NoResponseReceived", "Accepted", "Declined", "Tentative", "Organizer", "Unknown"}
    assert all(a["response"] in valid for a in meeting["attendees"])
    # Every sample attendee is the organizer, who answers as such.
    assert {a["response"] for a in meeting["attendees"]} == {"Organizer"}

    answer = seed_client.post(availability_target, content=availability_body)
    assert answer.status_code == 200, answer.text
    assert [item["errorCode"] for item in answer.json()] == ["NoError", "NoError"]
    for item in answer.json():
        assert item["email"] == SEED_MAILBOX
        assert isinstance(item["unavailableTimeslots"], list)

    # The DELETE sample names another id: schedule that one first, then delete it.
    to_delete = {**json.loads(post_body.replace(b",\n}", b"\n}")), "id": delete_id}
    answer = seed_client.post(MEETING, content=json.dumps(to_delete).encode())
    assert (answer.status_code, answer.json()) == (200, no_error), answer.text
    answer = seed_client.request("DELETE", MEETING, content=delete_body)
    assert (answer.status_code, answer.json()) == (200, no_error), answer.text
    assert answer.headers["X-Correlation-Id"] == "1234567%CE%B29012-3456-789012345678"
    gone = seed_client.get(MEETING, params={"id": delete_id, "organizerEmail": SEED_ADDRESS})
    assert gone.status_code == 404
    assert gone.json()["errorCode"] == "MeetingNotFound"
