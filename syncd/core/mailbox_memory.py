"""What Microsoft 365 said about mailboxes lately, per tenant and process.

Availability reads free/busy with getSchedule, asked through some mailbox's calendar.
Graph says an address has no mailbox in two ways: a 404 for the calendar asked
through, or an `error` item for that address in getSchedule's answer ("an unknown
address comes back as an item with an error":
https://learn.microsoft.com/graph/outlook-get-free-busy-schedule,
https://learn.microsoft.com/graph/api/resources/freebusyerror). Such an address is
remembered for a while, so asking about it again does not reach Graph; a mailbox that
answered is remembered as one to ask through. Bounded: the oldest entries go first.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable
from datetime import datetime, timedelta

#: Entries kept of each kind; a caller naming ever new addresses only pushes old ones out.
MAX_ENTRIES = 10_000


class MailboxMemory:
    """Addresses without a mailbox (with Graph's reason) and mailboxes that answered,
    each remembered for `ttl` from when Graph said so. Thread-safe."""

    def __init__(
        self,
        ttl: timedelta,
        clock: Callable[[], datetime],
        *,
        max_entries: int = MAX_ENTRIES,
    ) -> None:
        self.ttl = ttl
        self.clock = clock
        self.max_entries = max_entries
        self._lock = threading.Lock()
        self._missing: OrderedDict[str, tuple[datetime, str]] = OrderedDict()
        self._present: OrderedDict[str, datetime] = OrderedDict()

    def missing(self, address: str) -> str | None:
        """Graph's reason why `address` has no mailbox, if it said so within the ttl."""
        key = address.casefold()
        with self._lock:
            entry = self._missing.get(key)
            if entry is None:
                return None
            if self.clock() - entry[0] >= self.ttl:
                del self._missing[key]
                return None
            return entry[1]

    def remember_missing(self, address: str, reason: str) -> None:
        if self.ttl <= timedelta(0):
            return
        key = address.casefold()
        with self._lock:
            self._present.pop(key, None)
            self._missing[key] = (self.clock(), reason)
            self._missing.move_to_end(key)
            while len(self._missing) > self.max_entries:
                self._missing.popitem(last=False)

    def remember_present(self, address: str) -> None:
        if self.ttl <= timedelta(0):
            return
        key = address.casefold()
        with self._lock:
            self._missing.pop(key, None)
            self._present[key] = self.clock()
            self._present.move_to_end(key)
            while len(self._present) > self.max_entries:
                self._present.popitem(last=False)

    def present(self, address: str) -> bool:
        """Whether `address` answered as a mailbox within the ttl."""
        key = address.casefold()
        with self._lock:
            seen = self._present.get(key)
            return seen is not None and self.clock() - seen < self.ttl

    def a_present_one(self, excluding: set[str]) -> str | None:
        """The mailbox that answered most recently (within the ttl), not in `excluding`
        (lower-cased): one to ask through when a group's own members have none."""
        now = self.clock()
        with self._lock:
            for key in reversed(self._present):
                if now - self._present[key] >= self.ttl:
                    break  # older ones are older still
                if key not in excluding:
                    return key
        return None
