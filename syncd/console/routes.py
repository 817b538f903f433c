"""/status (server-rendered pages and their POST actions) and /metrics, for operators.

Routes stay thin: check the operator, read or change the ledger through
syncd.console.overview / syncd.ledger, render a template or redirect (POST, then
redirect, then GET: a reload never repeats an action).
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Annotated
from urllib.parse import parse_qs, quote

from fastapi import APIRouter, Depends, FastAPI, Request
from fastapi.responses import HTMLResponse, PlainTextResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates
from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, generate_latest
from starlette.concurrency import run_in_threadpool

from syncd import __version__
from syncd.auth.throttle import BruteForceGuard, caller_key
from syncd.console import overview
from syncd.console.auth import COOKIE, Operator, OperatorAuth
from syncd.ledger import tenant_state as ts
from syncd.ledger.retries import retry_now

log = logging.getLogger("syncd.console")
router = APIRouter(include_in_schema=False)
templates = Jinja2Templates(directory=str(Path(__file__).with_name("templates")))
templates.env.globals["when"] = overview.when
templates.env.globals["version"] = __version__

#: Why /status answers 403 when no operator credential is configured: it says how to
#: turn it on, and nothing else opens it (an API client's credential never does).
OFF_MESSAGE = (
    "The status page and /metrics are off: no operator credential is configured. "
    'Set [operator] token = { env = "SYNCD_OPERATOR_TOKEN" } (or { file = "..." } or '
    '{ credential = "..." }) in syncd.toml, put a token of at least 32 characters there, '
    "and restart the API."
)


class Denied(Exception):
    """The request is not an operator's: answer `response` instead."""

    def __init__(self, response: Response) -> None:
        self.response = response


def _auth(request: Request) -> OperatorAuth:
    return request.app.state.operator_auth


def _attempt_keys(request: Request) -> list[str]:
    """Failed operator credentials are counted per source address, like the API's."""
    return [caller_key("operator", request.client.host if request.client else "", "operator")]


def _must_wait(request: Request) -> Response | None:
    """429 while this source is slowed down after repeated wrong operator tokens."""
    guard: BruteForceGuard = request.app.state.operator_guard
    wait = guard.retry_after(_attempt_keys(request))
    if wait is None:
        return None
    return PlainTextResponse(
        f"429 Too Many Requests: too many wrong operator tokens; try again in {wait} s",
        status_code=429,
        headers={"Retry-After": str(wait)},
    )


def _failed_attempt(request: Request) -> None:
    guard: BruteForceGuard = request.app.state.operator_guard
    guard.record_failure(_attempt_keys(request))


def _unauthorized(message: str) -> PlainTextResponse:
    return PlainTextResponse(
        f"401 Unauthorized: {message}",
        status_code=401,
        headers={"WWW-Authenticate": 'Bearer realm="syncd operator"'},
    )


async def operator(request: Request) -> Operator:
    """The operator behind the request (bearer token or session cookie), else Denied."""
    auth = _auth(request)
    if not auth.enabled:
        raise Denied(PlainTextResponse(f"403 Forbidden: {OFF_MESSAGE}", status_code=403))
    header = request.headers.get("authorization")
    if header is not None:
        waiting = await run_in_threadpool(_must_wait, request)
        if waiting is not None:
            raise Denied(waiting)
        scheme, _, value = header.partition(" ")
        if scheme.lower() == "bearer" and auth.token_matches(value.strip()):
            return Operator("bearer")
        await run_in_threadpool(_failed_attempt, request)
        log.warning("operator request refused: wrong credential in Authorization")
        raise Denied(
            _unauthorized(
                "this is not the operator token (API client credentials do not open /status)"
            )
        )
    cookie = request.cookies.get(COOKIE)
    found = auth.session_of(cookie) if cookie else None
    if found is not None:
        return found
    if request.method == "GET" and request.url.path.startswith("/status"):
        raise Denied(RedirectResponse("/status/login", status_code=303))
    raise Denied(_unauthorized("send Authorization: Bearer <operator token>, or log in"))


OperatorDep = Annotated[Operator, Depends(operator)]


async def _form(request: Request) -> dict[str, str]:
    """An application/x-www-form-urlencoded body (first value of each field)."""
    body = (await request.body())[:65_536].decode("utf-8", "replace")
    return {name: values[0] for name, values in parse_qs(body).items()}


async def _checked_form(request: Request, who: Operator) -> dict[str, str]:
    """The form of a POST action, after its CSRF token was checked."""
    form = await _form(request)
    if not _auth(request).csrf_matches(who, form.get("csrf", "")):
        log.warning("operator action refused: missing or wrong CSRF token")
        raise Denied(
            PlainTextResponse(
                "403 Forbidden: the form's CSRF token is missing or wrong; "
                "reload /status and use its buttons",
                status_code=403,
            )
        )
    return form


def _tenant(request: Request, tenant: str) -> str:
    if tenant not in request.app.state.runtime.config.tenants:
        raise Denied(PlainTextResponse(f"404: no tenant '{tenant}'", status_code=404))
    return tenant


def _by(request: Request, who: Operator) -> str:
    where = request.client.host if request.client else "unknown"
    return f"operator ({'status page' if who.via == 'session' else 'bearer token'}, {where})"


# ------------------------------------------------------------------- login


@router.get("/status/login", response_class=HTMLResponse)
async def login_form(request: Request) -> Response:
    if not _auth(request).enabled:
        return PlainTextResponse(f"403 Forbidden: {OFF_MESSAGE}", status_code=403)
    return templates.TemplateResponse(request, "login.html", {"error": None})


