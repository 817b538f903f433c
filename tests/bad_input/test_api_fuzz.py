"""Fuzzing the Scheduler API from its own OpenAPI document (schemathesis).

Every operation of /openapi.json gets schema-conforming (positive) and
schema-violating (negative) requests, with a bearer token of tenant crm so the
requests get past auth into the handlers, against the real core and sandbox
Microsoft 365. No answer may be a 5xx; every answer must match the document
(status code, content type, body schema) and every error must have the
contract's shape: {"email", "errorCode", "errorMessage"}, or RFC 6749's
{"error", "error_description"} on the token endpoint.

Random addresses and times almost never name a real organizer, so a third,
"steered" run keeps everything schemathesis generates except the addresses,
ids and times, which it draws from the tenant's people, a few ids and sane
windows: those requests get through validation into the core and Microsoft 365
with fuzzed subjects, bodies, locations, flags and correlation ids.

Hypothesis is derandomized and bounded (EXAMPLES per operation and mode), so a
run is repeatable and takes seconds.
"""

from __future__ import annotations

import functools
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from syncd.api import create_app
from syncd.auth.throttle import BruteForcePolicy
from syncd.domain import ErrorCode
from tests.api.live import bearer_client
from tests.support import ThreadedServer

from .conftest import TENANT, Crm

EXAMPLES = 30
STEERED_EXAMPLES = 25
TOKEN_PATH = "/oauth/token"
#: Credentials are the test's own: generated auth headers (the document declares
#: Bearer, Basic and the HMAC headers) are dropped so every request is authenticated.
AUTH_HEADERS = {"authorization", "x-syncd-client-id", "x-syncd-timestamp", "x-syncd-signature"}
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]
CONTRACT_CODES = {code.value for code in ErrorCode}

Statuses = Counter[tuple[str, str, int]]


@pytest.fixture(scope="module")
def fuzz_url(crm: Crm) -> Iterator[str]:
    # No brute-force slow-down here: the fuzz sends many refused token requests from
    # one address, and a slowed-down address would answer 429 instead of reaching
    # the handlers (the slow-down has its own tests in tests/security and tests/auth).
    app = create_app(crm.runtime, brute_force=BruteForcePolicy(max_failures=1_000_000_000))
    server = ThreadedServer(app)
    yield server.url
    server.stop()


@pytest.fixture(scope="module")
def token(crm: Crm, fuzz_url: str) -> str:
    with bearer_client(crm.runtime, fuzz_url, TENANT) as client:
        return str(client.headers["Authorization"])


@pytest.fixture(scope="module")
def statuses() -> Iterator[Statuses]:
    seen: Statuses = Counter()
    yield seen
    total = sum(seen.values())
    lines = [
        f"{label} {mode}: {status} x{count}"
        for (label, mode, status), count in sorted(seen.items())
    ]
    print(f"\nfuzz: {total} cases\n" + "\n".join(lines))


def assert_contract_error(path: str, response: Any) -> None:
    body = response.json()
    if path == TOKEN_PATH:
        assert set(body) == {"error", "error_description"}, body
        assert isinstance(body["error_description"], str) and body["error_description"]
        return
    assert set(body) == {"email", "errorCode", "errorMessage"}, body
    assert body["errorCode"] in CONTRACT_CODES, body
    assert isinstance(body["errorMessage"], str) and body["errorMessage"].strip()
    assert body["email"] is None or isinstance(body["email"], str)


@functools.cache
def operations(url: str) -> list[Any]:
    """The operations of the served document (loaded once per server)."""
    schema = schemathesis.openapi.from_url(f"{url}/openapi.json")
    return [result.ok() for result in schema.get_all_operations()]


def test_the_document_lists_every_operation(fuzz_url: str) -> None:
    labels = sorted(op.label for op in operations(fuzz_url))
    assert labels == sorted(
        [
            "POST /api/salesforce/scheduler/meeting",
            "PATCH /api/salesforce/scheduler/meeting",
            "DELETE /api/salesforce/scheduler/meeting",
            "GET /api/salesforce/scheduler/meeting",
            "POST /api/salesforce/scheduler/availability",
            "POST /oauth/token",
            "GET /healthz",
        ]
    )


@dataclass(frozen=True)
class Steer:
    """What a steered case takes instead of the generated addresses, ids and times."""

    organizer: str
    attendees: tuple[str, ...]
    meeting_id: str
    start: datetime
    minutes: int
    #: Fix only the query (a sane window, a known id): for negative bodies.
    query_only: bool = False

    def apply(self, case: Any) -> None:
        body = None if self.query_only else case.body
        if isinstance(body, dict):
            for name in ("organizerEmail", "id"):
                if name in body:
                    body[name] = self.organizer if name == "organizerEmail" else self.meeting_id
            if isinstance(body.get("attendees"), list):
                for entry, email in zip(body["attendees"], self.attendees, strict=False):
                    if isinstance(entry, dict):
                        entry["email"] = email
            if "startTime" in body or "endTime" in body:
                body["startTime"], body["endTime"] = self.window()
        if isinstance(body, list):  # availability
            for entry, email in zip(body, self.attendees, strict=False):
                if isinstance(entry, dict):
                    entry["email"] = email
        query = case.query
        if isinstance(query, dict):
            if "id" in query:
                query["id"] = self.meeting_id
            if "organizerEmail" in query:
                query["organizerEmail"] = self.organizer
            if "from" in query or "to" in query:
                query["from"], query["to"] = self.window()

    def window(self) -> tuple[str, str]:
        end = self.start + timedelta(minutes=self.minutes)
        return (f"{self.start:%Y-%m-%dT%H:%M:%SZ}", f"{end:%Y-%m-%dT%H:%M:%SZ}")


