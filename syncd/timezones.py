"""Time zone names: IANA <-> Windows through CLDR's windowsZones table (pure).

Graph's dateTimeTimeZone.timeZone and recurrenceRange.recurrenceTimeZone take the time
zones Windows supports plus a short list of IANA names
(https://learn.microsoft.com/en-us/graph/api/resources/datetimetimezone); an IANA name off
that list is refused with 400 TimeZoneNotSupportedException. Salesforce names zones by
IANA id (TimeZoneSidKey, RecurrenceTimeZoneSidKey, Recurrence2PatternTimeZone), a
mailbox's settings by Windows name
(https://learn.microsoft.com/en-us/graph/api/resources/mailboxsettings). So syncd sends
every zone under its Windows name and reads either.

The table is CLDR's windowsZones.xml
(https://github.com/unicode-org/cldr/blob/main/common/supplemental/windowsZones.xml) as
the tzlocal library ships it (`tzlocal.windows_tz`, regenerated from CLDR for each
release): `win_tz` maps each Windows zone to its territory-001 IANA zone, `tz_win` each
IANA zone (and tzdata's old names) to its Windows zone. The few IANA aliases tzlocal
leaves out (GMT, US/East-Indiana, EST5EDT, ...) are followed through tzdata's own Link
lines. No zone list is kept by hand here.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from importlib import resources
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from tzlocal.windows_tz import tz_win, win_tz

from syncd.domain import ErrorCode, SyncdError

#: How many Link hops are followed from an alias to a zone (tzdata links point at zones).
_MAX_LINK_HOPS = 3


@dataclass(frozen=True)
class Zone:
    """A time zone as syncd uses it: the Windows name it sends, the rules it computes with.

    `info` holds the rules of the Windows zone's territory-001 IANA zone, the zone CLDR
    says Windows' rules match, so syncd computes local dates as Outlook will.
    """

    windows: str
    iana: str
    info: ZoneInfo


class UnknownTimeZone(SyncdError):
    """A zone name neither Windows nor CLDR's IANA table knows: Outlook cannot be given it."""

    def __init__(self, name: str, *, source: str | None = None) -> None:
        where = f" ({source})" if source else ""
        super().__init__(
            ErrorCode.INVALID_REQUEST,
            f"the time zone {name!r}{where} is neither a Windows time zone nor an IANA zone "
            "CLDR's windowsZones table maps to one, so Outlook cannot be given it; "
            "set a standard time zone there",
        )
        self.name = name


# Windows zone names are matched without regard to case ("pacific standard time");
# tzlocal's tables carry an empty key from a stray space in the CLDR file: skipped.
_WINDOWS = {name.casefold(): (name, iana) for name, iana in win_tz.items() if name and iana}
_IANA = {name: windows for name, windows in tz_win.items() if name and windows}
_IANA_FOLDED = {name.casefold(): name for name in _IANA}


def windows_zones() -> dict[str, str]:
    """Every Windows zone name syncd knows -> its territory-001 IANA zone."""
    return {name: iana for name, iana in _WINDOWS.values()}


def iana_zones() -> dict[str, str]:
    """Every IANA zone name CLDR (with tzdata's old names) maps -> its Windows zone."""
    return dict(_IANA)


@functools.cache
def _tzdata_links() -> dict[str, str]:
    """tzdata's Link lines (alias -> target) from the tzdata package's tzdata.zi.

    https://data.iana.org/time-zones/tz-link.html; zic(8) describes the "L target alias"
    lines of the compact tzdata.zi form. Empty when the package or file is missing.
    """
    try:
        text = resources.files("tzdata.zoneinfo").joinpath("tzdata.zi").read_text("utf-8")
    except (ModuleNotFoundError, FileNotFoundError, OSError):
        return {}
    links: dict[str, str] = {}
    for line in text.splitlines():
        parts = line.split()
        if len(parts) == 3 and parts[0] == "L":
            links[parts[2]] = parts[1]
    return links


def _windows_of_iana(name: str) -> str | None:
    key = _IANA_FOLDED.get(name.casefold())
    if key is not None:
        return _IANA[key]
    links = _tzdata_links()
    for _ in range(_MAX_LINK_HOPS):
        target = links.get(name)
        if target is None:
            return None
        if target in _IANA:
            return _IANA[target]
        name = target
    return None


@functools.lru_cache(maxsize=1024)
def find(name: str) -> Zone | None:
    """The zone for a Windows or IANA name; None when neither table knows it."""
    text = name.strip() if isinstance(name, str) else ""
    if not text:
        return None
    known = _WINDOWS.get(text.casefold())
    if known is not None:
        windows = known[0]
    else:
        mapped = _windows_of_iana(text)
        if mapped is None:
            return None
        windows = mapped
    iana = _WINDOWS[windows.casefold()][1]
    try:
        info = ZoneInfo(iana)
    except (ZoneInfoNotFoundError, ValueError):
        return None  # a CLDR zone this machine's tzdata lacks: syncd cannot compute in it
    return Zone(windows=windows, iana=iana, info=info)


def lookup(name: str, *, source: str | None = None) -> Zone:
    """The zone for a Windows or IANA name; UnknownTimeZone names it (and `source`) if not."""
    found = find(name)
    if found is None:
        raise UnknownTimeZone(str(name), source=source)
    return found


def windows_name(name: str, *, source: str | None = None) -> str:
    """The Windows name Graph is given for a Windows or IANA zone name."""
    return lookup(name, source=source).windows


def same_zone(first: str, second: str) -> bool:
    """Whether two names denote one Windows zone ("Europe/Berlin", "W. Europe Standard Time")."""
    if first == second:
        return True
    a, b = find(first), find(second)
    return a is not None and b is not None and a.windows == b.windows
