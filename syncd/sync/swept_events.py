"""The Events the Outlook sweep wrote with a change made in Outlook, remembered for the
poll: a copy of such an Event the poll read before the sweep's write is out of date.

The poll reads Events a query at a time (up to 2,000 records an answer) and compares
each page with the ledger only when it comes to it; meanwhile a sweep (run for an
earlier page's updates, or the daemon's outlook job) may write one of them and move the
ledger on. Planned against that ledger, the old copy looks like a change in Salesforce
and would be PATCHed to Outlook over the organizer's change. The sweep records each
Event as it read it before its write: its SystemModstamp and content hash. A copy
stamped earlier, or stamped the same and holding the same content, is that old Event.
A copy stamped later (or the same second with other content: Salesforce stamps need not
tell two writes of one second apart) holds the sweep's write or an edit made since, and
is planned as usual.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta

#: How long a write is remembered: far longer than a poll holds a page it read.
KEEP_FOR = timedelta(hours=1)


@dataclass(frozen=True)
class Copy:
    """An Event as read: its SystemModstamp and the content hash of its meeting."""

    stamp: datetime | None
    content_hash: str | None


class SweptEvents:
    """Event id -> the Event as the sweep read it before writing it (thread-safe: the
    poll and the outlook job run side by side)."""

    def __init__(self, clock: Callable[[], datetime]) -> None:
        self.clock = clock
        self._lock = threading.Lock()
        self._read: dict[str, tuple[Copy, datetime]] = {}  # id -> (as read, noted at)

    def add(self, reads: Mapping[str, Copy]) -> None:
        """Note the Events a sweep wrote ({Event id: the Event as it read it})."""
        now = self.clock()
        with self._lock:
            for event_id, copy in reads.items():
                self._read[event_id] = (copy, now)
            oldest = now - KEEP_FOR
            for event_id in [k for k, (_, at) in self._read.items() if at < oldest]:
                del self._read[event_id]

    def outdated(self, copies: Mapping[str, Copy]) -> set[str]:
        """Of these copies ({Event id: the copy}), those read before a sweep wrote their
        Event."""
        with self._lock:
            return {
                event_id
                for event_id, copy in copies.items()
                if (swept := self._read.get(event_id)) is not None and _older(copy, swept[0])
            }


def _older(copy: Copy, swept: Copy) -> bool:
    if copy.stamp is None or swept.stamp is None:
        return False
    if copy.stamp != swept.stamp:
        return copy.stamp < swept.stamp
    return copy.content_hash is not None and copy.content_hash == swept.content_hash
