"""Reads of Outlook a series needs: organizers' mailbox time zones (kept for an hour) and
the occurrences of a series master by their original date
(GET /events/{master}/instances, https://learn.microsoft.com/en-us/graph/api/event-list-instances).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from datetime import date, datetime, timedelta

from syncd.core import event_mapping as em
from syncd.domain import Meeting, SyncdError, utc
from syncd.graph.port import GraphReader
from syncd.ledger.models import MeetingRecord
from syncd.sync.salesforce_event import parse_datetime
from syncd.sync.series_shape import local_date

log = logging.getLogger(__name__)

#: How long an organizer's mailbox time zone is trusted before it is read again.
ZONE_TTL_SECONDS = 3600.0


class ZoneCache:
    """Organizers' mailbox time zones (GET mailboxSettings/timeZone), kept for an hour."""

    def __init__(self, read: Callable[[str], str], ttl: float = ZONE_TTL_SECONDS) -> None:
        self._read = read
        self._ttl = ttl
        self._zones: dict[str, tuple[float, str | None]] = {}

    def __call__(self, mailbox: str) -> str | None:
        key = mailbox.casefold()
        cached = self._zones.get(key)
        if cached is not None and time.monotonic() - cached[0] < self._ttl:
            return cached[1]
        try:
            zone: str | None = self._read(mailbox)
        except SyncdError as error:
            log.warning("time zone of %s unknown (%s); all-day meetings use UTC", mailbox, error)
            zone = None
        self._zones[key] = (time.monotonic(), zone)
        return zone


class Instances:
    """The Outlook occurrences of one series master, by original local date (read lazily)."""

    def __init__(self, graph: GraphReader, master_row: MeetingRecord, master: Meeting) -> None:
        self.graph = graph
        self.master_row = master_row
        self.zone = master.time_zone or "UTC"
        self.start = utc(master.start) - timedelta(days=1)
        self._by_date: dict[date, str] | None = None
        self._low = self._high = date.min

    def refresh(self) -> Instances:
        self._by_date = None
        return self

    def id_on(self, day: date) -> str | None:
        if self._by_date is None:
            self._by_date = self._read(day)
        found = self._by_date.get(day)
        if found is None and (day < self._low or day > self._high):
            self._by_date.update(self._read(day))
            found = self._by_date.get(day)
        return found

    def _read(self, around: date) -> dict[date, str]:
        # The whole series at once when it fits a reasonable window; else around the day.
        day = datetime.combine(around, datetime.min.time(), tzinfo=self.start.tzinfo)
        start = min(self.start, day - timedelta(days=2))
        end = max(start + timedelta(days=400), day + timedelta(days=3))
        self._low, self._high = start.date(), end.date()
        assert self.master_row.graph_event_id is not None
        items = self.graph.list_instances(
            self.master_row.organizer_email,
            self.master_row.graph_event_id,
            start,
            end,
            select=("id", "originalStart", "type", "start"),
        )
        found: dict[date, str] = {}
        for item in items:
            original = parse_datetime(item.get("originalStart")) or em.parse_graph_time(
                item.get("start")
            )
            if original is not None:
                found[local_date(original, self.zone)] = str(item["id"])
        return found
