"""Control API under /_sandbox/salesforce/: faults, counters, clock, limits, sessions, people.

Unauthenticated on purpose, like /_sandbox/: the sandbox listens on loopback only.
The /events endpoints act as the org's people (user writes), for demos with curl.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from syncd.sandbox.salesforce.errors import SalesforceError
from syncd.sandbox.salesforce.fields_admin import change_field, remove_field
from syncd.sandbox.salesforce.state import MAX_VERSION, MIN_VERSION, SalesforceState
from syncd.sandbox.salesforce.values import parse_date, parse_datetime

PREFIX = "/_sandbox/salesforce"


async def _json(request: Request) -> dict[str, Any]:
    payload = await request.body()
    if not payload.strip():
        return {}
    data = await request.json()
    if not isinstance(data, dict):
        raise ValueError("the admin API takes a JSON object")
    return data


def _then(change: Callable[[], object], answer: Callable[[], Any]) -> Callable[[], Any]:
    """An action that makes `change` (which returns nothing) and answers `answer()`."""

    def action() -> Any:
        change()
        return answer()

    return action


def _guard(action: Callable[[], Any]) -> JSONResponse:
    """Run a change; a bad request is the caller's 400, not a crash."""
    try:
        return JSONResponse(action())
    except SalesforceError as error:
        return JSONResponse(error.body(), status_code=error.status)
    except (ValueError, TypeError, KeyError) as exc:
        return JSONResponse({"error": str(exc)}, status_code=400)


def _settings(state: SalesforceState) -> dict[str, Any]:
    return {
        "session_timeout_seconds": state.auth.session_timeout_seconds,
        "recycle_bin_days": state.org.settings.recycle_bin_days,
        "api_writes_touch_last_modified": state.org.settings.api_writes_touch_last_modified,
        "shared_activities": state.org.settings.shared_activities,
        "jwt_audience": state.auth.jwt_audience,
        "extra_audiences": sorted(state.auth.extra_audiences),
        "view_all_data": state.org.view_all_data(),
        "max_api_version": state.max_version,
    }


def _flag(value: Any) -> bool:
    if not isinstance(value, bool):
        raise ValueError(f"expected true or false, got {value!r}")
    return value


def _limits(state: SalesforceState) -> dict[str, int]:
    used, limit = state.budget.usage()
    return {"daily_limit": limit, "used": used}


def _event_values(body: dict[str, Any]) -> dict[str, Any]:
    """Python values for SalesforceOrg.create_event from JSON."""
    values: dict[str, Any] = dict(body.get("fields") or {})
    for name in ("start", "end"):
        if body.get(name):
            values[name] = parse_datetime(str(body[name]))
    if body.get("activity_date"):
        values["activity_date"] = parse_date(str(body["activity_date"]))
    for name in (
        "subject",
        "all_day",
        "duration_minutes",
        "location",
        "description",
        "show_as",
        "private",
        "who",
        "invitees",
    ):
        if name in body:
            values[name] = body[name]
    return values


