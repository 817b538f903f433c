"""Graph calls that read calendars: calendarView, a series' instances, events by id in $batch."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from syncd.domain import ErrorCode, format_gmt, utc
from syncd.graph import odata
from syncd.graph.batch import (
    GraphRequest,
    GraphResponse,
)
from syncd.graph.errors import GraphError
from syncd.graph.transport import GraphTransport

#: calendarView page size: a mailbox's meetings in one request, or a few.
_VIEW_PAGE_SIZE = 500


class CalendarReads(GraphTransport):
    """The calendar reads of GraphClient."""

    def calendar_view(
        self,
        mailbox: str,
        start: datetime,
        end: datetime,
        *,
        select: Sequence[str] | None = None,
        correlation_id: str | None = None,
    ) -> list[dict[str, Any]]:
        """Every event of `mailbox`'s calendar overlapping [start, end), times in UTC: one
        request per page of up to 500 events, however many meetings the mailbox holds.

        https://learn.microsoft.com/graph/api/user-list-calendarview (paged by
        `@odata.nextLink`: https://learn.microsoft.com/graph/paging)
        """
        if utc(end) <= utc(start):
            raise GraphError(
                ErrorCode.INVALID_REQUEST, f"calendar view ends before it starts: {start} .. {end}"
            )
        call = self._begin("calendar_view", correlation_id)
        params: dict[str, str | int] = {
            "startDateTime": format_gmt(start),
            "endDateTime": format_gmt(end),
            "$top": _VIEW_PAGE_SIZE,
            **odata.select(select),
        }
        path = odata.user_path(mailbox) + "/calendarView" + odata.query(params)
        return self._list(call, path, mailbox=mailbox, action=f"read the calendar of {mailbox}")

    def list_instances(
        self,
        mailbox: str,
        graph_event_id: str,
        start: datetime,
        end: datetime,
        *,
        select: Sequence[str] | None = None,
        correlation_id: str | None = None,
    ) -> list[dict[str, Any]]:
        """The occurrences and exceptions of series master `graph_event_id` in [start, end), UTC.

        https://learn.microsoft.com/graph/api/event-list-instances (each carries `type`,
        `seriesMasterId` and `originalStart`; cancelled occurrences are not listed).
        """
        call = self._begin("list_instances", correlation_id)
        params: dict[str, str | int] = {
            "startDateTime": utc(start).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "endDateTime": utc(end).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "$top": 100,
            **odata.select(select),
        }
        path = odata.event_path(mailbox, graph_event_id) + "/instances" + odata.query(params)
        return self._list(call, path, mailbox=mailbox, action=f"list instances of {graph_event_id}")

    def get_events_batch(
        self,
        items: Sequence[tuple[str, str]],
        *,
        select: Sequence[str] | None = None,
        correlation_id: str | None = None,
    ) -> list[GraphResponse]:
        """GET each (mailbox, event id) through $batch, times in UTC."""
        call = self._begin("get_events_batch", correlation_id)
        query = odata.query(odata.select(select))
        requests_ = [
            GraphRequest(
                "GET",
                odata.event_path(mailbox, graph_event_id) + query,
                headers={"Prefer": odata.PREFER_UTC},
                mailbox=mailbox,
            )
            for mailbox, graph_event_id in items
        ]
        return self._run_batch(call, requests_)
