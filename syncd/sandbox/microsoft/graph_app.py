"""The Graph request pipeline: authenticate, route, resolve the mailbox, faults, throttle, handle.

HTTP requests and the requests inside a $batch go through `GraphService.handle`
alike, so each inner request is authenticated, counted and throttled on its own.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import unquote

from syncd.sandbox.microsoft import graph_handlers as events
from syncd.sandbox.microsoft.batch import parse_batch, run_batch
from syncd.sandbox.microsoft.delta import calendar_view_delta
from syncd.sandbox.microsoft.directory import DirectoryUser
from syncd.sandbox.microsoft.errors import GraphError, bad_request
from syncd.sandbox.microsoft.graph_types import GraphRequest, GraphResponse, HandlerContext
from syncd.sandbox.microsoft.identity import AuthFailure, IssuedToken
from syncd.sandbox.microsoft.odata import parse_prefer
from syncd.sandbox.microsoft.schedule import get_schedule
from syncd.sandbox.microsoft.state import MicrosoftState
from syncd.sandbox.stats import report_exchange

Handler = Callable[[HandlerContext], GraphResponse]

# Graph's answer to an app-only token on a 401 (points at the real authority).
WWW_AUTHENTICATE = (
    'Bearer realm="", '
    'authorization_uri="https://login.microsoftonline.com/common/oauth2/authorize", '
    'client_id="00000003-0000-0000-c000-000000000000"'
)


@dataclass(frozen=True)
class Route:
    """A method and a path template; literal segments match case-insensitively."""

    method: str
    template: tuple[str, ...]
    handler: Handler
    mailbox: bool = True

    @property
    def text(self) -> str:
        return "/" + "/".join(self.template)

    def match(self, segments: list[str]) -> dict[str, str] | None:
        if len(segments) != len(self.template):
            return None
        params = {}
        for part, segment in zip(self.template, segments, strict=True):
            if part.startswith("{"):
                if not segment:
                    return None
                params[part.strip("{}")] = segment
            elif part.lower() != segment.lower():
                return None
        return params

    @property
    def permissions(self) -> tuple[str, ...]:
        """Application permissions of which the token must hold one (the "Permissions"
        table of each method's page, e.g. https://learn.microsoft.com/en-us/graph/api/user-get-mailboxsettings,
        .../user-post-events, .../calendar-getschedule, .../user-get)."""
        parts = [part.lower() for part in self.template]
        if "mailboxsettings" in parts:
            return ("MailboxSettings.Read", "MailboxSettings.ReadWrite")
        if not self.mailbox:
            return ("User.Read.All", "User.ReadWrite.All", "Directory.Read.All")
        if self.method == "GET" or "getschedule" in parts:
            return ("Calendars.ReadBasic", "Calendars.Read", "Calendars.ReadWrite")
        return ("Calendars.ReadWrite",)


def _routes() -> list[Route]:
    user, event = "{user}", "{event}"
    return [
        Route("GET", ("users", user), events.get_user, mailbox=False),
        Route("GET", ("users", user, "events"), events.list_events),
        Route("POST", ("users", user, "events"), events.create_event),
        Route("GET", ("users", user, "calendar", "events"), events.list_events),
        Route("POST", ("users", user, "calendar", "events"), events.create_event),
        Route("GET", ("users", user, "events", event), events.get_event),
        Route("PATCH", ("users", user, "events", event), events.update_event),
        Route("DELETE", ("users", user, "events", event), events.delete_event),
        Route("POST", ("users", user, "events", event, "cancel"), events.cancel_event),
        Route("GET", ("users", user, "calendar", "events", event), events.get_event),
        Route("PATCH", ("users", user, "calendar", "events", event), events.update_event),
        Route("DELETE", ("users", user, "calendar", "events", event), events.delete_event),
        Route("GET", ("users", user, "events", event, "instances"), events.list_instances),
        Route(
            "GET", ("users", user, "calendar", "events", event, "instances"), events.list_instances
        ),
        Route("GET", ("users", user, "mailboxSettings"), events.mailbox_settings),
        Route("GET", ("users", user, "mailboxSettings", "{setting}"), events.mailbox_settings),
        Route("GET", ("users", user, "calendarView"), events.calendar_view),
        Route("GET", ("users", user, "calendar", "calendarView"), events.calendar_view),
        Route("GET", ("users", user, "calendarView", "delta"), calendar_view_delta),
        Route("GET", ("users", user, "calendar", "calendarView", "delta"), calendar_view_delta),
        Route("POST", ("users", user, "calendar", "getSchedule"), get_schedule),
    ]


ROUTES = _routes()


def split_path(path: str) -> list[str]:
    """Percent-decoded segments of a raw path (ids may contain '=' or '@')."""
    return [unquote(part) for part in path.strip("/").split("/")] if path.strip("/") else []


class GraphService:
    """Answers Graph requests against the sandbox state."""

    def __init__(self, state: MicrosoftState, routes: list[Route] | None = None) -> None:
        self.state = state
        self.routes = routes or ROUTES

    async def handle(self, request: GraphRequest) -> GraphResponse:
        """Run one request to completion; errors become Graph error bodies."""
        request_id = str(uuid.uuid4())
        client_request_id = request.headers.get("client-request-id") or request_id
        self.state.counters.graph_request(inner=request.inner)
        try:
            response = await self._dispatch(request)
        except GraphError as error:
            body = error.body(
                request_id=request_id,
                client_request_id=client_request_id,
                now=self.state.clock.now(),
            )
            response = GraphResponse(error.status, body, dict(error.headers))
            if error.status == 401:
                response.headers["WWW-Authenticate"] = WWW_AUTHENTICATE
        response.headers["request-id"] = request_id
        response.headers["client-request-id"] = client_request_id
        self.state.counters.status(response.status)
        report_exchange(
            request.method,
            request.path,
            request.headers,
            request.body,
            response.status,
            response.body,
            inner=request.inner,
        )
        return response

    async def _dispatch(self, request: GraphRequest) -> GraphResponse:
        token = self._authenticate(request)
        if request.malformed_body:
            raise bad_request(
                "Unable to read JSON request payload. Please ensure Content-Type header is set "
                "and payload is of valid JSON format."
            )
        segments = split_path(request.path)
        if segments and segments[0].lower() == "me":
            raise bad_request("/me request is only valid with delegated authentication flow.")
        if segments == ["$batch"]:
            return await self._batch(request)
        route, params = self._route(request.method, segments)
        if not set(route.permissions) & set(token.roles):
            # Checked before the mailbox is looked up (assumed: the order is undocumented);
            # the code and message are the ones Outlook resources answer (assumed).
            raise GraphError(
                403, "ErrorAccessDenied", "Access is denied. Check credentials and try again."
            )
        user = self._resolve_user(route, params.get("user"), token)
        mailbox = user.email if user else None
        self.state.counters.route(request.method, route.text, mailbox)
        self.state.counters.log_request(
            request.method, route.text, request.path, mailbox, request.body
        )
        self._inject_fault(user.match_keys() if user else ())
        if route.mailbox and user is not None:
            try:
                self.state.throttle.acquire(token.client_id, user.id)
            except GraphError:
                self.state.counters.throttle_hit()
                raise
        try:
            if self.state.faults.latency_seconds > 0:
                await asyncio.sleep(self.state.faults.latency_seconds)
            context = HandlerContext(
                state=self.state,
                request=request,
                token=token,
                user=user,
                params=params,
                now=self.state.clock.now(),
                prefer=parse_prefer(request.headers),
            )
            return route.handler(context)
        finally:
            if route.mailbox and user is not None:
                self.state.throttle.release(token.client_id, user.id)

    async def _batch(self, request: GraphRequest) -> GraphResponse:
        if request.inner:
            raise bad_request("A batch request can't contain another $batch request.")
        if request.method != "POST":
            raise GraphError(
                405, "BadRequest", "Specified HTTP method is not allowed for the request target."
            )
        self.state.counters.route("POST", "/$batch", None)
        self._inject_fault(())
        items = parse_batch(request.body, self.state.batch_limit)
        return await run_batch(
            request, items, self.handle, self.state.clock.now, faults=self.state.faults
        )

    def _authenticate(self, request: GraphRequest) -> IssuedToken:
        try:
            return self.state.identity.validate(request.headers.get("authorization"))
        except AuthFailure as failure:
            raise GraphError(401, "InvalidAuthenticationToken", str(failure)) from failure

    def _route(self, method: str, segments: list[str]) -> tuple[Route, dict[str, str]]:
        path_matched = False
        for route in self.routes:
            params = route.match(segments)
            if params is None:
                continue
            if route.method == method.upper():
                return route, params
            path_matched = True
        if path_matched:
            raise GraphError(
                405, "BadRequest", "Specified HTTP method is not allowed for the request target."
            )
        last = segments[-1] if segments else ""
        raise bad_request(f"Resource not found for the segment '{last}'.")

    def _resolve_user(
        self, route: Route, key: str | None, token: IssuedToken
    ) -> DirectoryUser | None:
        """The addressed user, looked up in the token's tenant only.

        Codes and messages are the ones Graph answers in practice (the error page,
        https://learn.microsoft.com/en-us/graph/errors, lists only generic codes):
        directory lookups say Request_ResourceNotFound, mailbox calls ErrorInvalidUser,
        an unlicensed user MailboxNotEnabledForRESTAPI, and an application access
        policy ErrorAccessDenied (https://learn.microsoft.com/en-us/graph/auth-limit-mailbox-access).
        """
        if key is None:
            return None
        user = self.state.directory.find_user(token.tenant_id, key)
        if not route.mailbox:
            if user is None:
                raise GraphError(
                    404,
                    "Request_ResourceNotFound",
                    f"Resource '{key}' does not exist or one of its queried reference-property "
                    "objects are not present.",
                )
            return user
        if user is None:
            raise GraphError(404, "ErrorInvalidUser", f"The requested user '{key}' is invalid.")
        if not user.has_mailbox:
            raise GraphError(
                404,
                "MailboxNotEnabledForRESTAPI",
                "The mailbox is either inactive, soft-deleted, or is hosted on-premise.",
            )
        if self.state.access_policy.denies(token.client_id, user):
            raise GraphError(
                403,
                "ErrorAccessDenied",
                "Access to OData is disabled: [RAOP] : Blocked by tenant configured AppOnly "
                "AccessPolicy settings.",
            )
        return user

    def _inject_fault(self, mailbox_keys: tuple[str, ...]) -> None:
        forced = self.state.faults.pick(mailbox_keys)
        if forced is None:
            return
        self.state.counters.fault_injected()
        retry_after = forced.retry_after
        if retry_after is None and forced.status in (429, 503):
            retry_after = self.state.faults.retry_after_seconds
        raise GraphError.for_status(forced.status, retry_after=retry_after)
