"""calendarView delta rounds of many mailboxes at once, paged through JSON $batch.

The first page of every round goes out 20 to a $batch, up to 8 envelopes side by side;
then the next pages of every mailbox still paging, batched again, until each has its
`@odata.deltaLink`
(https://learn.microsoft.com/graph/api/event-delta,
https://learn.microsoft.com/graph/delta-query-events). What Graph documents and
this module relies on:

- the first request names the window (`startDateTime`, `endDateTime`); the state
  tokens in `@odata.nextLink` ($skiptoken) and `@odata.deltaLink` ($deltatoken)
  encode it with every other query parameter, so a link is requested as it is;
- `$select` (and `$expand`, `$filter`, `$orderby`, `$search`) are not supported;
  `Prefer: odata.maxpagesize` sets the page size and `Prefer: outlook.timezone`
  the zone of the times (UTC when absent: event-delta, "Request headers");
- removed events come as `{"id": ..., "@removed": {"reason": ...}}`, including
  events outside the window that changed (event-delta, "Response"), and one event
  may come more than once in a round (delta-query-overview, "Resource
  representation"): the last mention counts;
- an expired token is answered 410 Gone, or a 4xx with the code `syncStateNotFound`
  (https://learn.microsoft.com/graph/delta-query-overview, "Synchronization reset"
  and "Token duration"): the round starts again on the window, as a full read.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from syncd.domain import ErrorCode, SyncdError, format_gmt, utc
from syncd.graph import odata
from syncd.graph.batch import GraphRequest, GraphResponse
from syncd.graph.delta import DeltaRequest, DeltaResult
from syncd.graph.errors import GraphError, error_details
from syncd.graph.transport import Call, GraphTransport

#: Error codes of a state token Graph no longer honours (compared case-insensitively).
EXPIRED_CODES = frozenset({"syncstatenotfound", "resyncrequired", "syncstateinvalid"})
#: A round that pages on past this many pages is given up (a runaway link).
MAX_DELTA_PAGES = 200
#: $batch envelopes of delta pages in flight at once: they address different mailboxes
#: (one request per mailbox a page), and Graph runs only 4 requests of an envelope at a
#: time, so 10 envelopes one after another would take 50 latencies.
ENVELOPES_IN_FLIGHT = 8


@dataclass
class _Round:
    """One mailbox's round in flight: where its next page is, what it has read."""

    request: DeltaRequest
    result: DeltaResult
    url: str | None  # relative to graph_url; None when the round is over
    restarted: bool = False
    pages: int = 0
    seen: dict[str, dict[str, Any] | None] = field(default_factory=dict)  # id -> item/removed


