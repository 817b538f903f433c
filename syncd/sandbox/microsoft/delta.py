"""calendarView delta: state tokens, rounds of changes, and their pages.

`GET /users/{id}/calendarView/delta` as documented:
https://learn.microsoft.com/en-us/graph/api/event-delta
https://learn.microsoft.com/en-us/graph/delta-query-events
https://learn.microsoft.com/en-us/graph/delta-query-overview

- The first request of a round names the window with startDateTime and endDateTime
  (event-delta, "Query parameters"); without them it is refused like calendarView
  (the same code and message are assumed).
- `$select` is not supported, nor `$expand`, `$filter`, `$orderby` and `$search`
  (event-delta, "OData query parameters"); they are refused with 400 (the code and
  message are assumed). `$top` is not mentioned and is ignored (assumed).
- `Prefer: odata.maxpagesize={x}` sets the page size (delta-query-events, "Optional
  request header"); without it a page holds 10 events, as Outlook pages by default
  (https://learn.microsoft.com/en-us/graph/paging; assumed for delta) and at most 1000
  (assumed). `Prefer: outlook.timezone` sets the zone of the times, UTC when absent
  (event-delta, "Request headers").
- Every page but the last carries `@odata.nextLink` with a `$skiptoken`, the last one
  `@odata.deltaLink` with a `$deltatoken`; both are opaque state tokens that encode
  the window and the query (delta-query-events). Here they name state kept on the
  server; the events of a round are fixed when its first page is asked for.
- The first round holds every event of the window: single instances, occurrences
  and exceptions, never series masters (delta-query-events). The next round holds
  the events of the window created or changed since (their full representation:
  "at least the properties that have been updated", delta-query-overview), and
  `{"id": ..., "@removed": {"reason": "deleted"}}` for those deleted, cancelled or
  moved out of the window, and for events outside the window added, changed or
  deleted since (event-delta, "Response": "Events that are outside the date range
  and that have been added, deleted, or updated since the previous delta call").
  A change is a new changeKey (event_json.effective_change).
- A token the service no longer has answers `410 Gone` with the code
  `syncStateNotFound` and a Location header holding the initial query with an empty
  `$deltatoken` (delta-query-overview, "Synchronization reset" and "Token duration";
  the message is the one quoted by
  https://devblogs.microsoft.com/microsoft365dev/duration-of-change-tracking-tokens-for-identity-and-education-resources/).
  Outlook keeps tokens in a cache of undocumented size; here they live until the
  admin API expires them (a mailbox's, or those older than N seconds of the sandbox
  clock). A token of another mailbox is refused the same way (assumed).
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from syncd.sandbox.microsoft.calendar import StoredEvent
from syncd.sandbox.microsoft.delta_tokens import DeltaState, DeltaTokens
from syncd.sandbox.microsoft.errors import GraphError, bad_request
from syncd.sandbox.microsoft.event_json import effective_change, render_event
from syncd.sandbox.microsoft.graph_handlers import calendar_window, event_view
from syncd.sandbox.microsoft.graph_types import GraphResponse, HandlerContext
from syncd.sandbox.microsoft.odata import DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE, option
from syncd.sandbox.microsoft.timezones import format_timestamp

#: Query options calendarView delta does not support (event-delta, "OData query parameters").
UNSUPPORTED = ("$select", "$expand", "$filter", "$orderby", "$search")
EVENT_TYPE = "#microsoft.graph.event"
EXPIRED_MESSAGE = (
    "The sync state generation is not found. The delta token is expired and data must be "
    "synchronized again."
)


def calendar_view_delta(ctx: HandlerContext) -> GraphResponse:
    """https://learn.microsoft.com/en-us/graph/api/event-delta (see the module docstring)."""
    assert ctx.user is not None
    query = ctx.request.query
    for name in UNSUPPORTED:
        if option(query, name) is not None:
            raise bad_request(
                f"The query parameter '{name}' is not supported with change tracking over "
                "the 'CalendarView' resource."
            )
    tokens: DeltaTokens = ctx.state.delta
    skip = option(query, "$skiptoken")
    delta = option(query, "$deltatoken")
    page_size = _page_size(ctx)
    view, headers = event_view(ctx)
    if skip:
        state = _taken(ctx, tokens, skip)
        entries, pending = state.pending[:page_size], state.pending[page_size:]
        return _page(ctx, tokens, state, entries, pending, headers)
    previous = _taken(ctx, tokens, delta) if delta else None
    if previous is None:
        start, end = calendar_window(ctx)
    else:
        start, end = previous.start, previous.end
    items = ctx.state.calendars.between(ctx.user.id, start, end)
    seen = {ev.id: _version(ctx, ev) for ev in items}
    outside = {
        ev.id: _version(ctx, ev)
        for ev in ctx.state.calendars.events(ctx.user.id, lambda e: e.recurrence is None)
        if ev.id not in seen
    }
    if previous is None:
        entries = [_changed(ev, view) for ev in items]
    else:
        entries = [_changed(ev, view) for ev in items if previous.seen.get(ev.id) != seen[ev.id]]
        gone = [i for i in previous.seen if i not in seen]
        touched = sorted(
            i
            for i in set(previous.outside) | set(outside)
            if previous.outside.get(i) != outside.get(i) and i not in seen
        )
        entries.extend(_removed(i) for i in dict.fromkeys([*gone, *touched]))
    state = DeltaState(ctx.user.id, start, end, ctx.now, seen, outside)
    return _page(ctx, tokens, state, entries[:page_size], entries[page_size:], headers)


