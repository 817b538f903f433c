"""HTTP front of the Graph pipeline: everything under /v1.0 becomes a GraphRequest."""

from __future__ import annotations

import json
from urllib.parse import parse_qsl

from fastapi import APIRouter, Request, Response

from syncd.sandbox.microsoft.graph_app import GraphService
from syncd.sandbox.microsoft.graph_types import GraphRequest, GraphResponse

# The content type Graph answers JSON with.
GRAPH_JSON = (
    "application/json;odata.metadata=minimal;odata.streaming=true;"
    "IEEE754Compatible=false;charset=utf-8"
)
PREFIX = "/v1.0"


async def to_graph_request(request: Request) -> GraphRequest:
    raw_path = request.scope.get("raw_path") or request.url.path.encode()
    path = raw_path.decode("latin-1")[len(PREFIX) :]
    payload = await request.body()
    body, malformed = None, False
    if payload.strip():
        try:
            body = json.loads(payload)
        except ValueError:
            malformed = True
    return GraphRequest(
        method=request.method.upper(),
        path=path,
        query=dict(parse_qsl(request.url.query, keep_blank_values=True)),
        headers={k.lower(): v for k, v in request.headers.items()},
        body=body,
        base_url=str(request.base_url).rstrip("/"),
        malformed_body=malformed,
    )


def to_http_response(response: GraphResponse) -> Response:
    if response.body is None:
        return Response(status_code=response.status, headers=response.headers)
    content = json.dumps(response.body, ensure_ascii=False).encode()
    return Response(
        content=content,
        status_code=response.status,
        headers=response.headers,
        media_type=GRAPH_JSON,
    )


def graph_router(service: GraphService) -> APIRouter:
    router = APIRouter()

    @router.api_route(PREFIX + "/{rest:path}", methods=["GET", "POST", "PATCH", "PUT", "DELETE"])
    async def graph(request: Request) -> Response:
        return to_http_response(await service.handle(await to_graph_request(request)))

    return router
