"""Wire shapes of the five endpoints, over HTTP, with a stand-in scheduler.

What the core does is tested elsewhere; here: what is accepted, what is
refused with which message, and the exact shape of every answer.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest

from syncd.domain import Attendee, ErrorCode, SyncdError
from tests.support import wait_until

from .fakes import TEAMS_URL, FakeRuntime

MEETING = "/api/salesforce/scheduler/meeting"
AVAILABILITY = "/api/salesforce/scheduler/availability"


def meeting_body(**overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "id": "m-1",
        "organizerEmail": "jane@contoso.example",
        "body": "agenda",
        "subject": "Kick-off",
        "location": "Room 1",
        "startTime": "2030-10-16T10:00:00Z",
        "endTime": "2030-10-16T11:00:00Z",
        "attendees": [{"email": "john@contoso.example", "isRequired": True}],
    }
    body.update(overrides)
    return {k: v for k, v in body.items() if v is not ...}


def send(client: httpx.Client, method: str, body: Any, **kwargs: Any) -> httpx.Response:
    content = body if isinstance(body, bytes) else json.dumps(body).encode()
    return client.request(method, MEETING, content=content, **kwargs)


def assert_invalid(answer: httpx.Response, *fragments: str, email: str | None = None) -> None:
    assert answer.status_code == 400, answer.text
    body = answer.json()
    assert set(body) == {"email", "errorCode", "errorMessage"}
    assert body["errorCode"] == "InvalidRequest"
    assert body["email"] == email
    for fragment in fragments:
        assert fragment in body["errorMessage"]


# ------------------------------------------------------------------ POST


def test_post_answers_no_error_and_hands_the_core_a_domain_meeting(
    client: httpx.Client, fake: FakeRuntime
) -> None:
    answer = send(client, "POST", meeting_body())
    assert answer.status_code == 200
    assert answer.json() == {"email": "jane@contoso.example", "errorCode": "NoError"}
    name, meeting, _ = fake.schedulers["demo"].calls[-1]
    assert name == "schedule"
    assert meeting.start == datetime(2030, 10, 16, 10, tzinfo=UTC)
    assert meeting.attendees == (Attendee("john@contoso.example", required=True),)


def test_post_of_a_teams_meeting_returns_the_join_url(client: httpx.Client) -> None:
    answer = send(client, "POST", meeting_body(location="MS Teams"))
    assert answer.json() == {
        "email": "jane@contoso.example",
        "errorCode": "NoError",
        "joinUrl": TEAMS_URL,
    }


@pytest.mark.parametrize(
    ("given", "required"),
    [(True, True), (False, False), ("true", True), ("FALSE", False), ("True", True)],
)
def test_is_required_takes_booleans_and_strings(
    client: httpx.Client, fake: FakeRuntime, given: Any, required: bool
) -> None:
    attendees = [{"email": "john@contoso.example", "isRequired": given}]
    assert send(client, "POST", meeting_body(attendees=attendees)).status_code == 200
    assert fake.schedulers["demo"].calls[-1][1].attendees[0].required is required


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("2030-10-16T12:00:00+02:00", datetime(2030, 10, 16, 10, tzinfo=UTC)),
        ("2030-10-16T10:00:00", datetime(2030, 10, 16, 10, tzinfo=UTC)),
        ("2030-10-16T05:00:00-05:00", datetime(2030, 10, 16, 10, tzinfo=UTC)),
        ("2030-10-16T10:00:00.750Z", datetime(2030, 10, 16, 10, tzinfo=UTC)),
    ],
)
def test_times_in_any_zone_become_gmt(
    client: httpx.Client, fake: FakeRuntime, given: str, expected: datetime
) -> None:
    assert send(client, "POST", meeting_body(startTime=given)).status_code == 200
    assert fake.schedulers["demo"].calls[-1][1].start == expected


def test_unknown_fields_are_ignored_and_trailing_commas_accepted(client: httpx.Client) -> None:
    text = json.dumps(meeting_body(colour="blue"))[:-1] + ",}"
    assert send(client, "POST", text.encode()).status_code == 200


@pytest.mark.parametrize(
    ("overrides", "fragments"),
    [
        ({"id": ...}, ["id: is required"]),
        ({"id": "  "}, ["id: is empty"]),
        ({"id": "x" * 256}, ["id: is 256 characters long"]),
        ({"id": "a\u0000b"}, ["id: contains the control character U+0000"]),
        ({"subject": ...}, ["subject: is required"]),
        ({"subject": "s" * 256}, ["subject: is 256 characters long; at most 255"]),
        ({"subject": 5}, ["subject: must be a string"]),
        ({"attendees": ...}, ["attendees: is required"]),
        ({"attendees": "all"}, ["attendees: must be a JSON array"]),
        ({"attendees": ["x"]}, ["attendees[0]: must be a JSON object"]),
        ({"attendees": [{"email": "a@@b"}]}, ["attendees[0].email: ", "exactly one '@'"]),
        ({"attendees": [{"email": "a b@c"}]}, ["attendees[0].email: ", "whitespace"]),
        ({"attendees": [{"email": "@c"}]}, ["attendees[0].email: ", "a name before"]),
        (
            {"attendees": [{"email": "a@b", "isRequired": "yes"}]},
            ["attendees[0].isRequired: must be true or false"],
        ),
        ({"startTime": "16/10/2030"}, ["startTime: ", "YYYY-MM-DDThh:mm:ssZ"]),
        ({"startTime": "2030-10-16"}, ["startTime: ", "no time of day"]),
        ({"startTime": 1700000000}, ["startTime: must be a string"]),
        ({"startTime": "0001-01-01T00:00:00+01:00"}, ["startTime: ", "out of range"]),
        ({"endTime": "2030-10-16T09:00:00Z"}, ["endTime: must be after startTime"]),
        ({"salesforceCorrelationId": "a\nb"}, ["salesforceCorrelationId: contains"]),
    ],
)
def test_post_refuses_what_is_not_valid_and_says_which_field(
    client: httpx.Client, overrides: dict[str, Any], fragments: list[str]
) -> None:
    answer = send(client, "POST", meeting_body(**overrides))
    assert_invalid(answer, *fragments, email="jane@contoso.example")


@pytest.mark.parametrize(
    ("content", "fragment"),
    [
        (b"", "request body: is empty"),
        (b"{'id': 1}", "request body: is not valid JSON"),
        (b'{"id": 1 /* c */}', "request body: is not valid JSON"),
        (b"[1, 2]", "request body: must be a JSON object"),
        (b'{"id": "\xff"}', "not UTF-8"),
    ],
)
def test_a_body_that_is_not_a_json_object_is_refused(
    client: httpx.Client, content: bytes, fragment: str
) -> None:
    assert_invalid(send(client, "POST", content), fragment)


def test_an_invalid_organizer_is_not_echoed(client: httpx.Client) -> None:
    assert_invalid(send(client, "POST", meeting_body(organizerEmail="nobody")), email=None)


def test_a_body_over_a_mebibyte_is_refused(client: httpx.Client) -> None:
    answer = send(client, "POST", meeting_body(body="x" * 1_100_000))
    assert_invalid(answer, "request body: is", "at most 1048576")


# ------------------------------------------------------------------ PATCH / DELETE / GET


def test_patch_passes_only_the_given_fields(client: httpx.Client, fake: FakeRuntime) -> None:
    send(client, "POST", meeting_body())
    answer = send(
        client,
        "PATCH",
        {"id": "m-1", "organizerEmail": "jane@contoso.example", "subject": "New"},
    )
    assert answer.json() == {"email": "jane@contoso.example", "errorCode": "NoError"}
    changes = fake.schedulers["demo"].calls[-1][1]
    assert changes.subject == "New"
    assert (changes.body, changes.start, changes.attendees) == (None, None, None)


def test_patch_refuses_null_and_bad_times(client: httpx.Client) -> None:
    ref = {"id": "m-1", "organizerEmail": "jane@contoso.example"}
    jane = ref["organizerEmail"]
    answer = send(client, "PATCH", {**ref, "subject": None})
    assert_invalid(answer, "subject: must not be null", email=jane)
    crossed = {**ref, "startTime": "2030-01-02T00:00:00Z", "endTime": "2030-01-01T00:00:00Z"}
    assert_invalid(send(client, "PATCH", crossed), "endTime: must be after startTime", email=jane)
    assert_invalid(send(client, "PATCH", {"id": "m-1"}), "organizerEmail: is required")


def test_delete_answers_no_error_then_get_answers_not_found(client: httpx.Client) -> None:
    send(client, "POST", meeting_body())
    ref = {"id": "m-1", "organizerEmail": "jane@contoso.example"}
    assert send(client, "DELETE", ref).json() == {
        "email": "jane@contoso.example",
        "errorCode": "NoError",
    }
    answer = client.get(MEETING, params=ref)
    assert answer.status_code == 404
    assert answer.json()["errorCode"] == "MeetingNotFound"
    assert answer.json()["email"] == "jane@contoso.example"


def test_get_answers_the_seed_shape_with_string_flags_and_gmt_times(
    client: httpx.Client,
) -> None:
    attendees = [
        {"email": "john@contoso.example", "isRequired": "true"},
        {"email": "guest@fabrikam.example", "isRequired": False},
    ]
    send(
        client,
        "POST",
        meeting_body(
            location="MS Teams", startTime="2030-10-16T12:00:00+02:00", attendees=attendees
        ),
    )
    answer = client.get(f"{MEETING}?ID=m-1&organizeremail=jane@contoso.example")
    assert answer.status_code == 200
    assert answer.json() == {
        "id": "m-1",
        "organizerEmail": "jane@contoso.example",
        "body": "agenda",
        "subject": "Kick-off",
        "location": "MS Teams",
        "startTime": "2030-10-16T10:00:00Z",
        "endTime": "2030-10-16T11:00:00Z",
        "attendees": [
            {"email": "john@contoso.example", "isRequired": "true", "response": "Accepted"},
            {"email": "guest@fabrikam.example", "isRequired": "false", "response": "Accepted"},
        ],
        "joinUrl": TEAMS_URL,
    }


def test_get_query_problems_are_invalid_requests(client: httpx.Client) -> None:
    assert_invalid(
        client.get(MEETING, params={"organizerEmail": "j@c"}), "id: is required", email="j@c"
    )
    assert_invalid(
        client.get(MEETING, params={"id": "m-1", "organizerEmail": "no-at-sign"}),
        "organizerEmail:",
    )
    assert_invalid(client.get(f"{MEETING}?id=a&id=b&organizerEmail=j@c"), "id: is given 2 times")


# ------------------------------------------------------------------ availability


def test_availability_answers_each_address_in_order(client: httpx.Client) -> None:
    body = (
        b'[{"email": "jane@contoso.example"}, {"email": "guest@fabrikam.example"}, '
        b'{"email": "not-an-address"},]'
    )
    answer = client.post(
        f"{AVAILABILITY}?From=2030-10-15T00:00:00Z&TO=2030-10-15T02:00:00+01:00", content=body
    )
    assert answer.status_code == 200
    first, external, bad = answer.json()
    assert first == {
        "email": "jane@contoso.example",
        "errorCode": "NoError",
        "unavailableTimeslots": [
            {"timeMin": "2030-10-15T00:00:00Z", "timeMax": "2030-10-15T01:00:00Z"}
        ],
    }
    assert external["errorCode"] == "ExternalUserNotSupported"
    assert external["errorMessage"]
    assert external["unavailableTimeslots"] == []
    assert bad["errorCode"] == "InvalidRequest"
    assert bad["email"] == "not-an-address"


DAY = "from=2030-10-15T00:00:00Z&to=2030-10-16T00:00:00Z"
ONE = b'[{"email": "a@b"}]'


@pytest.mark.parametrize(
    ("query", "content", "fragment"),
    [
        ("to=2030-10-16T00:00:00Z", ONE, "from: is required"),
        ("from=2030-10-16T00:00:00Z&to=2030-10-15T00:00:00Z", ONE, "to: must be after from"),
        ("from=2030-01-01T00:00:00Z&to=2031-06-01T00:00:00Z", ONE, "longer than 366 days"),
        ("from=2030-10-15&to=2030-10-16T00:00:00Z", ONE, "from: "),
        (DAY, b"[]", "the array is empty"),
        (DAY, b'{"email": "a@b"}', "must be a JSON array"),
        (DAY, b'[{"mail": "a@b"}]', "[0].email"),
        (DAY, b"[" + b'{"email": "a@b"},' * 101 + b"]", "at most 100"),
    ],
)
def test_availability_refuses_a_bad_window_or_body(
    client: httpx.Client, query: str, content: bytes, fragment: str
) -> None:
    assert_invalid(client.post(f"{AVAILABILITY}?{query}", content=content), fragment)


# ------------------------------------------------------------------ errors


@pytest.mark.parametrize(
    ("code", "status"),
    [
        (ErrorCode.MEETING_NOT_FOUND, 404),
        (ErrorCode.MEETING_ALREADY_EXISTS, 409),
        (ErrorCode.ORGANIZER_MISMATCH, 409),
        (ErrorCode.ORGANIZER_NOT_FOUND, 422),
        (ErrorCode.EXTERNAL_USER_NOT_SUPPORTED, 422),
        (ErrorCode.MAILBOX_NOT_FOUND, 404),
        (ErrorCode.ACCESS_DENIED, 403),
        (ErrorCode.THROTTLED, 429),
        (ErrorCode.UPSTREAM_UNAVAILABLE, 503),
    ],
)
def test_core_errors_map_to_their_status_and_shape(
    client: httpx.Client, fake: FakeRuntime, code: ErrorCode, status: int
) -> None:
    fake.schedulers["demo"].fail_with = SyncdError(code, "what went wrong and what to do")
    answer = send(client, "POST", meeting_body())
    assert answer.status_code == status
    assert answer.json() == {
        "email": "jane@contoso.example",
        "errorCode": str(code),
        "errorMessage": "what went wrong and what to do",
    }
    if code == ErrorCode.THROTTLED:
        assert answer.headers["Retry-After"] == "5"  # the default when Graph named none
    else:
        assert "Retry-After" not in answer.headers


def test_retry_after_is_passed_on_when_known(client: httpx.Client, fake: FakeRuntime) -> None:
    for code in (ErrorCode.THROTTLED, ErrorCode.UPSTREAM_UNAVAILABLE):
        fake.schedulers["demo"].fail_with = SyncdError(code, "later", retry_after=12.2)
        assert send(client, "POST", meeting_body()).headers["Retry-After"] == "13"


def test_an_unexpected_error_is_a_logged_500_without_a_trace(
    client: httpx.Client, fake: FakeRuntime, logged: pytest.LogCaptureFixture
) -> None:
    fake.schedulers["demo"].fail_with = KeyError("secret internals")
    answer = send(client, "POST", meeting_body(salesforceCorrelationId="cid-500"))
    assert answer.status_code == 500
    body = answer.json()
    assert body["errorCode"] == "InternalError"
    assert "secret internals" not in answer.text and "Traceback" not in answer.text
    assert answer.headers["X-Correlation-Id"] == "cid-500"
    records = [r for r in logged.records if r.exc_info and r.correlation_id == "cid-500"]
    assert records, "the exception is logged server-side with the correlation id"


def test_unknown_route_and_wrong_method(client: httpx.Client) -> None:
    missing = client.get("/api/salesforce/scheduler/meetings")
    assert missing.status_code == 404
    assert missing.json()["errorCode"] == "RouteNotFound"
    wrong = client.put(MEETING)
    assert wrong.status_code == 405
    assert wrong.json()["errorCode"] == "MethodNotAllowed"
    assert wrong.headers["Allow"] == "GET, POST, PATCH, DELETE"


# ------------------------------------------------------------------ correlation


def test_the_correlation_id_reaches_the_core_the_logs_and_the_header(
    client: httpx.Client, fake: FakeRuntime, logged: pytest.LogCaptureFixture
) -> None:
    answer = send(client, "POST", meeting_body(salesforceCorrelationId="sf-123"))
    assert answer.headers["X-Correlation-Id"] == "sf-123"
    assert fake.schedulers["demo"].calls[-1][2] == "sf-123"
    # Only the meeting request's line: the token request (when one is made) has its own id.
    # The line is written once the answer has been sent, so it may come just after it.
    lines = wait_until(
        lambda: [
            r for r in logged.records if r.name == "syncd.api" and "POST /api/" in r.getMessage()
        ],
        "the request's log line",
        timeout=10,
    )
    assert all(r.correlation_id == "sf-123" and r.tenant == "demo" for r in lines)


def test_a_query_correlation_id_is_used_and_one_is_made_when_absent(
    client: httpx.Client, fake: FakeRuntime
) -> None:
    send(client, "POST", meeting_body())
    generated = fake.schedulers["demo"].calls[-1][2]
    assert generated
    answer = client.get(MEETING, params={"id": "m-1", "organizerEmail": "j@c.example"})
    assert answer.headers["X-Correlation-Id"] != generated
    answer = client.get(
        MEETING,
        params={"id": "m-1", "organizerEmail": "j@c.example", "SalesforceCorrelationId": "q-1"},
    )
    assert answer.headers["X-Correlation-Id"] == "q-1"
    assert fake.schedulers["demo"].calls[-1][2] == "q-1"


def test_a_non_ascii_correlation_id_is_percent_encoded_in_the_header(
    client: httpx.Client, fake: FakeRuntime
) -> None:
    answer = send(client, "POST", meeting_body(salesforceCorrelationId="1234567\u03b29012"))
    assert answer.headers["X-Correlation-Id"] == "1234567%CE%B29012"
    assert fake.schedulers["demo"].calls[-1][2] == "1234567\u03b29012"
