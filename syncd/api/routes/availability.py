"""Endpoint 5 of the contract: colleagues' busy slots between `from` and `to`."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from starlette.concurrency import run_in_threadpool

from syncd.api import fields, openapi
from syncd.api.deps import CallerDep, correlation, json_body, runtime_of, scheduler_for
from syncd.api.errors import WireJSONResponse
from syncd.api.parsing import CaseInsensitiveQuery, invalid, parse_model
from syncd.api.routes.responses import AVAILABILITY_ERRORS
from syncd.api.wire import (
    MAX_AVAILABILITY_EMAILS,
    AvailabilityEntry,
    AvailabilityOut,
    AvailabilityWindow,
)

AVAILABILITY_PATH = "/api/salesforce/scheduler/availability"
router = APIRouter(tags=["availability"])

_EXAMPLE = [{"email": "jane.doe@contoso.example"}, {"email": "john.roe@contoso.example"}]


def requested_emails(data: Any) -> list[tuple[str, str | None]]:
    """(address as given, problem or None) per entry; a malformed array is a 400."""
    if not isinstance(data, list):
        raise invalid('request body: must be a JSON array such as [{"email": "a@b.example"}]')
    if not data:
        raise invalid("request body: the array is empty; list at least one address")
    if len(data) > MAX_AVAILABILITY_EMAILS:
        raise invalid(
            f"request body: lists {len(data)} addresses; at most "
            f"{MAX_AVAILABILITY_EMAILS} per request"
        )
    entries: list[tuple[str, str | None]] = []
    for index, item in enumerate(data):
        if not isinstance(item, dict) or not isinstance(item.get("email"), str):
            raise invalid(f'[{index}].email: each entry must be an object {{"email": "..."}}')
        raw = item["email"]
        try:
            entries.append((fields.parse_email(raw), None))
        except ValueError as exc:
            # One bad address gets its own error; the others are still answered.
            entries.append((raw, f"email: {exc}"))
    return entries


@router.post(
    AVAILABILITY_PATH,
    summary="Busy slots of in-org colleagues between from and to",
    description="One answer per address, in the request's order; an address that fails "
    "gets its own errorCode (e.g. ExternalUserNotSupported) while the others are answered. "
    "Overlapping busy blocks are merged and clipped to from..to.",
    responses={
        200: {"model": list[AvailabilityOut], "description": "one entry per address"},
        **AVAILABILITY_ERRORS,
    },
    openapi_extra={
        **openapi.json_body(
            {
                "type": "array",
                "minItems": 1,
                "maxItems": MAX_AVAILABILITY_EMAILS,
                "items": {"$ref": openapi.REF.format(model=AvailabilityEntry.__name__)},
            },
            _EXAMPLE,
        ),
        "parameters": [
            openapi.time_query("from", "start of the span"),
            openapi.time_query("to", "end of the span (after from)"),
            openapi.CORRELATION_QUERY,
        ],
        "security": openapi.API_SECURITY,
    },
)
async def availability(request: Request, caller: CallerDep) -> WireJSONResponse:
    query = CaseInsensitiveQuery(request.query_params.multi_items())
    given = {
        name: value
        for name in ("from", "to", "salesforceCorrelationId")
        if (value := query.get(name)) is not None
    }
    window = parse_model(AvailabilityWindow, given)
    entries = requested_emails(await json_body(request))
    valid = [email for email, problem in entries if problem is None]
    found = []
    if valid:
        scheduler = scheduler_for(request, caller)
        # One request may cause only so many Graph requests (the tenant's policy).
        policy = runtime_of(request).config.tenant(caller.tenant).policy
        found = await run_in_threadpool(
            scheduler.availability,
            valid,
            window.start,
            window.end,
            max_graph_requests=policy.availability_max_graph_requests,
            correlation_id=correlation(),
        )
    if len(found) != len(valid):
        raise RuntimeError(f"the core answered {len(found)} of {len(valid)} addresses")
    answers = iter(found)
    result = [
        AvailabilityOut.invalid(email, problem)
        if problem is not None
        else AvailabilityOut.from_availability(next(answers))
        for email, problem in entries
    ]
    return WireJSONResponse([item.wire() for item in result])