def _page(
    ctx: HandlerContext,
    tokens: DeltaTokens,
    state: DeltaState,
    entries: list[dict[str, Any]],
    pending: list[dict[str, Any]],
    headers: dict[str, str],
) -> GraphResponse:
    rest = DeltaState(
        state.owner_id, state.start, state.end, ctx.now, state.seen, state.outside, pending
    )
    link = _link(ctx, {"$skiptoken" if pending else "$deltatoken": tokens.issue(rest)})
    body = {
        "@odata.context": f"{ctx.request.base_url}/v1.0/$metadata#Collection(event)",
        "@odata.nextLink" if pending else "@odata.deltaLink": link,
        "value": entries,
    }
    if "odata.maxpagesize" in ctx.prefer:
        applied = headers.get("Preference-Applied")
        size = f"odata.maxpagesize={_page_size(ctx)}"
        headers = {**headers, "Preference-Applied": f"{applied}, {size}" if applied else size}
    return GraphResponse(200, body, headers)


def _taken(ctx: HandlerContext, tokens: DeltaTokens, token: str) -> DeltaState:
    assert ctx.user is not None
    state = tokens.take(token, ctx.user.id, ctx.now)
    if state is None:
        window = tokens.window_of(token)
        initial = {"$deltatoken": ""}
        if window is not None:
            start, end = (format_timestamp(w) for w in window)
            initial = {"startDateTime": start, "endDateTime": end, **initial}
        raise GraphError(
            410, "syncStateNotFound", EXPIRED_MESSAGE, headers={"Location": _link(ctx, initial)}
        )
    return state


def _link(ctx: HandlerContext, params: dict[str, str]) -> str:
    query = "&".join(f"{k}={quote(v, safe=':')}" for k, v in params.items())
    return f"{ctx.request.base_url}/v1.0{ctx.request.path}?{query}"


def _page_size(ctx: HandlerContext) -> int:
    raw = ctx.prefer.get("odata.maxpagesize")
    try:
        wanted = int(raw) if raw is not None else DEFAULT_PAGE_SIZE
    except ValueError:
        wanted = DEFAULT_PAGE_SIZE  # a preference the server cannot honour is ignored
    return max(1, min(wanted, MAX_PAGE_SIZE))


def _version(ctx: HandlerContext, event: StoredEvent) -> str:
    return effective_change(event, ctx.state.answers, ctx.now)[0]


def _changed(event: StoredEvent, view: Any) -> dict[str, Any]:
    return {"@odata.type": EVENT_TYPE, **render_event(event, view)}


def _removed(event_id: str) -> dict[str, Any]:
    return {"@odata.type": EVENT_TYPE, "id": event_id, "@removed": {"reason": "deleted"}}