def steering(people: list[str], *, query_only: bool = False) -> st.SearchStrategy[Steer]:
    base = datetime.now(UTC).replace(minute=0, second=0, microsecond=0) + timedelta(days=40)
    addresses = st.sampled_from([*people, "guest@example.org", "partner@fabrikam.example"])
    return st.builds(
        Steer,
        organizer=st.sampled_from(people[:4]),
        attendees=st.lists(addresses, max_size=6).map(tuple),
        meeting_id=st.sampled_from([f"fuzz-{number}" for number in range(5)]),
        start=st.integers(0, 24 * 14).map(lambda hours: base + timedelta(hours=hours)),
        minutes=st.sampled_from([15, 30, 60, 240]),
        query_only=st.just(query_only),
    )


def fuzz_operation(
    operation: Any,
    mode: GenerationMode,
    url: str,
    token: str,
    statuses: Statuses,
    *,
    steer: st.SearchStrategy[Steer] | None = None,
    examples: int = EXAMPLES,
) -> None:
    """Generated requests to one operation, each checked against the contract."""
    path, label = operation.path, operation.label
    name = mode.value if steer is None else f"{mode.value}+steered"
    if steer is not None and mode is GenerationMode.NEGATIVE:
        name = f"{mode.value}+sane-query"

    @settings(
        max_examples=examples,
        derandomize=True,
        database=None,
        deadline=None,
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    @given(
        case=operation.as_strategy(generation_mode=mode),
        steered=steer if steer is not None else st.none(),
    )
    def fuzz(case: Any, steered: Steer | None) -> None:
        if steered is not None:
            steered.apply(case)
        headers = {
            name: value
            for name, value in (case.headers or {}).items()
            if name.lower() not in AUTH_HEADERS
        }
        if path != TOKEN_PATH:
            headers["Authorization"] = token
        case.headers = headers
        response = case.call(base_url=url, timeout=30)
        statuses[(label, name, response.status_code)] += 1
        assert response.status_code < 500, response.text
        if path not in (TOKEN_PATH, "/healthz"):
            # Authenticated: every request gets past auth into its handler.
            assert response.status_code not in (401, 403, 429), response.text
        if response.status_code >= 400:
            assert_contract_error(path, response)
        case.validate_response(response, checks=CHECKS)

    fuzz()


@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE])
def test_fuzz_every_operation(
    fuzz_url: str, token: str, statuses: Statuses, mode: GenerationMode
) -> None:
    fuzzed = 0
    for operation in operations(fuzz_url):
        if mode is GenerationMode.NEGATIVE and operation.label == "GET /healthz":
            continue  # it takes nothing that could be made invalid
        fuzz_operation(operation, mode, fuzz_url, token, statuses)
        fuzzed += 1
    assert {label for label, m, _status in statuses if m == mode.value} == {
        op.label for op in operations(fuzz_url)
    } - ({"GET /healthz"} if mode is GenerationMode.NEGATIVE else set())
    assert fuzzed >= 6


def test_fuzz_with_real_people_reaches_the_core(
    crm: Crm, fuzz_url: str, token: str, statuses: Statuses
) -> None:
    steer = steering(crm.mailboxes())
    # Make meetings first, then change and read them, and delete them last.
    order = ["POST", "PATCH", "GET", "DELETE"]
    chosen = [op for op in operations(fuzz_url) if op.path not in (TOKEN_PATH, "/healthz")]
    for operation in sorted(chosen, key=lambda op: order.index(op.method.upper())):
        fuzz_operation(
            operation,
            GenerationMode.POSITIVE,
            fuzz_url,
            token,
            statuses,
            steer=steer,
            examples=STEERED_EXAMPLES,
        )
    steered = {(label, status) for label, m, status in statuses if m == "positive+steered"}
    # Past validation: meetings were made, found, changed, and availability answered.
    assert ("POST /api/salesforce/scheduler/meeting", 200) in steered
    assert ("POST /api/salesforce/scheduler/availability", 200) in steered
    assert ("GET /api/salesforce/scheduler/meeting", 200) in steered


def test_negative_bodies_behind_a_sane_query_are_refused_cleanly(
    crm: Crm, fuzz_url: str, token: str, statuses: Statuses
) -> None:
    """A broken window is refused before the body is read; with a sane window (and a
    known id) in the query, the negative bodies themselves reach the parsers."""
    steer = steering(crm.mailboxes(), query_only=True)
    for operation in operations(fuzz_url):
        if operation.path in (TOKEN_PATH, "/healthz") or operation.method.upper() == "GET":
            continue
        fuzz_operation(
            operation,
            GenerationMode.NEGATIVE,
            fuzz_url,
            token,
            statuses,
            steer=steer,
            examples=STEERED_EXAMPLES,
        )
    labels = {label for label, m, _status in statuses if m == "negative+sane-query"}
    assert "POST /api/salesforce/scheduler/availability" in labels
