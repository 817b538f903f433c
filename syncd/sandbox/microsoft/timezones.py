"""Time zone names as Graph accepts them, and Graph's dateTime format.

dateTimeTimeZone (https://learn.microsoft.com/en-us/graph/api/resources/datetimetimezone):
"the timeZone property can be set to any of the time zones currently supported by
Windows, as well as the additional time zones supported by the calendar API", and the
page lists those additional (IANA) names. An IANA name off that list is refused:

    400 {"error": {"code": "TimeZoneNotSupportedException", "message": "A valid TimeZone
    value must be specified. The following TimeZone value is not supported: '...'."}}

(the answer Graph gave in https://github.com/microsoftgraph/microsoft-graph-docs/issues/4758;
https://github.com/microsoftgraph/microsoft-graph-docs-contrib/issues/4037 shows a listed
name refused too, so the list is an upper bound). The sandbox accepts:

- every Windows zone of CLDR's windowsZones table (territory 001), as the tzlocal library
  ships it: the Windows zones mailboxSettings can report;
- exactly the IANA names of the documentation's list below (`DOCUMENTED_IANA`), and
  nothing else: Europe/Berlin is accepted, Europe/Amsterdam is not.

Names are matched without regard to case (ASSUMED: the documentation does not say).
"""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from tzlocal.windows_tz import win_tz

from syncd.sandbox.microsoft.errors import GraphError

