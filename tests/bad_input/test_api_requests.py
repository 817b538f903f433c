"""Malformed Scheduler API requests against the real core: a clear error, nothing else touched.

tests/api/test_wire_shapes.py checks the field-by-field messages with a stand-in
core; here every request goes to the real scheduler and sandbox Microsoft 365,
and after each refusal the meeting that was already there, the calendars and
the ledger must be exactly as before.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from syncd.ledger import queries as lq

from .conftest import TENANT, Crm

MEETING = "/api/salesforce/scheduler/meeting"
AVAILABILITY = "/api/salesforce/scheduler/availability"
ANCHOR = "bad-input-anchor"


def _gmt(value: datetime) -> str:
    return value.strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass
class Anchor:
    """The meeting that exists before every bad request, and who is who."""

    organizer: str
    attendee: str
    start: datetime
    body: dict[str, Any]


@pytest.fixture(scope="module")
def anchor(crm: Crm, api: httpx.Client) -> Anchor:
    mailboxes = crm.mailboxes()
    start = (datetime.now(UTC) + timedelta(days=20)).replace(minute=0, second=0, microsecond=0)
    body = {
        "id": ANCHOR,
        "organizerEmail": mailboxes[4],
        "subject": "Anchor",
        "body": "must stay as it is",
        "location": "Room 7",
        "startTime": _gmt(start),
        "endTime": _gmt(start + timedelta(hours=1)),
        "attendees": [{"email": mailboxes[5], "isRequired": True}],
    }
    answer = api.post(MEETING, json=body)
    assert answer.status_code == 200, answer.text
    return Anchor(mailboxes[4], mailboxes[5], start, body)


def _state(crm: Crm, api: httpx.Client) -> dict[str, Any]:
    """What a bad request must not change: the anchor, every calendar, the ledger."""
    answer = api.get(MEETING, params={"id": ANCHOR})
    calendars = {
        user.id: sorted(
            (e.id, e.change_key, e.is_cancelled) for e in crm.sandbox.calendars.events(user.id)
        )
        for user in crm.sandbox.tenant(TENANT).users
    }
    return {
        "anchor": (answer.status_code, answer.json()),
        "calendars": calendars,
        "ledger": lq.count_by_status(crm.runtime.engine, TENANT),
    }


@pytest.fixture
def untouched(crm: Crm, api: httpx.Client, anchor: Anchor) -> Iterator[None]:
    before = _state(crm, api)
    yield
    assert _state(crm, api) == before


def meeting(anchor: Anchor, **overrides: Any) -> dict[str, Any]:
    body = {**anchor.body, "id": "bad-input-new", **overrides}
    return {k: v for k, v in body.items() if v is not ...}


@dataclass(frozen=True)
class BadRequest:
    name: str
    method: str
    status: int
    code: str
    fragment: str
    build: Any  # (anchor) -> dict of httpx.request keyword arguments


def _json(method: str, make: Any) -> Any:
    return lambda a: {"method": method, "url": MEETING, "json": make(a)}


def _raw(method: str, content: bytes, url: str = MEETING) -> Any:
    return lambda _a: {"method": method, "url": url, "content": content}


def _window(query: str, content: bytes) -> Any:
    return lambda _a: {"method": "POST", "url": f"{AVAILABILITY}?{query}", "content": content}


DAY = "from=2030-10-15T00:00:00Z&to=2030-10-16T00:00:00Z"

BAD_REQUESTS: tuple[BadRequest, ...] = (
    BadRequest(
        "organizer_outside_the_tenant",
        "POST",
        422,
        "OrganizerNotFound",
        "is not in this tenant's mail domains",
        _json("POST", lambda a: meeting(a, organizerEmail="boss@fabrikam.example")),
    ),
    BadRequest(
        "organizer_lookalike_domain",
        "POST",
        422,
        "OrganizerNotFound",
        "is not in this tenant's mail domains",
        _json("POST", lambda a: meeting(a, organizerEmail="boss@northwind.example.evil.test")),
    ),
    BadRequest(
        "organizer_without_mailbox",
        "POST",
        422,
        "OrganizerNotFound",
        "has no mailbox in this tenant",
        _json("POST", lambda a: meeting(a, organizerEmail="alex.wilber@northwind.example")),
    ),
    BadRequest(
        "end_before_start",
        "POST",
        400,
        "InvalidRequest",
        "endTime: must be after startTime",
        _json("POST", lambda a: meeting(a, endTime=_gmt(a.start - timedelta(hours=1)))),
    ),
    BadRequest(
        "zero_length",
        "POST",
        400,
        "InvalidRequest",
        "endTime: must be after startTime",
        _json("POST", lambda a: meeting(a, endTime=a.body["startTime"])),
    ),
    BadRequest(
        "attendee_not_an_address",
        "POST",
        400,
        "InvalidRequest",
        "attendees[0].email",
        _json("POST", lambda a: meeting(a, attendees=[{"email": "Jane <jane@example.org>"}])),
    ),
    BadRequest(
        "too_many_attendees",
        "POST",
        400,
        "InvalidRequest",
        "attendees: has too many entries (at most 500)",
        _json(
            "POST",
            lambda a: meeting(a, attendees=[{"email": f"p{i}@example.org"} for i in range(501)]),
        ),
    ),
    BadRequest(
        "subject_with_escape_sequence",
        "POST",
        400,
        "InvalidRequest",
        "subject: contains the control character U+001B",
        _json("POST", lambda a: meeting(a, subject="\x1b[2J cleared")),
    ),
    BadRequest(
        "lone_surrogate",
        "POST",
        400,
        "InvalidRequest",
        "lone surrogate U+D800",
        lambda a: {
            "method": "POST",
            "url": MEETING,
            "content": json.dumps(meeting(a, subject="x")).replace('"x"', '"\\ud800"').encode(),
        },
    ),
    BadRequest(
        "nested_a_hundred_thousand_deep",
        "POST",
        400,
        "InvalidRequest",
        "request body: is not valid JSON (nested too deeply)",
        _raw("POST", b"[" * 100_000 + b"]" * 100_000),
    ),
    BadRequest(
        "integer_of_five_thousand_digits",
        "POST",
        400,
        "InvalidRequest",
        "request body: is not valid JSON",
        _raw("POST", b'{"id": ' + b"9" * 5000 + b"}"),
    ),
    BadRequest(
        "nan_literal",
        "POST",
        400,
        "InvalidRequest",
        "NaN is not a JSON value",
        _raw("POST", b'{"id": NaN}'),
    ),
    BadRequest(
        "body_not_utf8",
        "POST",
        400,
        "InvalidRequest",
        "not UTF-8",
        _raw("POST", '{"subject": "café"}'.encode("latin-1")),
    ),
    BadRequest(
        "body_over_a_mebibyte",
        "POST",
        400,
        "InvalidRequest",
        "at most 1048576",
        _json("POST", lambda a: meeting(a, body="x" * 1_100_000)),
    ),
    BadRequest(
        "same_id_other_content",
        "POST",
        409,
        "MeetingAlreadyExists",
        "already exists with other content",
        _json("POST", lambda a: {**a.body, "subject": "Hijacked"}),
    ),
    BadRequest(
        "same_id_other_organizer",
        "POST",
        409,
        "MeetingAlreadyExists",
        "already exists for another organizer",
        _json("POST", lambda a: {**a.body, "organizerEmail": a.attendee}),
    ),
    BadRequest(
        "patch_to_another_organizer",
        "PATCH",
        409,
        "OrganizerMismatch",
        "organized by another user",
        _json("PATCH", lambda a: {"id": ANCHOR, "organizerEmail": a.attendee, "subject": "x"}),
    ),
    BadRequest(
        "patch_end_before_the_kept_start",
        "PATCH",
        400,
        "InvalidRequest",
        "endTime must be after startTime",
        _json(
            "PATCH",
            lambda a: {
                "id": ANCHOR,
                "organizerEmail": a.organizer,
                "endTime": _gmt(a.start - timedelta(days=1)),
            },
        ),
    ),
    BadRequest(
        "patch_null_subject",
        "PATCH",
        400,
        "InvalidRequest",
        "subject: must not be null",
        _json("PATCH", lambda a: {"id": ANCHOR, "organizerEmail": a.organizer, "subject": None}),
    ),
    BadRequest(
        "delete_unknown_id",
        "DELETE",
        404,
        "MeetingNotFound",
        "no-such-meeting",
        _json("DELETE", lambda a: {"id": "no-such-meeting", "organizerEmail": a.organizer}),
    ),
    BadRequest(
        "delete_as_another_organizer",
        "DELETE",
        409,
        "OrganizerMismatch",
        "organized by another user",
        _json("DELETE", lambda a: {"id": ANCHOR, "organizerEmail": a.attendee}),
    ),
    BadRequest(
        "get_with_nul_in_id",
        "GET",
        400,
        "InvalidRequest",
        "id: contains the control character U+0000",
        lambda _a: {"method": "GET", "url": f"{MEETING}?id=a%00b"},
    ),
    BadRequest(
        "correlation_id_with_crlf",
        "GET",
        400,
        "InvalidRequest",
        "salesforceCorrelationId: contains",
        lambda _a: {
            "method": "GET",
            "url": f"{MEETING}?id={ANCHOR}&salesforceCorrelationId=a%0d%0aSet-Cookie:%20x=1",
        },
    ),
    BadRequest(
        "availability_window_reversed",
        "POST",
        400,
        "InvalidRequest",
        "to: must be after from",
        _window("from=2030-10-16T00:00:00Z&to=2030-10-15T00:00:00Z", b'[{"email": "a@b.c"}]'),
    ),
    BadRequest(
        "availability_not_an_array",
        "POST",
        400,
        "InvalidRequest",
        "must be a JSON array",
        _window(DAY, b'{"email": "a@b.c"}'),
    ),
    BadRequest(
        "availability_101_addresses",
        "POST",
        400,
        "InvalidRequest",
        "at most 100",
        _window(
            DAY, json.dumps([{"email": f"u{i}@northwind.example"} for i in range(101)]).encode()
        ),
    ),
)


@pytest.mark.usefixtures("untouched")
@pytest.mark.parametrize("bad", BAD_REQUESTS, ids=[b.name for b in BAD_REQUESTS])
def test_a_bad_request_gets_a_clear_error_and_changes_nothing(
    api: httpx.Client, anchor: Anchor, bad: BadRequest
) -> None:
    answer = api.request(**bad.build(anchor))
    assert answer.status_code == bad.status, answer.text
    body = answer.json()
    assert set(body) == {"email", "errorCode", "errorMessage"}
    assert body["errorCode"] == bad.code
    assert bad.fragment in body["errorMessage"]
    assert "Traceback" not in answer.text
    assert "\r" not in answer.headers["X-Correlation-Id"]
    assert "set-cookie" not in answer.headers


def test_duplicate_attendees_and_the_organizer_as_attendee_are_merged(
    crm: Crm, api: httpx.Client, anchor: Anchor
) -> None:
    guest = "guest@example.org"
    body = meeting(
        anchor,
        id="bad-input-merged",
        startTime=_gmt(anchor.start + timedelta(hours=3)),
        endTime=_gmt(anchor.start + timedelta(hours=4)),
        attendees=[
            {"email": anchor.organizer.upper(), "isRequired": True},
            {"email": guest, "isRequired": "false"},
            {"email": guest.upper(), "isRequired": "true"},
            {"email": anchor.attendee},
        ],
    )
    assert api.post(MEETING, json=body).status_code == 200
    record = crm.runtime.scheduler(TENANT).record_of("bad-input-merged")
    assert record is not None and record.graph_event_id
    outlook = crm.sandbox.calendars.get(crm.directory_id(anchor.organizer), record.graph_event_id)
    invited = sorted((a.address.casefold(), a.type) for a in outlook.attendees)
    # Once each, the organizer not at all; required wins over optional.
    assert invited == [(guest, "required"), (anchor.attendee.casefold(), "required")]


def test_html_in_subject_and_body_is_carried_as_text(
    crm: Crm, api: httpx.Client, anchor: Anchor
) -> None:
    subject = "<script>alert(1)</script>"
    text = "<img src=x onerror=alert(1)><a href='javascript:alert(2)'>x</a>"
    body = meeting(
        anchor,
        id="bad-input-html",
        subject=subject,
        body=text,
        startTime=_gmt(anchor.start + timedelta(hours=5)),
        endTime=_gmt(anchor.start + timedelta(hours=6)),
    )
    assert api.post(MEETING, json=body).status_code == 200
    record = crm.runtime.scheduler(TENANT).record_of("bad-input-html")
    assert record is not None and record.graph_event_id
    outlook = crm.sandbox.calendars.get(crm.directory_id(anchor.organizer), record.graph_event_id)
    assert (outlook.subject, outlook.body_type, outlook.body_content) == (subject, "text", text)
    answer = api.get(MEETING, params={"id": "bad-input-html"})
    assert answer.headers["content-type"].startswith("application/json")
    assert answer.json()["subject"] == subject and answer.json()["body"] == text
