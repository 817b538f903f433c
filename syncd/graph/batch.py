"""JSON $batch envelopes: building the request body and reading the answer (no I/O here).

Format and limits (20 requests a batch, answers possibly out of order, each
inner request throttled on its own with its own Retry-After):
https://learn.microsoft.com/graph/json-batching
https://learn.microsoft.com/graph/throttling#throttling-and-batching

The envelope answers 200 whenever it parses (json-batching), yet "The batch itself
fails with a status code of 424 (Failed Dependency)" when a request inside it was
throttled (throttling#throttling-and-batching). Both are read the same way: each
request keeps the answer the envelope carries for it, and one without an answer is
`FAILED_DEPENDENCY` (not done), to be sent again like a throttled one.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

MAX_REQUESTS_PER_BATCH = 20
#: 424 Failed Dependency: the status of an envelope that failed whole
#: (throttling#throttling-and-batching), of a request whose `dependsOn` failed
#: (json-batching), and the stand-in answer of a request the envelope has no answer for.
FAILED_DEPENDENCY = 424


@dataclass(frozen=True)
class GraphRequest:
    """One Graph call, as sent inside a $batch."""

    method: str
    url: str  # relative to graph_url, e.g. "/users/a@b.com/events"
    body: dict[str, Any] | None = None
    headers: dict[str, str] = field(default_factory=dict)
    mailbox: str | None = None  # whose per-mailbox limits it counts against


@dataclass(frozen=True)
class GraphResponse:
    """One Graph answer; header names are lower-cased."""

    status: int
    body: Any
    headers: dict[str, str]

    @property
    def ok(self) -> bool:
        return 200 <= self.status < 300


@dataclass(frozen=True)
class NewEvent:
    """One event to create: in whose calendar, the POST body (with its transactionId and
    syncd key), and the correlation id its request carries as `client-request-id`."""

    mailbox: str
    payload: dict[str, Any]
    correlation_id: str | None = None


def envelope(requests: Sequence[GraphRequest]) -> dict[str, Any]:
    """The $batch body; inner ids are the 1-based positions, so answers map back by id."""
    return {"requests": [_inner(str(n), r) for n, r in enumerate(requests, start=1)]}


def _inner(request_id: str, request: GraphRequest) -> dict[str, Any]:
    inner: dict[str, Any] = {"id": request_id, "method": request.method.upper(), "url": request.url}
    headers = dict(request.headers)
    if request.body is not None:
        # "When a body is included with the request, the headers object must
        # contain a value for Content-Type."
        if not any(k.lower() == "content-type" for k in headers):
            headers["Content-Type"] = "application/json"
        inner["body"] = request.body
    if headers:
        inner["headers"] = headers
    return inner


def answers(body: Any, count: int) -> list[GraphResponse | None]:
    """The inner responses in request order (None where Graph's answer lacks one)."""
    found: list[GraphResponse | None] = [None] * count
    responses = body.get("responses") if isinstance(body, dict) else None
    for item in responses or []:
        try:
            position = int(item["id"]) - 1
            status = int(item["status"])
        except (KeyError, TypeError, ValueError):
            continue
        if 0 <= position < count:
            headers = {str(k).lower(): str(v) for k, v in (item.get("headers") or {}).items()}
            found[position] = GraphResponse(status, item.get("body"), headers)
    return found


def answers_or_retry(
    body: Any, count: int, envelope_headers: dict[str, str]
) -> list[GraphResponse]:
    """The inner responses in request order; a request without one gets a
    `FAILED_DEPENDENCY` stand-in carrying the envelope's headers (its Retry-After, if
    any), so it is sent again after the wait the envelope asked for."""
    return [
        found
        if found is not None
        else GraphResponse(FAILED_DEPENDENCY, None, dict(envelope_headers))
        for found in answers(body, count)
    ]