#: The "Additional time zones" of
#: https://learn.microsoft.com/en-us/graph/api/resources/datetimetimezone#additional-time-zones
#: (microsoft-graph-docs-contrib, api-reference/v1.0/resources/datetimetimezone.md), in the
#: page's order, each with the tzdata key whose rules it follows. Four entries are printed
#: with an old name in brackets ("Europe/Kyiv (Kiev)"): both names are taken, and the two
#: that tzdata does not know (Asia/Toshkent, Asia/Astana) follow Tashkent and Almaty.
DOCUMENTED_IANA: dict[str, str] = {
    "Etc/GMT+12": "Etc/GMT+12",
    "Etc/GMT+11": "Etc/GMT+11",
    "Pacific/Honolulu": "Pacific/Honolulu",
    "America/Anchorage": "America/Anchorage",
    "America/Santa_Isabel": "America/Tijuana",
    "America/Los_Angeles": "America/Los_Angeles",
    "America/Phoenix": "America/Phoenix",
    "America/Chihuahua": "America/Chihuahua",
    "America/Denver": "America/Denver",
    "America/Guatemala": "America/Guatemala",
    "America/Chicago": "America/Chicago",
    "America/Mexico_City": "America/Mexico_City",
    "America/Regina": "America/Regina",
    "America/Bogota": "America/Bogota",
    "America/New_York": "America/New_York",
    "America/Indiana/Indianapolis": "America/Indiana/Indianapolis",
    "America/Caracas": "America/Caracas",
    "America/Asuncion": "America/Asuncion",
    "America/Halifax": "America/Halifax",
    "America/Cuiaba": "America/Cuiaba",
    "America/La_Paz": "America/La_Paz",
    "America/Santiago": "America/Santiago",
    "America/St_Johns": "America/St_Johns",
    "America/Sao_Paulo": "America/Sao_Paulo",
    "America/Argentina/Buenos_Aires": "America/Argentina/Buenos_Aires",
    "America/Cayenne": "America/Cayenne",
    "America/Godthab": "America/Godthab",
    "America/Montevideo": "America/Montevideo",
    "America/Bahia": "America/Bahia",
    "Etc/GMT+2": "Etc/GMT+2",
    "Atlantic/Azores": "Atlantic/Azores",
    "Atlantic/Cape_Verde": "Atlantic/Cape_Verde",
    "Africa/Casablanca": "Africa/Casablanca",
    "Etc/GMT": "Etc/GMT",
    "Europe/London": "Europe/London",
    "Atlantic/Reykjavik": "Atlantic/Reykjavik",
    "Europe/Berlin": "Europe/Berlin",
    "Europe/Budapest": "Europe/Budapest",
    "Europe/Paris": "Europe/Paris",
    "Europe/Warsaw": "Europe/Warsaw",
    "Africa/Lagos": "Africa/Lagos",
    "Africa/Windhoek": "Africa/Windhoek",
    "Europe/Bucharest": "Europe/Bucharest",
    "Asia/Beirut": "Asia/Beirut",
    "Africa/Cairo": "Africa/Cairo",
    "Asia/Damascus": "Asia/Damascus",
    "Africa/Johannesburg": "Africa/Johannesburg",
    "Europe/Kyiv": "Europe/Kyiv",
    "Europe/Kiev": "Europe/Kyiv",
    "Europe/Istanbul": "Europe/Istanbul",
    "Asia/Jerusalem": "Asia/Jerusalem",
    "Asia/Amman": "Asia/Amman",
    "Asia/Baghdad": "Asia/Baghdad",
    "Europe/Kaliningrad": "Europe/Kaliningrad",
    "Asia/Riyadh": "Asia/Riyadh",
    "Africa/Nairobi": "Africa/Nairobi",
    "Asia/Tehran": "Asia/Tehran",
    "Asia/Dubai": "Asia/Dubai",
    "Asia/Baku": "Asia/Baku",
    "Europe/Moscow": "Europe/Moscow",
    "Indian/Mauritius": "Indian/Mauritius",
    "Asia/Tbilisi": "Asia/Tbilisi",
    "Asia/Yerevan": "Asia/Yerevan",
    "Asia/Kabul": "Asia/Kabul",
    "Asia/Karachi": "Asia/Karachi",
    "Asia/Toshkent": "Asia/Tashkent",
    "Asia/Tashkent": "Asia/Tashkent",
    "Asia/Kolkata": "Asia/Kolkata",
    "Asia/Colombo": "Asia/Colombo",
    "Asia/Kathmandu": "Asia/Kathmandu",
    "Asia/Astana": "Asia/Almaty",
    "Asia/Almaty": "Asia/Almaty",
    "Asia/Dhaka": "Asia/Dhaka",
    "Asia/Yekaterinburg": "Asia/Yekaterinburg",
    "Asia/Yangon": "Asia/Yangon",
    "Asia/Rangoon": "Asia/Yangon",
    "Asia/Bangkok": "Asia/Bangkok",
    "Asia/Novosibirsk": "Asia/Novosibirsk",
    "Asia/Shanghai": "Asia/Shanghai",
    "Asia/Krasnoyarsk": "Asia/Krasnoyarsk",
    "Asia/Singapore": "Asia/Singapore",
    "Australia/Perth": "Australia/Perth",
    "Asia/Taipei": "Asia/Taipei",
    "Asia/Ulaanbaatar": "Asia/Ulaanbaatar",
    "Asia/Irkutsk": "Asia/Irkutsk",
    "Asia/Tokyo": "Asia/Tokyo",
    "Asia/Seoul": "Asia/Seoul",
    "Australia/Adelaide": "Australia/Adelaide",
    "Australia/Darwin": "Australia/Darwin",
    "Australia/Brisbane": "Australia/Brisbane",
    "Australia/Sydney": "Australia/Sydney",
    "Pacific/Port_Moresby": "Pacific/Port_Moresby",
    "Australia/Hobart": "Australia/Hobart",
    "Asia/Yakutsk": "Asia/Yakutsk",
    "Pacific/Guadalcanal": "Pacific/Guadalcanal",
    "Asia/Vladivostok": "Asia/Vladivostok",
    "Pacific/Auckland": "Pacific/Auckland",
    "Etc/GMT-12": "Etc/GMT-12",
    "Pacific/Fiji": "Pacific/Fiji",
    "Asia/Magadan": "Asia/Magadan",
    "Pacific/Tongatapu": "Pacific/Tongatapu",
    "Pacific/Apia": "Pacific/Apia",
    "Pacific/Kiritimati": "Pacific/Kiritimati",
}

#: Windows zone name (lower case) -> the tzdata key of its rules: CLDR's windowsZones
#: table, territory 001 (https://github.com/unicode-org/cldr, common/supplemental/
#: windowsZones.xml), as tzlocal ships it.
WINDOWS_TO_IANA: dict[str, str] = {
    name.lower(): iana for name, iana in win_tz.items() if name and iana
}

_ACCEPTED = {
    **WINDOWS_TO_IANA,
    **{name.lower(): key for name, key in DOCUMENTED_IANA.items()},
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
    """ZoneInfo for a name Graph accepts (Windows, or a documented IANA name); else Graph's 400."""
    key = _ACCEPTED.get(name.strip().lower())
    if key is None:
        raise unsupported_zone(name)
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
