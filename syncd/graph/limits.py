"""Per-mailbox concurrency: at most N Graph requests in flight for one mailbox.

Outlook allows 4 concurrent requests per app and mailbox and answers 429
("MailboxConcurrency") beyond that:
https://learn.microsoft.com/graph/throttling-limits#outlook-service-limits
The 4 belong to the app, not to a process: the sync and the Scheduler API processes
share them, so N here is one process's share (config.GraphTuning.in_flight_for), the
shares adding up to at most 4. A split, not a lock between processes: replicas on
PostgreSQL run on several machines, where no file lock reaches.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager


class MailboxLimiter:
    """Slots per lower-cased mailbox, taken all at once or not at all.

    A caller that needs slots in several mailboxes (a $batch) waits until every
    one of them has room and then takes them together, so no caller holds some
    slots while waiting for others: no deadlock, whatever the order.
    """

    def __init__(self, limit: int) -> None:
        if limit < 1:
            raise ValueError("limit must be at least 1")
        self.limit = limit
        self._in_flight: dict[str, int] = {}
        self._changed = threading.Condition()

    @contextmanager
    def hold(self, demand: Mapping[str | None, int]) -> Iterator[None]:
        """Hold `demand[mailbox]` slots (capped at the limit) for each mailbox; None is free."""
        wanted = {
            key.lower(): min(count, self.limit)
            for key, count in demand.items()
            if key and count > 0
        }
        with self._changed:
            self._changed.wait_for(lambda: self._fits(wanted))
            for key, count in wanted.items():
                self._in_flight[key] = self._in_flight.get(key, 0) + count
        try:
            yield
        finally:
            with self._changed:
                for key, count in wanted.items():
                    left = self._in_flight[key] - count
                    if left:
                        self._in_flight[key] = left
                    else:
                        del self._in_flight[key]  # keeps the table as small as the traffic
                self._changed.notify_all()

    def in_flight(self, mailbox: str) -> int:
        with self._changed:
            return self._in_flight.get(mailbox.lower(), 0)

    def _fits(self, wanted: Mapping[str, int]) -> bool:
        return all(self._in_flight.get(k, 0) + n <= self.limit for k, n in wanted.items())
