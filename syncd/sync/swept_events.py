"""The Events the Outlook sweep wrote with a change made in Outlook, remembered for the
poll: a copy of such an Event the poll read before the sweep's write is out of date.

The poll reads Events a query at a time (up to 2,000 records an answer) and compares
each page with the ledger only when it comes to it; meanwhile a sweep (run for an
earlier page's updates, or the daemon's outlook job) may write one of them and move the
ledger on. Planned against that ledger, the old copy looks like a change in Salesforce
and would be PATCHed to Outlook over the organizer's change. The sweep records the
SystemModstamp each Event had when it read it, before its write: a copy stamped no
later is older than that write. A copy stamped later holds the sweep's write or an
edit made since, and is planned as usual.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from datetime import datetime, timedelta

#: How long a write is remembered: far longer than a poll holds a page it read.
KEEP_FOR = timedelta(hours=1)


class SweptEvents:
    """Event id -> the SystemModstamp the sweep read before writing it (thread-safe: the
    poll and the outlook job run side by side)."""

    def __init__(self, clock: Callable[[], datetime]) -> None:
        self.clock = clock
        self._lock = threading.Lock()
        self._read: dict[str, tuple[datetime, datetime]] = {}  # id -> (stamp, noted at)

    def add(self, stamps: Mapping[str, datetime]) -> None:
        """Note the Events a sweep wrote ({Event id: its SystemModstamp as read})."""
        now = self.clock()
        with self._lock:
            for event_id, stamp in stamps.items():
                self._read[event_id] = (stamp, now)
            oldest = now - KEEP_FOR
            for event_id in [k for k, (_, at) in self._read.items() if at < oldest]:
                del self._read[event_id]

    def outdated(self, copies: Mapping[str, datetime | None]) -> set[str]:
        """Of these copies ({Event id: SystemModstamp of the copy}), those read before a
        sweep wrote their Event."""
        with self._lock:
            return {
                event_id
                for event_id, stamp in copies.items()
                if stamp is not None
                and (swept := self._read.get(event_id)) is not None
                and stamp <= swept[0]
            }
