"""The sandbox's own control API under /_sandbox/: faults, clock, counters, limits, tokens,
delta tokens.

Unauthenticated on purpose: the sandbox listens on the loopback interface only.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from syncd.sandbox.microsoft.state import MicrosoftState


async def _json(request: Request) -> dict[str, Any]:
    payload = await request.body()
    if not payload.strip():
        return {}
    data = await request.json()
    if not isinstance(data, dict):
        raise ValueError("the admin API takes a JSON object")
    return data


def _guard(action: Callable[[], Any]) -> JSONResponse:
    """Run a settings change; a bad setting is the caller's 400, not a crash."""
    try:
        return JSONResponse(action())
    except (ValueError, TypeError, KeyError) as exc:
        return JSONResponse({"error": str(exc)}, status_code=400)


def admin_router(state: MicrosoftState) -> APIRouter:
    router = APIRouter(prefix="/_sandbox")

    @router.get("/faults")
    async def get_faults() -> JSONResponse:
        return JSONResponse(state.faults.snapshot())

    @router.put("/faults")
    async def put_faults(request: Request) -> JSONResponse:
        body = await _json(request)

        def apply() -> dict[str, Any]:
            state.faults.configure(**body)
            return state.faults.snapshot()

        return _guard(apply)

    @router.delete("/faults")
    async def reset_faults() -> JSONResponse:
        state.faults.reset()
        return JSONResponse(state.faults.snapshot())

    @router.get("/clock")
    async def get_clock() -> JSONResponse:
        return JSONResponse(state.clock.snapshot())

    @router.post("/clock/advance")
    async def advance_clock(request: Request) -> JSONResponse:
        body = await _json(request)

        def apply() -> dict[str, Any]:
            state.clock.advance(float(body["seconds"]))
            return state.clock.snapshot()

        return _guard(apply)

    @router.post("/clock/freeze")
    async def freeze_clock(request: Request) -> JSONResponse:
        body = await _json(request)

        def apply() -> dict[str, Any]:
            at = body.get("at")
            state.clock.freeze(datetime.fromisoformat(at) if at else None)
            return state.clock.snapshot()

        return _guard(apply)

    @router.post("/clock/resume")
    async def resume_clock() -> JSONResponse:
        state.clock.resume()
        return JSONResponse(state.clock.snapshot())

    @router.get("/stats")
    async def get_stats() -> JSONResponse:
        return JSONResponse(state.counters.snapshot())

    @router.delete("/stats")
    async def reset_stats() -> JSONResponse:
        state.counters.reset()
        return JSONResponse(state.counters.snapshot())

    @router.post("/tokens/revoke")
    async def revoke_tokens() -> JSONResponse:
        return JSONResponse({"revoked": state.identity.revoke_all()})

    @router.get("/throttle")
    async def get_throttle() -> JSONResponse:
        return JSONResponse(vars(state.throttle.limits))

    @router.put("/throttle")
    async def put_throttle(request: Request) -> JSONResponse:
        body = await _json(request)

        def apply() -> dict[str, Any]:
            state.throttle.configure(**body)
            return vars(state.throttle.limits)

        return _guard(apply)

    @router.get("/answers")
    async def get_answers() -> JSONResponse:
        return JSONResponse(vars(state.answers.policy))

    @router.put("/answers")
    async def put_answers(request: Request) -> JSONResponse:
        body = await _json(request)

        def apply() -> dict[str, Any]:
            state.answers.configure(**body)
            return vars(state.answers.policy)

        return _guard(apply)

    @router.get("/delta")
    async def get_delta() -> JSONResponse:
        return JSONResponse(state.delta.snapshot())

    @router.put("/delta")
    async def put_delta(request: Request) -> JSONResponse:
        """`{"max_age_seconds": N}`: calendarView delta tokens older than N seconds of the
        sandbox clock expire (null: never)."""
        body = await _json(request)

        def apply() -> dict[str, Any]:
            state.delta.configure(max_age_seconds=body.get("max_age_seconds"))
            return state.delta.snapshot()

        return _guard(apply)

    @router.post("/delta/expire")
    async def expire_delta(request: Request) -> JSONResponse:
        """Expire the delta tokens handed out so far: `{"mailbox": address}`'s, or all."""
        body = await _json(request)

        def apply() -> dict[str, Any]:
            owner_id = None
            if body.get("mailbox"):
                user = state.directory.find_by_email(str(body["mailbox"]))
                if user is None:
                    raise KeyError(f"no sandbox mailbox {body['mailbox']!r}")
                owner_id = user.id
            return {"expired": state.delta.expire(owner_id), **state.delta.snapshot()}

        return _guard(apply)

    @router.get("/access-policy")
    async def get_access_policy() -> JSONResponse:
        return JSONResponse({"denied": state.access_policy.snapshot()})

    @router.post("/access-policy/{verb}")
    async def change_access_policy(verb: str, request: Request) -> JSONResponse:
        body = await _json(request)

        def apply() -> dict[str, Any]:
            if verb not in ("deny", "allow"):
                raise ValueError("use /_sandbox/access-policy/deny or /allow")
            change = state.access_policy.deny if verb == "deny" else state.access_policy.allow
            change(str(body["mailbox"]), body.get("client_id"))
            return {"denied": state.access_policy.snapshot()}

        return _guard(apply)

    @router.put("/apps/{client_id}/roles")
    async def put_app_roles(client_id: str, request: Request) -> JSONResponse:
        """Grant exactly these application permissions (tokens issued later carry them in
        `roles`; an empty list is an app nobody consented to)."""
        body = await _json(request)

        def apply() -> dict[str, Any]:
            roles = body["roles"]
            if not isinstance(roles, list):
                raise ValueError('give {"roles": ["Calendars.ReadWrite", ...]}')
            app = state.identity.set_roles(client_id, roles)
            return {"client_id": app.client_id, "roles": app.roles}

        return _guard(apply)

    @router.get("/tenants")
    async def get_tenants() -> JSONResponse:
        return JSONResponse(
            [
                {
                    "tenant_id": tenant.id,
                    "name": tenant.name,
                    "domain": tenant.domain,
                    "users": [
                        {
                            "id": u.id,
                            "email": u.email,
                            "displayName": u.display_name,
                            "hasMailbox": u.has_mailbox,
                            "timeZone": u.time_zone,
                        }
                        for u in tenant.users
                    ],
                }
                for tenant in state.directory.tenants()
            ]
        )

    return router
