"""Time zone names as Graph accepts them (Windows names and IANA names) and its dateTime format.

dateTimeTimeZone: https://learn.microsoft.com/en-us/graph/api/resources/datetimetimezone
"""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from syncd.sandbox.microsoft.errors import GraphError

# A handful of Windows zone names (the ones Outlook reports) mapped to IANA.
WINDOWS_TO_IANA = {
    "utc": "UTC",
    "tzone://microsoft/utc": "UTC",
    "coordinated universal time": "UTC",
    "gmt standard time": "Europe/London",
    "greenwich standard time": "Atlantic/Reykjavik",
    "w. europe standard time": "Europe/Berlin",
    "romance standard time": "Europe/Paris",
    "central europe standard time": "Europe/Budapest",
    "central european standard time": "Europe/Warsaw",
    "e. europe standard time": "Europe/Chisinau",
    "fle standard time": "Europe/Kiev",
    "russian standard time": "Europe/Moscow",
    "india standard time": "Asia/Kolkata",
    "singapore standard time": "Asia/Singapore",
    "china standard time": "Asia/Shanghai",
    "tokyo standard time": "Asia/Tokyo",
    "aus eastern standard time": "Australia/Sydney",
    "new zealand standard time": "Pacific/Auckland",
    "eastern standard time": "America/New_York",
    "central standard time": "America/Chicago",
    "mountain standard time": "America/Denver",
    "us mountain standard time": "America/Phoenix",
    "pacific standard time": "America/Los_Angeles",
    "alaskan standard time": "America/Anchorage",
    "hawaiian standard time": "Pacific/Honolulu",
    "e. south america standard time": "America/Sao_Paulo",
}

NULL_TIME = "0001-01-01T00:00:00Z"


def unsupported_zone(name: str) -> GraphError:
    return GraphError(
        400,
        "TimeZoneNotSupportedException",
        "A valid TimeZone value must be specified. "
        f"The following TimeZone value is not supported: '{name}'.",
    )


def resolve_zone(name: str) -> ZoneInfo:
    """ZoneInfo for a Windows or IANA zone name; unknown names raise Graph's 400."""
    key = WINDOWS_TO_IANA.get(name.strip().lower(), name.strip())
    try:
        return ZoneInfo(key)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise unsupported_zone(name) from exc


def is_known_zone(name: str) -> bool:
    try:
        resolve_zone(name)
    except GraphError:
        return False
    return True


def parse_datetime_timezone(value: object, field: str) -> tuple[datetime, str]:
    """Read a `{dateTime, timeZone}` object into (aware UTC datetime, zone name as given)."""
    if not isinstance(value, dict):
        raise GraphError(400, "BadRequest", f"'{field}' must be a dateTimeTimeZone object.")
    lowered = {str(k).lower(): v for k, v in value.items()}
    raw, zone_name = lowered.get("datetime"), lowered.get("timezone") or "UTC"
    if not isinstance(raw, str) or not isinstance(zone_name, str):
        raise GraphError(400, "BadRequest", f"'{field}' needs string dateTime and timeZone.")
    zone = resolve_zone(zone_name)
    try:
        parsed = datetime.fromisoformat(raw.strip())
    except ValueError as exc:
        raise GraphError(
            400, "BadRequest", f"Cannot convert the literal '{raw}' to the expected type."
        ) from exc
    local = parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=zone)
    return local.astimezone(UTC), zone_name


def parse_instant(raw: str, field: str) -> datetime:
    """An ISO 8601 query value (calendarView bounds); no offset means UTC."""
    try:
        parsed = datetime.fromisoformat(raw.strip().replace(" ", "+"))
    except ValueError as exc:
        raise GraphError(
            400, "ErrorInvalidParameter", f"The value '{raw}' of parameter '{field}' is invalid."
        ) from exc
    return (parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)).astimezone(UTC)


def format_local(instant: datetime, zone_name: str) -> dict[str, str]:
    """Graph's dateTimeTimeZone rendering: 7 fractional digits, no offset."""
    local = instant.astimezone(resolve_zone(zone_name))
    text = local.strftime("%Y-%m-%dT%H:%M:%S") + f".{local.microsecond:06d}0"
    return {"dateTime": text, "timeZone": zone_name}


def format_timestamp(instant: datetime) -> str:
    """DateTimeOffset as Graph writes it: UTC, 7 fractional digits, trailing Z."""
    utc = instant.astimezone(UTC)
    return utc.strftime("%Y-%m-%dT%H:%M:%S") + f".{utc.microsecond:06d}0Z"
