"""JSON batching: up to 20 requests in one POST /$batch, each answered on its own.

https://learn.microsoft.com/en-us/graph/json-batching
Inner requests run through the same pipeline as HTTP requests (auth, throttling,
faults), up to 4 at a time as Outlook does
(https://learn.microsoft.com/en-us/graph/throttling-limits#outlook-service-limits-for-json-batching);
`dependsOn` sequences them and a failed dependency answers 424.

The envelope answers 200 whenever it parses, as json-batching says; the fault knobs
make it fail whole with 424 as https://learn.microsoft.com/en-us/graph/throttling#throttling-and-batching
says it does when a request inside was throttled (`Faults.throttled_batch_status`), or
on demand (`Faults.fail_next_batch`).
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import parse_qsl

from syncd.sandbox.faults import Faults
from syncd.sandbox.microsoft.errors import GraphError, bad_request, error_body
from syncd.sandbox.microsoft.graph_types import GraphRequest, GraphResponse

PARALLEL = 4
METHODS = ("GET", "POST", "PATCH", "PUT", "DELETE")

Dispatch = Callable[[GraphRequest], Awaitable[GraphResponse]]


@dataclass(frozen=True)
class BatchItem:
    id: str
    method: str
    url: str
    headers: dict[str, str]
    body: Any
    depends_on: tuple[str, ...]


def _invalid(message: str = "Invalid batch payload format.") -> GraphError:
    return bad_request(message)


def parse_batch(body: Any, limit: int) -> list[BatchItem]:
    """Validate the envelope: the whole batch fails with 400 when it is malformed."""
    if not isinstance(body, dict):
        raise _invalid()
    requests = {str(k).lower(): v for k, v in body.items()}.get("requests")
    if not isinstance(requests, list) or not requests:
        raise _invalid()
    if len(requests) > limit:
        raise _invalid("Number of requests inside batch exceeds the limit.")
    items: list[BatchItem] = []
    for raw in requests:
        if not isinstance(raw, dict):
            raise _invalid()
        fields = {str(k).lower(): v for k, v in raw.items()}
        item_id, method, url = fields.get("id"), fields.get("method"), fields.get("url")
        if not isinstance(item_id, str) or not item_id or not isinstance(url, str):
            raise _invalid("Each batch request needs a string 'id' and 'url'.")
        if not isinstance(method, str) or method.upper() not in METHODS:
            raise _invalid(f"Request '{item_id}' has an unsupported method {method!r}.")
        headers = fields.get("headers") or {}
        depends = fields.get("dependson") or []
        if not isinstance(headers, dict) or not isinstance(depends, list):
            raise _invalid(f"Request '{item_id}' has malformed headers or dependsOn.")
        items.append(
            BatchItem(
                id=item_id,
                method=method.upper(),
                url=url,
                headers={str(k).lower(): str(v) for k, v in headers.items()},
                body=fields.get("body"),
                depends_on=tuple(str(d) for d in depends),
            )
        )
    _check_ids(items)
    return items


def _check_ids(items: list[BatchItem]) -> None:
    ids = [item.id.lower() for item in items]
    if len(set(ids)) != len(ids):
        raise _invalid("Batch request ids must be unique.")
    known = set(ids)
    graph = {item.id.lower(): [d.lower() for d in item.depends_on] for item in items}
    for item in items:
        for dependency in item.depends_on:
            if dependency.lower() not in known or dependency.lower() == item.id.lower():
                raise _invalid(f"Request '{item.id}' depends on unknown request '{dependency}'.")
    state: dict[str, int] = {}

    def visit(node: str) -> None:
        if state.get(node) == 1:
            raise _invalid("The dependsOn graph of the batch contains a cycle.")
        if state.get(node) == 2:
            return
        state[node] = 1
        for nxt in graph[node]:
            visit(nxt)
        state[node] = 2

    for node in graph:
        visit(node)


def _inner_request(item: BatchItem, outer: GraphRequest) -> GraphRequest:
    url = item.url
    if "://" in url:
        raise bad_request("Batch request urls must be relative, e.g. '/users/{id}/events'.")
    path, _, query = url.partition("?")
    path = "/" + path.lstrip("/")
    if path.lower().startswith("/v1.0/"):
        path = path[len("/v1.0") :]
    headers = dict(item.headers)
    headers["authorization"] = outer.headers.get("authorization", "")
    return GraphRequest(
        method=item.method,
        path=path,
        query=dict(parse_qsl(query, keep_blank_values=True)),
        headers=headers,
        body=item.body,
        base_url=outer.base_url,
        inner=True,
    )


def _failed_dependency(item: BatchItem, dependency: str, now: datetime) -> GraphResponse:
    request_id = str(uuid.uuid4())
    body = error_body(
        "FailedDependency",
        f"Request '{item.id}' was not run because request '{dependency}' failed.",
        request_id,
        item.headers.get("client-request-id", request_id),
        now,
    )
    return GraphResponse(424, body, {"request-id": request_id})


def _batch_not_run(
    status: int, outer: GraphRequest, now: datetime, retry_after: int
) -> GraphResponse:
    """A whole-batch failure before any inner request ran: an error body, no responses."""
    request_id = str(uuid.uuid4())
    body = error_body(
        "FailedDependency",
        "The batch failed as a whole; none of its requests was carried out.",
        request_id,
        outer.headers.get("client-request-id", request_id),
        now,
    )
    return GraphResponse(status, body, {"request-id": request_id, "Retry-After": str(retry_after)})


async def run_batch(
    outer: GraphRequest,
    items: list[BatchItem],
    dispatch: Dispatch,
    now: Callable[[], datetime],
    faults: Faults | None = None,
) -> GraphResponse:
    """Run the inner requests and collect `{"responses": [...]}`: 200, or a whole-batch
    failure (424) when the fault knobs ask for one (see the module docstring)."""
    forced = faults.take_batch_failure() if faults is not None else None
    if forced is not None and not forced.run_requests:
        assert faults is not None
        return _batch_not_run(forced.status, outer, now(), faults.retry_after_seconds)
    done = {item.id.lower(): asyncio.Event() for item in items}
    results: dict[str, GraphResponse] = {}
    gate = asyncio.Semaphore(PARALLEL)

    async def run(item: BatchItem) -> None:
        try:
            for dependency in item.depends_on:
                await done[dependency.lower()].wait()
                if not 200 <= results[dependency.lower()].status < 300:
                    results[item.id.lower()] = _failed_dependency(item, dependency, now())
                    return
            try:
                inner = _inner_request(item, outer)
            except GraphError as error:
                results[item.id.lower()] = GraphResponse(
                    error.status, error.body(request_id="", client_request_id="", now=now())
                )
                return
            async with gate:
                results[item.id.lower()] = await dispatch(inner)
        finally:
            done[item.id.lower()].set()

    await asyncio.gather(*(run(item) for item in items))
    responses = [_render(item, results[item.id.lower()]) for item in items]
    status = 200
    if forced is not None:
        status = forced.status
    elif faults is not None and any(r.status == 429 for r in results.values()):
        status = faults.throttled_batch_status
    return GraphResponse(status, {"responses": responses})


def _render(item: BatchItem, response: GraphResponse) -> dict[str, Any]:
    headers = dict(response.headers)
    if response.body is not None:
        headers.setdefault("Content-Type", "application/json")
    rendered: dict[str, Any] = {"id": item.id, "status": response.status, "headers": headers}
    if response.body is not None:
        rendered["body"] = response.body
    return rendered
