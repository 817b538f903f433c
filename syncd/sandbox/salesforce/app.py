"""HTTP front of the sandbox org: /services/data, the OAuth token endpoint, the admin API.

Mount it next to the Microsoft side with one line:

    app.include_router(salesforce_router(state))

or serve it alone with `build_salesforce_app(state)` (an ASGI app).
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import parse_qsl

from fastapi import APIRouter, FastAPI, Request, Response
from fastapi.responses import JSONResponse

from syncd.sandbox.salesforce.admin import salesforce_admin_router
from syncd.sandbox.salesforce.api import ApiRequest, ApiResponse, SalesforceApi
from syncd.sandbox.salesforce.auth import OAuthError
from syncd.sandbox.salesforce.errors import not_found, session_invalid
from syncd.sandbox.salesforce.state import SalesforceState

# The content type Salesforce answers JSON with.
SALESFORCE_JSON = "application/json;charset=UTF-8"
NO_STORE = {"Cache-Control": "no-cache,must-revalidate,max-age=0,no-store,private"}


async def to_api_request(request: Request) -> ApiRequest:
    raw_path = request.scope.get("raw_path") or request.url.path.encode()
    payload = await request.body()
    body, malformed = None, False
    if payload.strip():
        try:
            body = json.loads(payload)
        except ValueError:
            malformed = True
    return ApiRequest(
        method=request.method.upper(),
        path=raw_path.decode("latin-1").split("?", 1)[0],
        query=dict(parse_qsl(request.url.query, keep_blank_values=True)),
        headers={k.lower(): v for k, v in request.headers.items()},
        body=body,
        malformed_body=malformed,
    )


def to_http_response(response: ApiResponse) -> Response:
    if response.body is None:
        return Response(status_code=response.status, headers=response.headers)
    content = json.dumps(response.body, ensure_ascii=False).encode()
    return Response(
        content=content,
        status_code=response.status,
        headers=response.headers,
        media_type=SALESFORCE_JSON,
    )


def base_url_of(request: Request) -> str:
    """The sandbox's own https origin as the client reached it (instance_url, aud)."""
    return str(request.base_url).rstrip("/")


def salesforce_router(state: SalesforceState) -> APIRouter:
    """All Salesforce routes: REST API, OAuth token endpoint and /_sandbox/salesforce admin."""
    api = SalesforceApi(state)
    router = APIRouter()

    @router.api_route("/services/data", methods=["GET"])
    @router.api_route(
        "/services/data/{rest:path}", methods=["GET", "POST", "PATCH", "PUT", "DELETE"]
    )
    async def data(request: Request) -> Response:
        return to_http_response(await api.handle(await to_api_request(request)))

    @router.post("/services/oauth2/token")
    async def token(request: Request) -> JSONResponse:
        # https://help.salesforce.com/s/articleView?id=sf.remoteaccess_oauth_endpoints.htm
        form = dict(parse_qsl((await request.body()).decode(), keep_blank_values=True))
        headers = {k.lower(): v for k, v in request.headers.items()}
        forced = state.faults.pick("oauth")
        if forced is not None:
            state.counters.add("faults_injected")
            return JSONResponse(
                {"error": "server_error", "error_description": forced.error().message},
                status_code=forced.status,
            )
        try:
            answer = state.auth.issue(form, headers, base_url_of(request))
        except OAuthError as error:
            state.counters.add("token_failures")
            return JSONResponse(error.body(), status_code=error.status, headers=NO_STORE)
        state.counters.add("tokens_issued")
        return JSONResponse(answer, headers=NO_STORE)

    @router.get("/id/{org_id}/{user_id}")
    async def identity(org_id: str, user_id: str, request: Request) -> JSONResponse:
        # The identity URL a token answer's `id` points at:
        # https://help.salesforce.com/s/articleView?id=sf.remoteaccess_using_openid.htm
        session = state.auth.check(request.headers.get("authorization"))
        if session is None:
            return JSONResponse(session_invalid().body(), status_code=401)
        user = state.org.get(user_id, include_deleted=False)
        if org_id != state.org.org_id or user is None or not user_id.startswith("005"):
            return JSONResponse(not_found().body(), status_code=404)
        return JSONResponse(identity_body(state, user, base_url_of(request)))

    router.include_router(salesforce_admin_router(state))
    return router


def identity_body(state: SalesforceState, user: dict[str, Any], base_url: str) -> dict[str, Any]:
    """The fields of the identity service answer a client typically reads."""
    data = f"{base_url}/services/data/v{{version}}"
    return {
        "id": f"{base_url}/id/{state.org.org_id}/{user['Id']}",
        "user_id": user["Id"],
        "organization_id": state.org.org_id,
        "username": user["Username"],
        "display_name": user["Name"],
        "email": user["Email"],
        "first_name": user["FirstName"],
        "last_name": user["LastName"],
        "timezone": user["TimeZoneSidKey"],
        "active": user["IsActive"],
        "user_type": "STANDARD",
        "urls": {
            "rest": f"{data}/",
            "sobjects": f"{data}/sobjects/",
            "query": f"{data}/query/",
        },
    }


def build_salesforce_app(state: SalesforceState) -> FastAPI:
    """The Salesforce sandbox alone as an ASGI app (tests, or a separate listener)."""
    app = FastAPI(
        title="syncd sandbox: Salesforce", docs_url=None, redoc_url=None, openapi_url=None
    )
    app.include_router(salesforce_router(state))
    return app
