"""Endpoints 1-4 of the contract: schedule, update, delete and read a meeting."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from starlette.concurrency import run_in_threadpool

from syncd.api import aliases, openapi
from syncd.api.deps import (
    CallerDep,
    correlation,
    json_body,
    note_organizer,
    scheduler_for,
    tenant_aliases,
)
from syncd.api.errors import WireJSONResponse
from syncd.api.parsing import CaseInsensitiveQuery, parse_model
from syncd.api.routes.responses import MEETING_ERRORS
from syncd.api.wire import (
    MeetingIn,
    MeetingLookup,
    MeetingOut,
    MeetingPatch,
    MeetingRef,
    MutationOut,
)

MEETING_PATH = "/api/salesforce/scheduler/meeting"
router = APIRouter(tags=["meetings"])

_ORGANIZER = "jane.doe@contoso.example"
_POST_EXAMPLE: dict[str, Any] = {
    "id": "f9b58255-8e2e-81e2-a6db-27461fa3f11e",
    "organizerEmail": _ORGANIZER,
    "body": "meeting description",
    "subject": "meeting subject",
    "location": "meeting room 1",
    "startTime": "2020-10-16T10:00:00Z",
    "endTime": "2020-10-16T11:00:00Z",
    "salesforceCorrelationId": "ac7b40b4-2c33-723b-8aaie-8bpf077z7539",
    "attendees": [
        {"email": "john.roe@contoso.example", "isRequired": "true"},
        {"email": "guest@fabrikam.example", "isRequired": "false"},
    ],
}
_PATCH_EXAMPLE = {
    "id": _POST_EXAMPLE["id"],
    "organizerEmail": _ORGANIZER,
    "subject": "New subject",
}
_REF_EXAMPLE = {"id": _POST_EXAMPLE["id"], "organizerEmail": _ORGANIZER}
_MUTATION: dict[int | str, dict[str, Any]] = {
    200: {"model": MutationOut, "description": "done: errorCode is NoError"}
}


def _mutation_answer(email: str, join_url: str | None = None) -> WireJSONResponse:
    return WireJSONResponse(MutationOut(email=email, joinUrl=join_url).wire())


@router.post(
    MEETING_PATH,
    summary="Schedule a meeting in the organizer's Outlook calendar",
    description="Idempotent per id: the same content again answers NoError and creates "
    'nothing; different content answers MeetingAlreadyExists. Location "MS Teams" makes a '
    "Teams meeting whose link comes back as joinUrl.",
    responses={**_MUTATION, **MEETING_ERRORS},
    openapi_extra={
        **openapi.model_body(MeetingIn, _POST_EXAMPLE),
        "security": openapi.API_SECURITY,
    },
)
async def schedule_meeting(request: Request, caller: CallerDep) -> WireJSONResponse:
    wanted = parse_model(MeetingIn, await json_body(request))
    scheduler = scheduler_for(request, caller)
    meeting = await run_in_threadpool(
        scheduler.schedule, wanted.to_meeting(), correlation_id=correlation()
    )
    return _mutation_answer(wanted.organizerEmail, meeting.join_url)


@router.patch(
    MEETING_PATH,
    summary="Update a meeting scheduled through this API",
    description="Only the fields given change; attendees, when given, is the whole new list. "
    "The organizer cannot change (OrganizerMismatch): delete and schedule again instead.",
    responses={**_MUTATION, **MEETING_ERRORS},
    openapi_extra={
        **openapi.model_body(MeetingPatch, _PATCH_EXAMPLE),
        "security": openapi.API_SECURITY,
    },
)
async def update_meeting(request: Request, caller: CallerDep) -> WireJSONResponse:
    patch = parse_model(MeetingPatch, await json_body(request))
    scheduler = scheduler_for(request, caller)
    meeting = await run_in_threadpool(
        scheduler.update,
        patch.id,
        patch.organizerEmail,
        patch.to_changes(),
        correlation_id=correlation(),
    )
    return _mutation_answer(patch.organizerEmail, meeting.join_url)


@router.delete(
    MEETING_PATH,
    summary="Delete (cancel) a meeting scheduled through this API",
    description="Attendees get a cancellation. Afterwards GET answers MeetingNotFound and the "
    "id may be scheduled afresh.",
    responses={**_MUTATION, **MEETING_ERRORS},
    openapi_extra={
        **openapi.model_body(MeetingRef, _REF_EXAMPLE),
        "security": openapi.API_SECURITY,
    },
)
async def delete_meeting(request: Request, caller: CallerDep) -> WireJSONResponse:
    ref = parse_model(MeetingRef, await json_body(request))
    scheduler = scheduler_for(request, caller)
    await run_in_threadpool(
        scheduler.cancel, ref.id, ref.organizerEmail, correlation_id=correlation()
    )
    return _mutation_answer(ref.organizerEmail)


@router.get(
    MEETING_PATH,
    summary="Read a meeting, with each attendee's response",
    responses={200: {"model": MeetingOut, "description": "the meeting"}, **MEETING_ERRORS},
    openapi_extra={
        "parameters": [
            openapi.query_parameter(
                "id",
                {"type": "string", "minLength": 1, "maxLength": 255},
                required=True,
                description="the meeting's id in your system",
            ),
            openapi.query_parameter(
                "organizerEmail",
                {"type": "string", "maxLength": 320},
                required=False,
                description="the organizer's e-mail address; when left out, the id "
                "alone finds the meeting",
            ),
            openapi.CORRELATION_QUERY,
        ],
        "security": openapi.API_SECURITY,
    },
)
async def get_meeting(request: Request, caller: CallerDep) -> WireJSONResponse:
    query = CaseInsensitiveQuery(request.query_params.multi_items())
    given = {
        name: value
        for name in ("id", "organizerEmail", "salesforceCorrelationId")
        if (value := query.get(name)) is not None
    }
    given = aliases.apply(given, tenant_aliases(request))
    note_organizer(request, given.get("organizerEmail"))
    ref = parse_model(MeetingLookup, given)
    scheduler = scheduler_for(request, caller)
    meeting = await run_in_threadpool(
        scheduler.get, ref.id, ref.organizerEmail, correlation_id=correlation()
    )
    return WireJSONResponse(MeetingOut.from_meeting(meeting).wire())
