"""`requests` response hooks that count every HTTP exchange of the Graph and
Salesforce sessions (syncd.graph.http, syncd.salesforce.http install them).

A hook sees each attempt, retries included, as the services count them. A Graph
`$batch` is one round trip and one request per inner request, each with the
inner request's own route and status (the envelope's status when it has no
answer for it): https://learn.microsoft.com/graph/throttling#throttling-and-batching
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

import requests

from syncd.metrics import definitions as m
from syncd.metrics.routes import graph_inner_route, graph_route, salesforce_route

log = logging.getLogger(__name__)

#: The error code Salesforce answers (HTTP 403) when the org's API allowance is spent:
#: https://developer.salesforce.com/docs/atlas.en-us.api_rest.meta/api_rest/errorcodes.htm
LIMIT_EXCEEDED = "REQUEST_LIMIT_EXCEEDED"

#: The JSON body of the request being sent in this thread, as the sender built it: the
#: hook runs inside `Session.request`, and decoding the bytes of a $batch of 20 events
#: again only to read its inner ids, methods and URLs cost more than the rest of the hook.
_SENDING: ContextVar[Any] = ContextVar("syncd_http_sending_json", default=None)

#: Where a decoded JSON answer is kept on its `requests.Response`, so the hook and the
#: client decode each answer once between them.
_DECODED = "_syncd_json"


@contextmanager
def sending_json(body: Any) -> Iterator[None]:
    """Within: the request sent is `body` as JSON (the hook reads it instead of the bytes)."""
    token = _SENDING.set(body)
    try:
        yield
    finally:
        _SENDING.reset(token)


def response_json(response: requests.Response) -> Any:
    """`response.json()`, decoded once however many readers ask; ValueError as it raises."""
    cached = response.__dict__.get(_DECODED, _DECODED)
    if cached is _DECODED:
        cached = response.json()
        response.__dict__[_DECODED] = cached
    return cached


def graph_response(response: requests.Response, *args: Any, **kwargs: Any) -> None:
    """Count one exchange of the Graph session (Graph itself, or the identity platform)."""
    try:
        request = response.request
        service, route = graph_route(request.url or "")
        method, status = (request.method or "").upper(), response.status_code
        m.HTTP_REQUESTS.labels(service, method, route, str(status)).inc()
        if service != "graph":
            return
        if route == "/$batch":
            _count_batch(request, response)
            return
        m.GRAPH_REQUESTS.labels(method, route, str(status)).inc()
        if status == 429:
            m.THROTTLED.labels("graph").inc()
    except Exception:  # counting must never break a call
        log.debug("could not count a Graph response", exc_info=True)


def _count_batch(request: requests.PreparedRequest, response: requests.Response) -> None:
    sending = _SENDING.get()
    sent = sending if isinstance(sending, dict) else _json(request.body)
    inner = sent.get("requests") or []
    try:
        answer = response_json(response) if response.content else {}
    except ValueError:
        answer = {}
    answered = {
        str(item.get("id")): int(item.get("status", 0))
        for item in ((answer if isinstance(answer, dict) else {}).get("responses") or [])
        if isinstance(item, dict)
    }
    for item in inner:
        status = answered.get(str(item.get("id")), response.status_code)
        method = str(item.get("method", "")).upper()
        m.GRAPH_REQUESTS.labels(
            method, graph_inner_route(str(item.get("url", ""))), str(status)
        ).inc()
        if status == 429:
            m.THROTTLED.labels("graph").inc()


def salesforce_response(response: requests.Response, *args: Any, **kwargs: Any) -> None:
    """Count one exchange of the Salesforce session (REST calls and logins)."""
    try:
        request = response.request
        status = response.status_code
        route = salesforce_route(request.url or "")
        m.HTTP_REQUESTS.labels(
            "salesforce", (request.method or "").upper(), route, str(status)
        ).inc()
        if status == 403 and LIMIT_EXCEEDED.encode() in (response.content or b""):
            m.THROTTLED.labels("salesforce").inc()
    except Exception:  # counting must never break a call
        log.debug("could not count a Salesforce response", exc_info=True)


def _json(raw: Any) -> dict[str, Any]:
    if not raw:
        return {}
    try:
        value = json.loads(raw)
    except (TypeError, ValueError):
        return {}
    return value if isinstance(value, dict) else {}