@router.post("/status/login")
async def login(request: Request) -> Response:
    auth = _auth(request)
    if not auth.enabled:
        return PlainTextResponse(f"403 Forbidden: {OFF_MESSAGE}", status_code=403)
    waiting = await run_in_threadpool(_must_wait, request)
    if waiting is not None:
        return waiting
    form = await _form(request)
    if not auth.token_matches(form.get("token", "")):
        await run_in_threadpool(_failed_attempt, request)
        log.warning("operator login refused: wrong token")
        return templates.TemplateResponse(
            request,
            "login.html",
            {"error": "That is not the operator token."},
            status_code=401,
        )
    response = RedirectResponse("/status", status_code=303)
    response.set_cookie(
        COOKIE,
        auth.new_session(),
        max_age=auth.session_seconds,
        path="/",
        httponly=True,
        samesite="strict",
        secure=request.url.scheme == "https",
    )
    log.info("operator logged in to the status page")
    return response


@router.post("/status/logout")
async def logout(request: Request, who: OperatorDep) -> Response:
    await _checked_form(request, who)
    response = RedirectResponse("/status/login", status_code=303)
    response.delete_cookie(COOKIE, path="/")
    return response


# ------------------------------------------------------------------- pages


@router.get("/status", response_class=HTMLResponse)
async def status_page(request: Request, who: OperatorDep) -> Response:
    runtime = request.app.state.runtime
    now = runtime.clock()

    def read() -> list[overview.TenantView]:
        broken = runtime.broken_tenants()
        return [
            overview.tenant_view(runtime.engine, name, now, broken.get(name))
            for name in runtime.config.tenants
        ]

    tenants = await run_in_threadpool(read)
    return templates.TemplateResponse(
        request, "status.html", {"tenants": tenants, "csrf": who.csrf or "", "now": now}
    )


@router.get("/status/{tenant}/records/{source}/{external_id}", response_class=HTMLResponse)
async def record_page(
    request: Request, tenant: str, source: str, external_id: str, who: OperatorDep
) -> Response:
    runtime = request.app.state.runtime
    _tenant(request, tenant)
    view = await run_in_threadpool(
        overview.record_view, runtime.engine, tenant, source, external_id
    )
    if view is None:
        return PlainTextResponse(
            f"404: tenant {tenant} has no {source} record {external_id}", status_code=404
        )
    retry_seconds = runtime.config.tenants[tenant].salesforce.schedules.retry_failed_seconds
    return templates.TemplateResponse(
        request,
        "record.html",
        {
            "tenant": tenant,
            "view": view,
            "csrf": who.csrf or "",
            "notice": request.query_params.get("notice"),
            "retry_seconds": retry_seconds,
            "paused": ts.is_paused(runtime.engine, tenant),
        },
    )


# ----------------------------------------------------------------- actions


@router.post("/status/{tenant}/records/{source}/{external_id}/retry")
async def retry_record(
    request: Request, tenant: str, source: str, external_id: str, who: OperatorDep
) -> Response:
    await _checked_form(request, who)
    runtime = request.app.state.runtime
    _tenant(request, tenant)
    if source != "salesforce":
        notice = "only Salesforce records are retried here; the API's caller resends its request"
    else:
        count = await run_in_threadpool(
            retry_now, runtime.engine, tenant, [external_id], runtime.clock()
        )
        notice = (
            "back-off cleared: the next retry pass takes this record"
            if count
            else "this record has not failed: nothing to retry"
        )
        log.info("operator retry of %s %s: %d record(s) due now", tenant, external_id, count)
    target = f"/status/{quote(tenant)}/records/{quote(source)}/{quote(external_id, safe='')}"
    return RedirectResponse(f"{target}?notice={quote(notice)}", status_code=303)


@router.post("/status/{tenant}/pause")
async def pause_tenant(request: Request, tenant: str, who: OperatorDep) -> Response:
    form = await _checked_form(request, who)
    runtime = request.app.state.runtime
    _tenant(request, tenant)
    reason = form.get("reason", "").strip() or None
    await run_in_threadpool(
        lambda: ts.pause(
            runtime.engine, tenant, now=runtime.clock(), by=_by(request, who), reason=reason
        )
    )
    log.info("tenant %s paused from the status page", tenant)
    return RedirectResponse(f"/status#tenant-{quote(tenant)}", status_code=303)


@router.post("/status/{tenant}/resume")
async def resume_tenant(request: Request, tenant: str, who: OperatorDep) -> Response:
    await _checked_form(request, who)
    runtime = request.app.state.runtime
    _tenant(request, tenant)
    await run_in_threadpool(lambda: ts.resume(runtime.engine, tenant, now=runtime.clock()))
    log.info("tenant %s resumed from the status page", tenant)
    return RedirectResponse(f"/status#tenant-{quote(tenant)}", status_code=303)


# ----------------------------------------------------------------- metrics


@router.get("/metrics")
async def metrics(who: OperatorDep) -> Response:
    return Response(generate_latest(REGISTRY), media_type=CONTENT_TYPE_LATEST)


def install_console(app: FastAPI) -> None:
    """Mount /status and /metrics on the API app behind the operator credential."""
    runtime = app.state.runtime
    app.state.operator_auth = OperatorAuth.from_config(runtime.config, runtime.clock)
    app.state.operator_guard = BruteForceGuard(runtime.engine, runtime.clock)

    async def denied(_request: Request, exc: Exception) -> Response:
        assert isinstance(exc, Denied)
        return exc.response

    app.add_exception_handler(Denied, denied)
    app.include_router(router)
