"""Both readings of one series, for comparing them: RFC 5545's (the Salesforce sandbox,
python-dateutil) and Exchange's (the Graph sandbox) of what syncd sends."""

from __future__ import annotations

from datetime import date, datetime
from zoneinfo import ZoneInfo

from syncd.core.recurrence_mapping import graph_recurrence, graph_time
from syncd.sandbox.microsoft.recurrence import series_starts
from syncd.sandbox.microsoft.timezones import resolve_zone
from syncd.sandbox.salesforce.rfc5545 import rrule_starts
from syncd.sync.recurrence_patterns import Series


def rfc_starts(text: str, first: datetime, *, horizon: date) -> list[datetime]:
    """RFC 5545's occurrences (UTC) of `text` with DTSTART `first` (aware, in its zone)."""
    assert isinstance(first.tzinfo, ZoneInfo)
    return rrule_starts(text, first, first.tzinfo, horizon=horizon)


def outlook_starts(series: Series, start: datetime, *, horizon: date) -> list[datetime]:
    """Outlook's occurrences (UTC) of the series syncd makes: its recurrence, and the
    master's start as syncd writes them (zones under their Windows names), read as the
    Graph sandbox reads them."""
    sent = graph_time(start, series.time_zone)
    wall = datetime.fromisoformat(sent["dateTime"]).replace(tzinfo=resolve_zone(sent["timeZone"]))
    return series_starts(graph_recurrence(series.recurrence), wall, horizon=horizon)