def salesforce_admin_router(state: SalesforceState) -> APIRouter:
    router = APIRouter(prefix=PREFIX)
    org = state.org

    @router.get("/faults")
    async def get_faults() -> JSONResponse:
        return JSONResponse(state.faults.snapshot())

    @router.put("/faults")
    async def put_faults(request: Request) -> JSONResponse:
        body = await _json(request)
        return _guard(_then(lambda: state.faults.configure(**body), state.faults.snapshot))

    @router.delete("/faults")
    async def reset_faults() -> JSONResponse:
        state.faults.reset()
        return JSONResponse(state.faults.snapshot())

    @router.get("/stats")
    async def get_stats() -> JSONResponse:
        return JSONResponse(state.counters.snapshot())

    @router.delete("/stats")
    async def reset_stats() -> JSONResponse:
        state.counters.reset()
        return JSONResponse(state.counters.snapshot())

    @router.get("/clock")
    async def get_clock() -> JSONResponse:
        return JSONResponse(state.clock.snapshot())

    @router.post("/clock/advance")
    async def advance_clock(request: Request) -> JSONResponse:
        body = await _json(request)
        return _guard(
            lambda: (state.clock.advance(float(body["seconds"])), state.clock.snapshot())[1]
        )

    @router.post("/clock/freeze")
    async def freeze_clock(request: Request) -> JSONResponse:
        body = await _json(request)

        def apply() -> dict[str, object]:
            at = body.get("at")
            state.clock.freeze(datetime.fromisoformat(at) if at else None)
            return state.clock.snapshot()

        return _guard(apply)

    @router.post("/clock/resume")
    async def resume_clock() -> JSONResponse:
        state.clock.resume()
        return JSONResponse(state.clock.snapshot())

    @router.get("/limits")
    async def get_limits() -> JSONResponse:
        return JSONResponse(_limits(state))

    @router.put("/limits")
    async def put_limits(request: Request) -> JSONResponse:
        body = await _json(request)

        def apply() -> dict[str, int]:
            state.budget.configure(daily_limit=body.get("daily_limit"), used=body.get("used"))
            return _limits(state)

        return _guard(apply)

    @router.get("/settings")
    async def get_settings() -> JSONResponse:
        return JSONResponse(_settings(state))

    @router.put("/settings")
    async def put_settings(request: Request) -> JSONResponse:
        body = await _json(request)

        def apply() -> dict[str, Any]:
            unknown = set(body) - set(_settings(state))
            if unknown:
                raise ValueError(f"unknown settings {sorted(unknown)}")
            if "session_timeout_seconds" in body:
                state.auth.session_timeout_seconds = float(body["session_timeout_seconds"])
            if "recycle_bin_days" in body:
                org.settings.recycle_bin_days = float(body["recycle_bin_days"])
            if "api_writes_touch_last_modified" in body:
                org.settings.api_writes_touch_last_modified = bool(
                    body["api_writes_touch_last_modified"]
                )
            if "shared_activities" in body:
                org.settings.shared_activities = _flag(body["shared_activities"])
            if "jwt_audience" in body:
                state.auth.jwt_audience = str(body["jwt_audience"])
            if "extra_audiences" in body:
                state.auth.extra_audiences = {str(a) for a in body["extra_audiences"]}
            if "view_all_data" in body:
                org.set_view_all_data(_flag(body["view_all_data"]))
            if "max_api_version" in body:
                newest = int(body["max_api_version"])
                if not MIN_VERSION <= newest <= MAX_VERSION:
                    raise ValueError(f"max_api_version must be {MIN_VERSION}..{MAX_VERSION}")
                state.max_version = newest
            return _settings(state)

        return _guard(apply)

    @router.put("/fields/{sobject}/{name}")
    async def put_field(sobject: str, name: str, request: Request) -> JSONResponse:
        body = await _json(request)
        return _guard(lambda: change_field(org, sobject, name, body))

    @router.delete("/fields/{sobject}/{name}")
    async def delete_field(sobject: str, name: str) -> JSONResponse:
        return _guard(lambda: remove_field(org, sobject, name))

    @router.post("/sessions/revoke")
    async def revoke_sessions() -> JSONResponse:
        return JSONResponse({"revoked": state.revoke_sessions()})

    @router.post("/recycle-bin/purge")
    async def purge(request: Request) -> JSONResponse:
        body = await _json(request)
        return _guard(lambda: {"purged": org.empty_recycle_bin(body.get("sobject"))})

    @router.post("/connected-apps")
    async def connected_app(request: Request) -> JSONResponse:
        body = await _json(request)

        def apply() -> dict[str, Any]:
            app = state.register_connected_app(
                str(body["client_id"]),
                certificate_pem=body.get("certificate_pem"),
                client_secret=body.get("client_secret"),
                run_as=body.get("run_as"),
            )
            return {
                "client_id": app.client_id,
                "run_as": app.run_as,
                "certificates": len(app.certificates),
            }

        return _guard(apply)

    @router.get("/org")
    async def get_org() -> JSONResponse:
        with org.lock:
            users = [
                {"id": r.id, "email": r.Email, "username": r.Username, "active": r.IsActive}
                for r in org.data.rows("User")
            ]
        return JSONResponse(
            {"org_id": org.org_id, "name": org.name, "counts": org.counts(), "users": users}
        )

    @router.post("/events")
    async def create_event(request: Request) -> JSONResponse:
        body = await _json(request)

        def apply() -> dict[str, Any]:
            event_id = org.create_event(str(body["owner"]), **_event_values(body))
            return {"id": event_id}

        return _guard(apply)

    @router.patch("/events/{event_id}")
    async def update_event(event_id: str, request: Request) -> JSONResponse:
        body = await _json(request)
        return _guard(_then(lambda: org.update("Event", event_id, body), lambda: {"id": event_id}))

    @router.delete("/events/{event_id}")
    async def delete_event(event_id: str) -> JSONResponse:
        return _guard(_then(lambda: org.delete_event(event_id), lambda: {"id": event_id}))

    @router.post("/events/{event_id}/invitees")
    async def invite(event_id: str, request: Request) -> JSONResponse:
        body = await _json(request)
        return _guard(lambda: {"id": org.invite(event_id, str(body["who"]))})

    @router.delete("/events/{event_id}/invitees/{who}")
    async def uninvite(event_id: str, who: str) -> JSONResponse:
        return _guard(_then(lambda: org.uninvite(event_id, who), lambda: {"removed": who}))

    @router.post("/events/{event_id}/responses")
    async def respond(event_id: str, request: Request) -> JSONResponse:
        body = await _json(request)

        def apply() -> dict[str, Any]:
            org.respond(
                event_id, str(body["who"]), str(body["status"]), response=body.get("response")
            )
            return {"id": event_id}

        return _guard(apply)

    return router