class DeltaReads(GraphTransport):
    """The calendarView delta rounds of GraphClient."""

    #: `Prefer: odata.maxpagesize` of every delta page (Graph may send fewer)
    delta_page_size: int = 200

    def calendar_view_delta(
        self, rounds: Sequence[DeltaRequest], *, correlation_id: str | None = None
    ) -> list[DeltaResult]:
        """One delta round per mailbox, results in the order of `rounds`; a mailbox that
        fails has its result's `error` set (and no `delta_link`), the others go on."""
        call = self._begin("calendar_view_delta", correlation_id)
        active = [self._start(request) for request in rounds]
        while True:
            paging = [r for r in active if r.url is not None]
            if not paging:
                break
            requests_ = [
                GraphRequest(
                    "GET", str(r.url), headers=self._delta_headers(), mailbox=r.request.mailbox
                )
                for r in paging
            ]
            try:
                answers = self._send_all(
                    call,
                    requests_,
                    action="read calendar changes",
                    side_by_side=ENVELOPES_IN_FLIGHT,
                )
            except SyncdError as error:  # no answer at all (transport, a refused envelope)
                for one in paging:
                    one.result.requests += 1
                    one.result.error, one.url = error, None
                continue
            for one, answer in zip(paging, answers, strict=True):
                one.result.requests += 1
                one.pages += 1
                self._read_page(call, one, answer)
        return [self._finish(r) for r in active]

    # ------------------------------------------------------------- internals

    def _delta_headers(self) -> dict[str, str]:
        return {"Prefer": f"{odata.PREFER_UTC}, odata.maxpagesize={self.delta_page_size}"}

    def _window_url(self, request: DeltaRequest) -> str:
        params: dict[str, str | int] = {
            "startDateTime": format_gmt(request.start),
            "endDateTime": format_gmt(request.end),
        }
        return odata.user_path(request.mailbox) + "/calendarView/delta" + odata.query(params)

    def _start(self, request: DeltaRequest) -> _Round:
        result = DeltaResult(request.mailbox, full_read=request.delta_link is None)
        if utc(request.end) <= utc(request.start):
            result.error = GraphError(
                ErrorCode.INVALID_REQUEST,
                f"The calendar window of {request.mailbox} ends before it starts: "
                f"{request.start} .. {request.end}.",
            )
            return _Round(request, result, None)
        if request.delta_link is None:
            return _Round(request, result, self._window_url(request))
        relative = self._relative(request.delta_link)
        if relative is None:
            # Never send the token to another host; the stored link is of no use here
            # (graph_url changed): read the window afresh.
            self._log.warning(
                "the stored delta link of %s is not under %s; reading its window afresh",
                request.mailbox,
                self._base,
            )
            result.full_read = True
            return _Round(request, result, self._window_url(request))
        return _Round(request, result, relative)

    def _relative(self, link: str) -> str | None:
        """A link under graph_url in the relative form $batch needs; None for any other."""
        if not link.startswith(self._base + "/"):
            return None
        return link[len(self._base) :]

    def _read_page(self, call: Call, one: _Round, answer: GraphResponse) -> None:
        mailbox = one.request.mailbox
        if not answer.ok:
            if _expired(answer) and not one.restarted:
                call.log.info("the delta link of %s expired; reading its window afresh", mailbox)
                one.restarted = True
                one.seen.clear()
                one.result.full_read = one.result.expired = True
                one.url = self._window_url(one.request)
                return
            one.result.error = self._error(
                call,
                answer,
                action=f"read the calendar changes of {mailbox}",
                mailbox=mailbox,
                not_found=ErrorCode.MAILBOX_NOT_FOUND,
            )
            one.url = None
            return
        body = answer.body if isinstance(answer.body, dict) else {}
        for item in body.get("value") or []:
            if isinstance(item, dict) and item.get("id"):
                one.seen.pop(str(item["id"]), None)  # the last mention counts
                one.seen[str(item["id"])] = None if "@removed" in item else item
        next_link, delta_link = body.get("@odata.nextLink"), body.get("@odata.deltaLink")
        if delta_link:
            one.result.delta_link = str(delta_link)
            one.url = None
        elif next_link and one.pages < MAX_DELTA_PAGES:
            one.url = self._relative(str(next_link))
            if one.url is None:
                one.result.error = GraphError(
                    ErrorCode.UPSTREAM_UNAVAILABLE,
                    f"Graph returned a next-page link outside {self._base} while reading the "
                    f"calendar changes of {mailbox}; not following it.",
                )
        else:
            one.result.error = GraphError(
                ErrorCode.UPSTREAM_UNAVAILABLE,
                f"Graph ended a page of the calendar changes of {mailbox} without a next or "
                f"delta link (or kept paging past {MAX_DELTA_PAGES} pages). Retry later.",
            )
            one.url = None

    @staticmethod
    def _finish(one: _Round) -> DeltaResult:
        result = one.result
        if result.error is not None:
            result.delta_link = None  # keep the old link: nothing of this round is trusted
            result.changed, result.removed = [], []
            return result
        result.changed = [item for item in one.seen.values() if item is not None]
        result.removed = [key for key, item in one.seen.items() if item is None]
        return result


def _expired(answer: GraphResponse) -> bool:
    if answer.status == 410:
        return True
    code, _, _ = error_details(answer.body)
    return 400 <= answer.status < 500 and code.lower() in EXPIRED_CODES
