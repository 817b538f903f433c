"""What a Salesforce series becomes for Outlook, and the refusals both Salesforce models
share (see `recurrence_patterns` for the classic fields, `rrule_patterns` for Lightning
RRULEs, `recurrence_exactness` for the calendar and clock arithmetic)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime, time
from typing import Any
from zoneinfo import ZoneInfo

from syncd.core.recurrence_mapping import zone_info
from syncd.domain import utc
from syncd.sync import recurrence_exactness as exact


@dataclass(frozen=True)
class Series:
    """A Salesforce series as Outlook will hold it."""

    recurrence: dict[str, Any]
    time_zone: str
    model: str  # classic | lightning
    pattern_text: str  # how the pattern is named in messages


class Unsupported(ValueError):
    """A pattern Graph cannot express exactly; the message names the pattern and why."""


def zone_of(name: str) -> ZoneInfo:
    """The rules of the series' zone (IANA or Windows name), or Unsupported."""
    info = zone_info(name)
    if info is None:
        raise Unsupported(f"the series time zone '{name}' is unknown")
    return info


def first_wall(start: datetime, info: ZoneInfo, *, all_day: bool) -> datetime:
    """The series' first start as a naive wall-clock time, or Unsupported if it has none.

    All-day series keep their dates at midnight UTC (Event reference, ActivityDate), so
    their date is the UTC one and clock changes do not concern them.
    """
    if all_day:
        return datetime.combine(utc(start).date(), time())
    reason = exact.ambiguous_start(utc(start), info)
    if reason:
        raise Unsupported(reason)
    return utc(start).astimezone(info).replace(tzinfo=None)


def refuse_short_month(
    name: str, day: int, first: date, step: int, span: Mapping[str, Any], why: str
) -> None:
    """Unsupported if an absolute series on `day` (every `step` months from `first`'s
    month, within the Graph range `span`) reaches a month without that day, where Outlook
    uses the month's last day (`recurrence_exactness.first_short_month`); `why` says what
    Salesforce does there."""
    if day < 29:
        return
    count = span.get("numberOfOccurrences")
    last = date.fromisoformat(span["endDate"]) if span.get("endDate") else None
    short = exact.first_short_month(day, first, step, count=count, last=last)
    if short is not None:
        raise Unsupported(
            f"{name}: day {day} of the month does not exist in {short:%B %Y}; {why}, "
            f"Outlook moves it to the month's last day ({short.isoformat()})"
        )
