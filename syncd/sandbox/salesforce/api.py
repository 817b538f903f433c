"""The REST pipeline: version, session, route, API budget, faults, latency, handler.

Every call under /services/data/vXX.X/ needs `Authorization: Bearer <session>`
(an unknown or expired session answers 401 INVALID_SESSION_ID), counts against the
daily budget (403 REQUEST_LIMIT_EXCEEDED once spent) and answers with
`Sforce-Limit-Info: api-usage=N/M`
(https://developer.salesforce.com/docs/atlas.en-us.api_rest.meta/api_rest/headers_api_usage.htm).
The versions list at /services/data/ needs no session and does not count.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote

from syncd.sandbox.salesforce import handlers
from syncd.sandbox.salesforce.errors import SalesforceError, not_found, session_invalid
from syncd.sandbox.salesforce.handlers import Call, Reply
from syncd.sandbox.salesforce.state import MAX_VERSION, MIN_VERSION, SalesforceState

Handler = Callable[[Call], Reply]
_VERSION = re.compile(r"^v(\d{2})\.0$")


@dataclass(frozen=True)
class Route:
    """A method and a path template under /services/data/vXX.X/; `resource` names it in counters."""

    method: str
    template: tuple[str, ...]
    handler: Handler
    resource: str

    @property
    def text(self) -> str:
        return "/services/data/vXX.X/" + "/".join(self.template)

    def match(self, segments: list[str]) -> dict[str, str] | None:
        if len(segments) != len(self.template):
            return None
        params: dict[str, str] = {}
        for part, segment in zip(self.template, segments, strict=True):
            if part.startswith("{"):
                if not segment:
                    return None
                params[part.strip("{}")] = segment
            elif part != segment:
                return None
        return params


ROUTES = [
    Route("GET", (), handlers.resources, "versions"),
    Route("GET", ("query",), handlers.query, "query"),
    Route("GET", ("queryAll",), handlers.query_all, "queryAll"),
    Route("GET", ("query", "{locator}"), handlers.query_more, "query_more"),
    Route("GET", ("queryAll", "{locator}"), handlers.query_more, "query_more"),
    Route("GET", ("limits",), handlers.limits, "limits"),
    Route("GET", ("sobjects",), handlers.sobjects, "describe"),
    Route("GET", ("sobjects", "{sobject}"), handlers.sobject_info, "describe"),
    Route("POST", ("sobjects", "{sobject}"), handlers.create_record, "sobject"),
    Route("GET", ("sobjects", "{sobject}", "describe"), handlers.sobject_describe, "describe"),
    Route("GET", ("sobjects", "{sobject}", "updated"), handlers.get_updated, "updated"),
    Route("GET", ("sobjects", "{sobject}", "deleted"), handlers.get_deleted, "deleted"),
    Route("GET", ("sobjects", "{sobject}", "{id}"), handlers.get_record, "sobject"),
    Route("PATCH", ("sobjects", "{sobject}", "{id}"), handlers.update_record, "sobject"),
    Route("DELETE", ("sobjects", "{sobject}", "{id}"), handlers.delete_record, "sobject"),
    Route("PATCH", ("composite", "sobjects"), handlers.composite_update, "composite"),
]


@dataclass
class ApiRequest:
    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    body: Any = None
    malformed_body: bool = False


@dataclass
class ApiResponse:
    status: int
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)


def versions(newest: int = MAX_VERSION) -> list[dict[str, str]]:
    """GET /services/data/ (resources_versions.htm); three releases a year since Summer '17."""
    seasons = ("Summer", "Winter", "Spring")
    out = []
    for number in range(MIN_VERSION, newest + 1):
        k = number - MIN_VERSION
        label = f"{seasons[k % 3]} '{17 + (k + 2) // 3}"
        out.append({"label": label, "url": f"/services/data/v{number}.0", "version": f"{number}.0"})
    return out


def split(path: str) -> list[str]:
    return [unquote(part) for part in path.strip("/").split("/")] if path.strip("/") else []


class SalesforceApi:
    """Answers /services/data requests against the sandbox org."""

    def __init__(self, state: SalesforceState, routes: list[Route] | None = None) -> None:
        self.state = state
        self.routes = routes or ROUTES

    async def handle(self, request: ApiRequest) -> ApiResponse:
        counters = self.state.counters
        try:
            response = await self._dispatch(request)
        except SalesforceError as error:
            response = ApiResponse(error.status, error.body(), dict(error.headers))
            if error.status == 401:
                counters.add("session_refusals")
        counters.status(response.status)
        return response

    async def _dispatch(self, request: ApiRequest) -> ApiResponse:
        segments = split(request.path)[2:]  # drop "services", "data"
        if not segments:
            return ApiResponse(200, versions(self.state.max_version))
        match = _VERSION.match(segments[0])
        if match is None or not MIN_VERSION <= int(match[1]) <= self.state.max_version:
            raise not_found()
        version = segments[0][1:]
        session = self.state.auth.check(request.headers.get("authorization"))
        if session is None:
            raise session_invalid()
        try:
            return await self._authorized(request, segments[1:], version, session)
        except SalesforceError as error:
            # Every answer after authentication reports the API usage.
            error.headers["Sforce-Limit-Info"] = self.state.budget.header()
            raise

    async def _authorized(
        self, request: ApiRequest, segments: list[str], version: str, session: Any
    ) -> ApiResponse:
        route, params = self._route(request.method, segments)
        try:
            self.state.budget.consume()
        except SalesforceError:
            self.state.counters.add("limit_refusals")
            raise
        self.state.counters.call(
            route.resource, f"{route.method} {route.text}", params.get("sobject")
        )
        forced = self.state.faults.pick(route.resource)
        if forced is not None:
            self.state.counters.add("faults_injected")
            raise forced.error()
        if self.state.faults.latency_seconds > 0:
            await asyncio.sleep(self.state.faults.latency_seconds)
        if request.malformed_body:
            raise SalesforceError(
                400, "JSON_PARSER_ERROR", "Unexpected character in the request body: not valid JSON"
            )
        call = Call(
            state=self.state,
            session=session,
            method=request.method,
            version=version,
            params=params,
            query=request.query,
            headers=request.headers,
            body=request.body,
            now=self.state.org.now(),
        )
        reply = route.handler(call)
        headers = {**reply.headers, "Sforce-Limit-Info": self.state.budget.header()}
        return ApiResponse(reply.status, reply.body, headers)

    def _route(self, method: str, segments: list[str]) -> tuple[Route, dict[str, str]]:
        allowed = []
        for route in self.routes:
            params = route.match(segments)
            if params is None:
                continue
            if route.method == method.upper():
                return route, params
            allowed.append(route.method)
        if allowed:
            raise SalesforceError(
                405,
                "METHOD_NOT_ALLOWED",
                f"HTTP Method '{method.upper()}' not allowed. "
                f"Allowed are {','.join(sorted(set(allowed)))}",
            )
        raise not_found()
