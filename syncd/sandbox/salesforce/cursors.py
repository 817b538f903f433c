"""Query locators: the rest of a query result, served page by page via nextRecordsUrl.

Query and Query More Results
(https://developer.salesforce.com/docs/atlas.en-us.api_rest.meta/api_rest/resources_query.htm,
resources_query_more_results.htm): up to 2,000 records a page, or the batch size asked
for with `Sforce-Query-Options: batchSize=N` (200-2,000, headers_queryoptions.htm);
`nextRecordsUrl` is a path `/services/data/vXX.X/query/<locator>-<rows served>`, also
for queryAll. A user keeps at most 10 open cursors (the oldest is dropped) and a
cursor idle for 15 minutes expires; either way the next page answers 400
INVALID_QUERY_LOCATOR.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from syncd.sandbox.salesforce.errors import SalesforceError
from syncd.sandbox.salesforce.records import Record

DEFAULT_BATCH = 2000
MIN_BATCH = 200
MAX_BATCH = 2000
CURSORS_PER_USER = 10
CURSOR_IDLE = timedelta(minutes=15)


def batch_size(header: str | None) -> int:
    """The page size from a `Sforce-Query-Options` header (clamped to 200..2000)."""
    if not header:
        return DEFAULT_BATCH
    for option in header.split(","):
        name, _, value = option.partition("=")
        if name.strip().lower() == "batchsize" and value.strip().isdigit():
            return max(MIN_BATCH, min(MAX_BATCH, int(value)))
    return DEFAULT_BATCH


@dataclass
class Cursor:
    locator: str
    user_id: str
    rows: list[Record]
    render: Callable[[Record], dict[str, Any]]
    batch: int
    last_used: datetime


def invalid_locator() -> SalesforceError:
    return SalesforceError(400, "INVALID_QUERY_LOCATOR", "invalid query locator")


class Cursors:
    """Open query cursors, per user, on the sandbox clock."""

    def __init__(self, new_id: Callable[[], str]) -> None:
        self._new_id = new_id
        self._lock = threading.Lock()
        self._open: OrderedDict[str, Cursor] = OrderedDict()

    def page(
        self,
        *,
        user_id: str,
        rows: list[Record],
        render: Callable[[Record], dict[str, Any]],
        batch: int,
        version: str,
        now: datetime,
    ) -> dict[str, Any]:
        """The first page of a result; opens a cursor when more pages follow."""
        if len(rows) <= batch:
            return {"totalSize": len(rows), "done": True, "records": [render(r) for r in rows]}
        cursor = Cursor(self._new_id(), user_id, rows, render, batch, now)
        with self._lock:
            self._open[cursor.locator] = cursor
            self._trim(user_id)
        return self._serve(cursor, 0, version)

    def more(self, locator: str, user_id: str, version: str, now: datetime) -> dict[str, Any]:
        """The page starting after `<locator>-<served>`."""
        key, _, served = locator.rpartition("-")
        with self._lock:
            self._expire(now)
            cursor = self._open.get(key)
            if cursor is None or cursor.user_id != user_id or not served.isdigit():
                raise invalid_locator()
            start = int(served)
            if start >= len(cursor.rows):
                raise invalid_locator()
            cursor.last_used = now
            self._open.move_to_end(key)
        return self._serve(cursor, start, version)

    def _serve(self, cursor: Cursor, start: int, version: str) -> dict[str, Any]:
        end = start + cursor.batch
        page = cursor.rows[start:end]
        body: dict[str, Any] = {"totalSize": len(cursor.rows), "done": end >= len(cursor.rows)}
        if body["done"]:
            with self._lock:
                self._open.pop(cursor.locator, None)
        else:
            body["nextRecordsUrl"] = f"/services/data/v{version}/query/{cursor.locator}-{end}"
        body["records"] = [cursor.render(r) for r in page]
        return body

    def _trim(self, user_id: str) -> None:
        mine = [key for key, c in self._open.items() if c.user_id == user_id]
        for key in mine[: max(0, len(mine) - CURSORS_PER_USER)]:
            del self._open[key]

    def _expire(self, now: datetime) -> None:
        for key in [k for k, c in self._open.items() if now - c.last_used > CURSOR_IDLE]:
            del self._open[key]

    def clear(self) -> None:
        with self._lock:
            self._open.clear()
