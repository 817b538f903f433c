"""Handlers for users and events: get user; list, create, get, update, delete, cancel; calendarView.

Each takes a HandlerContext and returns a GraphResponse; errors are GraphError.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from syncd.sandbox.microsoft.calendar import StoredEvent
from syncd.sandbox.microsoft.errors import GraphError, bad_request
from syncd.sandbox.microsoft.event_input import parse_event
from syncd.sandbox.microsoft.event_json import EventView, render_event
from syncd.sandbox.microsoft.extended_props import value_matches
from syncd.sandbox.microsoft.graph_types import GraphResponse, HandlerContext
from syncd.sandbox.microsoft.odata import (
    next_link,
    option,
    parse_expand,
    parse_filter,
    parse_offset,
    parse_orderby,
    parse_select,
    parse_top,
)
from syncd.sandbox.microsoft.timezones import is_known_zone, parse_instant


def _user_id(ctx: HandlerContext) -> str:
    assert ctx.user is not None  # routes with {user} always resolve one
    return ctx.user.id


def _metadata(ctx: HandlerContext, fragment: str) -> str:
    return f"{ctx.request.base_url}/v1.0/$metadata#{fragment}"


def event_view(
    ctx: HandlerContext, *, original_zone: bool = False, fresh: bool = False
) -> tuple[EventView, dict[str, str]]:
    """Rendering options from Prefer and $select/$expand, plus the Preference-Applied header.

    Without `Prefer: outlook.timezone` reads come back in UTC
    (https://learn.microsoft.com/en-us/graph/api/event-get, "Support various time zones");
    create responses keep the zones the client sent (user-post-events, example 3).
    """
    zone = ctx.prefer.get("outlook.timezone")
    zone = zone if zone and is_known_zone(zone) else None
    body_type = ctx.prefer.get("outlook.body-content-type", "").lower()
    applied = []
    if zone:
        applied.append(f'outlook.timezone="{zone}"')
    if body_type in ("text", "html"):
        applied.append(f'outlook.body-content-type="{body_type}"')
    view = EventView(
        base_url=ctx.request.base_url,
        answers=ctx.state.answers,
        now=ctx.now,
        zone=zone,
        original_zone=original_zone,
        body_text=body_type == "text",
        fresh_at=ctx.now if fresh else None,
        select=parse_select(option(ctx.request.query, "$select")),
        expand=parse_expand(option(ctx.request.query, "$expand")),
    )
    headers = {"Preference-Applied": ", ".join(applied)} if applied else {}
    return view, headers


def get_user(ctx: HandlerContext) -> GraphResponse:
    """https://learn.microsoft.com/en-us/graph/api/user-get (the default property set)."""
    user = ctx.user
    assert user is not None
    body: dict[str, Any] = {
        "@odata.context": _metadata(ctx, "users/$entity"),
        "businessPhones": [],
        "displayName": user.display_name,
        "givenName": user.given_name,
        "jobTitle": None,
        "mail": user.email if user.has_mailbox else None,
        "mobilePhone": None,
        "officeLocation": None,
        "preferredLanguage": None,
        "surname": user.surname,
        "userPrincipalName": user.user_principal_name,
        "id": user.id,
    }
    selected = option(ctx.request.query, "$select")
    if selected:
        keep = {"@odata.context", "id", *(s.strip() for s in selected.split(","))}
        body = {k: v for k, v in body.items() if k in keep}
    return GraphResponse(200, body)


def create_event(ctx: HandlerContext) -> GraphResponse:
    """https://learn.microsoft.com/en-us/graph/api/user-post-events (201 + the event).

    A repeated POST with the same transactionId returns the event it created the
    first time, with 201 like any create: transactionId exists "to avoid redundant POST
    operations in case of client retries"
    (https://learn.microsoft.com/en-us/graph/api/resources/event#properties). Neither page
    names another status for the repeat; no 409 is invented here (the 201 is assumed from
    that wording: a retry must get the answer the lost first attempt would have had).
    """
    assert ctx.user is not None
    fields = parse_event(ctx.request.body, partial=False)
    event, created = ctx.state.calendars.create(ctx.user, fields, ctx.now)
    view, headers = event_view(ctx, original_zone=True, fresh=created)
    context = _metadata(ctx, f"users('{ctx.user.id}')/events/$entity")
    return GraphResponse(201, {"@odata.context": context, **render_event(event, view)}, headers)


def get_event(ctx: HandlerContext) -> GraphResponse:
    """https://learn.microsoft.com/en-us/graph/api/event-get"""
    event = ctx.state.calendars.get(_user_id(ctx), ctx.params["event"])
    view, headers = event_view(ctx)
    context = _metadata(ctx, f"users('{_user_id(ctx)}')/events/$entity")
    return GraphResponse(200, {"@odata.context": context, **render_event(event, view)}, headers)


def update_event(ctx: HandlerContext) -> GraphResponse:
    """https://learn.microsoft.com/en-us/graph/api/event-update (200 + the updated event)."""
    assert ctx.user is not None
    fields = parse_event(ctx.request.body, partial=True)
    event = ctx.state.calendars.update(ctx.user, ctx.params["event"], fields, ctx.now)
    view, headers = event_view(ctx, original_zone=True, fresh=True)
    context = _metadata(ctx, f"users('{ctx.user.id}')/events/$entity")
    return GraphResponse(200, {"@odata.context": context, **render_event(event, view)}, headers)


def delete_event(ctx: HandlerContext) -> GraphResponse:
    """https://learn.microsoft.com/en-us/graph/api/event-delete (204)."""
    assert ctx.user is not None
    ctx.state.calendars.delete(ctx.user, ctx.params["event"], ctx.now)
    return GraphResponse(204)


def cancel_event(ctx: HandlerContext) -> GraphResponse:
    """https://learn.microsoft.com/en-us/graph/api/event-cancel (202, organizer only)."""
    assert ctx.user is not None
    body = ctx.request.body
    if body is not None and not isinstance(body, dict):
        raise bad_request("The cancel body must be a JSON object with an optional 'comment'.")
    ctx.state.calendars.cancel(ctx.user, ctx.params["event"], ctx.now)
    return GraphResponse(202)


def _page(ctx: HandlerContext, events: list[StoredEvent], context: str) -> GraphResponse:
    view, headers = event_view(ctx)
    order = parse_orderby(option(ctx.request.query, "$orderby"))
    if order is not None:
        key, descending = order
        events = sorted(events, key=key, reverse=descending)
    top = parse_top(option(ctx.request.query, "$top"))
    offset = parse_offset(ctx.request.query)
    page = events[offset : offset + top]
    body: dict[str, Any] = {
        "@odata.context": _metadata(ctx, context),
        "value": [render_event(event, view) for event in page],
    }
    if offset + top < len(events):
        body["@odata.nextLink"] = next_link(
            ctx.request.base_url, ctx.request.path, ctx.request.query, offset + top
        )
    return GraphResponse(200, body, headers)


def list_events(ctx: HandlerContext) -> GraphResponse:
    """https://learn.microsoft.com/en-us/graph/api/user-list-events (paged, default 10)."""
    wanted = parse_filter(option(ctx.request.query, "$filter"))
    events = ctx.state.calendars.events(_user_id(ctx))
    if wanted is not None:
        events = [e for e in events if value_matches(e.extended, wanted.property_id, wanted.value)]
    return _page(ctx, events, f"users('{_user_id(ctx)}')/events")


def calendar_window(ctx: HandlerContext) -> tuple[datetime, datetime]:
    start_text = option(ctx.request.query, "startDateTime")
    end_text = option(ctx.request.query, "endDateTime")
    if not start_text or not end_text:
        raise GraphError(
            400,
            "ErrorInvalidParameter",
            "This request requires a time window specified by the query string parameters "
            "StartDateTime and EndDateTime.",
        )
    return parse_instant(start_text, "startDateTime"), parse_instant(end_text, "endDateTime")


def list_instances(ctx: HandlerContext) -> GraphResponse:
    """https://learn.microsoft.com/en-us/graph/api/event-list-instances

    The occurrences and exceptions of a series master in the window; cancelled
    occurrences are not listed.
    """
    start, end = calendar_window(ctx)
    event_id = ctx.params["event"]
    events = ctx.state.calendars.instances(_user_id(ctx), event_id, start, end)
    return _page(ctx, events, f"users('{_user_id(ctx)}')/events('{event_id}')/instances")


def mailbox_settings(ctx: HandlerContext) -> GraphResponse:
    """https://learn.microsoft.com/en-us/graph/api/user-get-mailboxsettings

    The whole settings object, or one setting (`/mailboxSettings/timeZone` answers
    `{"value": ...}`). The time zone is the mailbox's preferred one, in the format the
    administrator set up (Windows names by default).
    """
    assert ctx.user is not None
    settings: dict[str, Any] = {
        "timeZone": ctx.user.time_zone,
        "dateFormat": "yyyy-MM-dd",
        "timeFormat": "HH:mm",
        "workingHours": {
            "daysOfWeek": ["monday", "tuesday", "wednesday", "thursday", "friday"],
            "startTime": "08:00:00.0000000",
            "endTime": "17:00:00.0000000",
            "timeZone": {"name": ctx.user.time_zone},
        },
    }
    setting = ctx.params.get("setting")
    base = f"users('{ctx.user.id}')/mailboxSettings"
    if setting is None:
        return GraphResponse(200, {"@odata.context": _metadata(ctx, base), **settings})
    known = {name.lower(): name for name in settings}
    name = known.get(setting.lower())
    if name is None:
        raise bad_request(f"Resource not found for the segment '{setting}'.")
    return GraphResponse(
        200, {"@odata.context": _metadata(ctx, f"{base}/{name}"), "value": settings[name]}
    )


def calendar_view(ctx: HandlerContext) -> GraphResponse:
    """https://learn.microsoft.com/en-us/graph/api/user-list-calendarview

    Series are expanded into their occurrences and exceptions."""
    start, end = calendar_window(ctx)
    events = ctx.state.calendars.between(_user_id(ctx), start, end)
    wanted = parse_filter(option(ctx.request.query, "$filter"))
    if wanted is not None:
        events = [e for e in events if value_matches(e.extended, wanted.property_id, wanted.value)]
    return _page(ctx, events, f"users('{_user_id(ctx)}')/calendarView")
