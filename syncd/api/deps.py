"""Request-scoped building blocks of the routes: the caller, the raw body, the scheduler.

The auth dependency is async on purpose: it sets the tenant context variable
in the request's own task, so every later log line of the request names it.
"""

from __future__ import annotations

import contextlib
from typing import TYPE_CHECKING, Annotated, Any

from fastapi import Depends, Request
from starlette.concurrency import run_in_threadpool

from syncd import logs
from syncd.api import aliases, fields
from syncd.api.middleware import set_correlation_id
from syncd.api.parsing import MAX_BODY_BYTES, invalid, read_json
from syncd.auth import Authenticator, Caller, RequestInfo

if TYPE_CHECKING:
    from syncd.core.scheduler import Scheduler
    from syncd.runtime import Runtime


def runtime_of(request: Request) -> Runtime:
    return request.app.state.runtime


def remote_address(request: Request) -> str:
    return request.client.host if request.client else "unknown"


async def raw_body(request: Request) -> bytes:
    """The body as sent, read once and at most MAX_BODY_BYTES (+1 to notice more)."""
    cached = getattr(request.state, "raw_body", None)
    if cached is not None:
        return cached
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > MAX_BODY_BYTES:
        raise invalid(f"request body: is {declared} bytes; at most {MAX_BODY_BYTES} are accepted")
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > MAX_BODY_BYTES:
            raise invalid(f"request body: is over {MAX_BODY_BYTES} bytes; send less")
        chunks.append(chunk)
    body = b"".join(chunks)
    request.state.raw_body = body
    return body


async def authenticated_caller(request: Request) -> Caller:
    """Who is calling (and so which tenant), or an AuthError answered as 401/403/429."""
    authenticator: Authenticator = request.app.state.authenticator
    body = await raw_body(request)
    info = RequestInfo(
        method=request.method,
        raw_path=request.scope.get("raw_path", request.url.path.encode()).decode(
            "utf-8", "replace"
        ),
        query_string=request.scope.get("query_string", b"").decode("utf-8", "replace"),
        headers={name.lower(): value for name, value in request.headers.items()},
        body=body,
        remote_addr=remote_address(request),
    )
    caller = await run_in_threadpool(authenticator.authenticate, info)
    logs.tenant.set(caller.tenant)
    request.state.caller = caller
    return caller


CallerDep = Annotated[Caller, Depends(authenticated_caller)]


def note_request_facts(request: Request, data: Any) -> None:
    """Remember organizerEmail (for error answers) and adopt the body's correlation id."""
    if not isinstance(data, dict):
        return
    note_organizer(request, data.get("organizerEmail"))
    try:
        correlation = fields.parse_correlation_id(data.get("salesforceCorrelationId"))
    except ValueError:
        return  # validation reports it
    if correlation:
        set_correlation_id(correlation)


def note_organizer(request: Request, value: Any) -> None:
    with contextlib.suppress(ValueError):  # validation reports a bad address
        request.state.organizer_email = fields.parse_email(value)


def tenant_aliases(request: Request) -> dict[str, str]:
    """The address aliases of the authenticated caller's tenant."""
    caller: Caller = request.state.caller
    return runtime_of(request).config.tenant(caller.tenant).address_aliases


async def json_body(request: Request) -> Any:
    """The request body as JSON (trailing commas allowed), aliases resolved, facts noted."""
    data = aliases.apply(read_json(await raw_body(request)), tenant_aliases(request))
    note_request_facts(request, data)
    return data


def scheduler_for(request: Request, caller: Caller) -> Scheduler:
    return runtime_of(request).scheduler(caller.tenant)


def correlation() -> str | None:
    return logs.correlation_id.get()
