"""Date and dateTime values as the REST API writes and reads them.

Responses carry UTC datetimes as `2013-05-20T20:49:32.000+0000` and dates as
`2013-05-20` (example record in
https://developer.salesforce.com/docs/atlas.en-us.api_rest.meta/api_rest/headers_api_usage.htm).
Requests may send `...Z`, `...+01:00`, `...+0100`, with or without milliseconds.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, time, timedelta, timezone

_DATETIME = re.compile(
    r"^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,9}))?"
    r"(Z|[+-]\d{2}:?\d{2})?$"
)
_DATE = re.compile(r"^(\d{4})-(\d{2})-(\d{2})$")


def format_datetime(value: datetime) -> str:
    """`2026-01-05T10:00:00.000+0000` (always UTC, milliseconds kept)."""
    utc = value.astimezone(UTC)
    return utc.strftime("%Y-%m-%dT%H:%M:%S.") + f"{utc.microsecond // 1000:03d}+0000"


def format_date(value: date) -> str:
    return value.isoformat()


def parse_offset(text: str | None) -> timezone:
    if text is None or text == "Z":
        return UTC
    sign = -1 if text[0] == "-" else 1
    digits = text[1:].replace(":", "")
    delta = timedelta(hours=int(digits[:2]), minutes=int(digits[2:]))
    return timezone(sign * delta)


def parse_datetime(text: str, *, default_utc: bool = True) -> datetime:
    """An aware datetime from any of the ISO 8601 forms Salesforce accepts.

    A value without a zone is taken as UTC when `default_utc` (record bodies),
    refused otherwise (SOQL literals must carry `Z` or an offset).
    """
    match = _DATETIME.match(text.strip())
    if match is None:
        raise ValueError(f"not a dateTime: {text!r}")
    year, month, day, hour, minute, second, fraction, zone = match.groups()
    if zone is None and not default_utc:
        raise ValueError(f"dateTime without a time zone: {text!r}")
    micro = int((fraction or "0")[:6].ljust(6, "0"))
    value = datetime(
        int(year),
        int(month),
        int(day),
        int(hour),
        int(minute),
        int(second),
        micro,
        tzinfo=parse_offset(zone),
    )
    return value.astimezone(UTC)


def parse_date(text: str) -> date:
    match = _DATE.match(text.strip())
    if match is None:
        raise ValueError(f"not a date: {text!r}")
    return date(int(match[1]), int(match[2]), int(match[3]))


def midnight(day: date) -> datetime:
    """`day` at 00:00 UTC, as all-day events store their start."""
    return datetime.combine(day, time(0), tzinfo=UTC)


def truncate_to_minute(value: datetime) -> datetime:
    """Seconds dropped: getUpdated/getDeleted work on whole minutes."""
    return value.replace(second=0, microsecond=0)


def truncate_to_millis(value: datetime) -> datetime:
    """Salesforce keeps datetimes to the millisecond."""
    return value.replace(microsecond=value.microsecond // 1000 * 1000)
