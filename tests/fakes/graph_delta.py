"""calendarView delta for MemoryGraph: state tokens kept in memory, one page a round.

Semantics held to the sandbox's by tests/contract (https://learn.microsoft.com/graph/api/event-delta,
https://learn.microsoft.com/graph/delta-query-events):

- a round without a link reads every event of the window (single instances,
  occurrences, exceptions; never series masters): `full_read`;
- a round from a delta link answers the events of the window whose changeKey differs
  from the last round's (new ones included) and `@removed` ids for those that left the
  window (deleted, cancelled, moved out); events outside the window that changed since
  are reported removed as well, as Graph does ("Events that are outside the date range
  and that have been added, deleted, or updated since the previous delta call");
- a link the fake no longer knows (`expire`) is expired: the round reads the window
  afresh (`full_read`, `expired`), as GraphClient does after Graph's 410.
"""

from __future__ import annotations

import itertools
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import quote

from syncd.domain import utc
from syncd.graph.delta import DeltaRequest, DeltaResult

#: The base the fake's links are absolute under, like Graph's.
LINK_BASE = "https://graph.microsoft.com/v1.0"

#: (mailbox, start, end) -> every item of the window, rendered, ordered by start
Window = Callable[[str, datetime, datetime], list[dict[str, Any]]]
#: mailbox -> {id: changeKey} of its stored single events that are not series masters
Stored = Callable[[str], dict[str, str]]


@dataclass(frozen=True)
class _Token:
    mailbox: str
    start: datetime
    end: datetime
    seen: dict[str, str]  # id -> changeKey of each item of the window
    outside: dict[str, str]  # id -> changeKey of each single event outside the window


class DeltaLinks:
    """The state tokens MemoryGraph hands out, and the knob that expires them."""

    def __init__(self) -> None:
        self._tokens: dict[str, _Token] = {}
        self._numbers = itertools.count(1)
        self._lock = threading.Lock()

    def expire(self, mailbox: str | None = None) -> int:
        """Forget every token (of `mailbox`, or all): their links answer as expired."""
        with self._lock:
            wanted = mailbox.lower() if mailbox else None
            gone = [k for k, t in self._tokens.items() if wanted in (None, t.mailbox)]
            for key in gone:
                del self._tokens[key]
            return len(gone)

    def round(self, request: DeltaRequest, window: Window, stored: Stored) -> DeltaResult:
        """One mailbox's round (the caller checks the mailbox and holds the store's lock)."""
        mailbox = request.mailbox.lower()
        result = DeltaResult(request.mailbox, requests=1)
        previous = self._lookup(request.delta_link) if request.delta_link else None
        if previous is not None and previous.mailbox != mailbox:
            previous = None  # another mailbox's link: not this calendar view's state
        start, end = (
            (previous.start, previous.end) if previous else (utc(request.start), utc(request.end))
        )
        items = window(request.mailbox, start, end)
        seen = {str(i["id"]): str(i.get("changeKey")) for i in items}
        outside = {k: v for k, v in stored(request.mailbox).items() if k not in seen}
        if previous is None:
            result.changed = items
            result.full_read = True
            result.expired = request.delta_link is not None
        else:
            result.changed = [i for i in items if previous.seen.get(str(i["id"])) != seen[i["id"]]]
            left = [i for i in previous.seen if i not in seen]
            touched = [
                i
                for i in sorted(set(previous.outside) | set(outside))
                if previous.outside.get(i) != outside.get(i) and i not in seen
            ]
            result.removed = list(dict.fromkeys([*left, *touched]))
        result.delta_link = self._issue(_Token(mailbox, start, end, seen, outside))
        return result

    def _issue(self, token: _Token) -> str:
        with self._lock:
            key = f"mem{next(self._numbers):06d}"
            self._tokens[key] = token
        path = f"/users/{quote(token.mailbox, safe='@')}/calendarView/delta"
        return f"{LINK_BASE}{path}?$deltatoken={key}"

    def _lookup(self, link: str) -> _Token | None:
        key = link.rpartition("$deltatoken=")[2]
        with self._lock:
            return self._tokens.get(key)
