"""Time zone names: CLDR's windowsZones table as the referee for syncd's mapping.

tests/data/cldr-windowsZones.xml is CLDR's own file (source and commit in
tests/data/cldr-windowsZones.README.md); syncd maps with the copy the tzlocal library
ships. Every Windows zone of the file must resolve and round-trip, every IANA zone of
it must go out under a Windows name, and the Graph sandbox must accept what syncd sends.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections import defaultdict
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from syncd import timezones
from syncd.core import event_mapping as em
from syncd.core.recurrence_mapping import graph_time, zone_info
from syncd.domain import ErrorCode, Meeting
from syncd.sandbox.microsoft.errors import GraphError
from syncd.sandbox.microsoft.timezones import DOCUMENTED_IANA, resolve_zone
from syncd.sync.recurrence import slot_meeting

CLDR_FILE = Path(__file__).parent.parent / "data" / "cldr-windowsZones.xml"


def _rows() -> list[tuple[str, str, list[str]]]:
    """(Windows name, territory, IANA zones) per mapZone row of CLDR's file."""
    # The checked-in copy of CLDR's file, not input from outside.
    root = ET.parse(CLDR_FILE).getroot()  # noqa: S314
    return [
        (row.attrib["other"], row.attrib["territory"], row.attrib["type"].split())
        for row in root.iter("mapZone")
    ]


ROWS = _rows()
#: Windows name -> its territory-001 IANA zone, as CLDR's file has it.
CLDR_WINDOWS = {other: zones[0] for other, territory, zones in ROWS if territory == "001"}


def test_the_referee_file_is_the_whole_table() -> None:
    assert len(CLDR_WINDOWS) == 139
    assert len(ROWS) == 500


@pytest.mark.parametrize("name", sorted(CLDR_WINDOWS))
def test_every_cldr_windows_zone_resolves_and_round_trips(name: str) -> None:
    zone = timezones.lookup(name)
    assert zone.windows == name
    # Graph is given the name unchanged, however its case came in.
    assert timezones.windows_name(name.upper()) == name
    # Windows -> IANA (territory 001) -> Windows.
    assert zone.iana == CLDR_WINDOWS[name]
    assert timezones.windows_name(zone.iana) == name
    # The rules syncd computes with are the 001 zone's.
    instant = datetime(2027, 1, 15, 12, tzinfo=UTC)
    assert (
        instant.astimezone(zone.info).utcoffset()
        == instant.astimezone(zone_info(CLDR_WINDOWS[name])).utcoffset()
    )


def _offsets(zone: ZoneInfo) -> list[timedelta | None]:
    """The zone's UTC offsets through 2027 (the 1st and 15th of each month, noon UTC)."""
    days = [datetime(2027, month, day, 12, tzinfo=UTC) for month in range(1, 13) for day in (1, 15)]
    return [day.astimezone(zone).utcoffset() for day in days]


def test_every_iana_zone_of_the_table_goes_out_under_a_windows_zone_with_its_clock() -> None:
    listed: dict[str, set[str]] = defaultdict(set)
    for other, _, zones in ROWS:
        for iana in zones:
            listed[iana].add(other)
    assert len(listed) == 445
    unknown = sorted(iana for iana in listed if timezones.find(iana) is None)
    assert unknown == []
    # The Windows zone CLDR lists it under, or a newer one tzlocal knows (Microsoft's
    # Alberta / British Columbia / Manitoba zones, added after this copy of the file)
    # whose clock is the zone's own.
    elsewhere = {
        iana: timezones.windows_name(iana)
        for iana, windows in listed.items()
        if timezones.windows_name(iana) not in windows
    }
    assert set(elsewhere.values()) <= set(timezones.windows_zones()) - set(CLDR_WINDOWS)
    for iana, windows in elsewhere.items():
        assert _offsets(timezones.lookup(windows).info) == _offsets(ZoneInfo(iana)), iana


def test_every_name_syncd_sends_is_one_graph_takes() -> None:
    # The sandbox takes exactly Graph's documented names (Windows + the listed IANA ones).
    sent = {timezones.windows_name(iana) for _, _, zones in ROWS for iana in zones}
    for name in sent | set(CLDR_WINDOWS):
        resolve_zone(name)


@pytest.mark.parametrize(
    ("salesforce", "windows"),
    [
        ("Europe/Amsterdam", "W. Europe Standard Time"),
        ("Europe/Rome", "W. Europe Standard Time"),
        ("Europe/Madrid", "Romance Standard Time"),
        ("America/Toronto", "Eastern Standard Time"),
        ("Australia/Melbourne", "AUS Eastern Standard Time"),
        ("Europe/Kyiv", "FLE Standard Time"),
        ("Asia/Kolkata", "India Standard Time"),
        ("America/Indiana/Indianapolis", "US Eastern Standard Time"),
        # Salesforce's TimeZoneSidKey for GMT; tzlocal leaves this alias out, tzdata links it.
        ("GMT", "UTC"),
        ("US/East-Indiana", "US Eastern Standard Time"),
        ("UTC", "UTC"),
    ],
)
def test_salesforce_zone_names_map_to_windows(salesforce: str, windows: str) -> None:
    assert timezones.windows_name(salesforce) == windows


def test_an_unknown_zone_fails_with_its_name_not_an_assertion() -> None:
    assert timezones.find("Mars/Olympus_Mons") is None
    assert timezones.find("") is None
    assert zone_info("Customized Time Zone") is None
    with pytest.raises(timezones.UnknownTimeZone) as raised:
        timezones.lookup("Customized Time Zone", source="the mailbox time zone of a@b.example")
    assert raised.value.code == ErrorCode.INVALID_REQUEST
    assert "'Customized Time Zone'" in raised.value.message
    assert "the mailbox time zone of a@b.example" in raised.value.message
    with pytest.raises(timezones.UnknownTimeZone):
        graph_time(datetime(2027, 3, 1, tzinfo=UTC), "Customized Time Zone", all_day=True)


def _series(zone: str, *, all_day: bool) -> Meeting:
    start = datetime(2027, 3, 1, 0 if all_day else 9, tzinfo=UTC)
    return Meeting(
        external_id="m1",
        organizer_email="org@contoso.example",
        subject="Daily",
        body="",
        location="",
        start=start,
        end=start + (timedelta(days=1) if all_day else timedelta(hours=1)),
        is_all_day=all_day,
        time_zone=zone,
        recurrence={
            "pattern": {"type": "daily", "interval": 1},
            "range": {"type": "noEnd", "startDate": "2027-03-01", "recurrenceTimeZone": zone},
        },
    )


@pytest.mark.parametrize("name", sorted(CLDR_WINDOWS))
def test_an_all_day_series_in_any_mailbox_zone_maps_each_occurrence(name: str) -> None:
    # These zones are what mailboxSettings/timeZone reports; an all-day series takes the
    # organizer's. Before the CLDR table, all but two dozen of them stopped the poll here.
    master = _series(name, all_day=True)
    slot = slot_meeting(master, date(2027, 3, 4))
    assert slot.start == datetime(2027, 3, 4, tzinfo=UTC)
    content = em.event_content(slot, teams_keyword="MS Teams")
    assert content["start"] == {"dateTime": "2027-03-04T00:00:00", "timeZone": name}
    series = em.event_content(master, teams_keyword="MS Teams")
    assert series["recurrence"]["range"]["recurrenceTimeZone"] == name


def test_a_timed_series_keeps_its_wall_clock_time_under_the_windows_name() -> None:
    master = _series("Europe/Amsterdam", all_day=False)  # 10:00 in Amsterdam (winter)
    content = em.event_content(master, teams_keyword="MS Teams")
    assert content["start"] == {
        "dateTime": "2027-03-01T10:00:00",
        "timeZone": "W. Europe Standard Time",
    }
    assert content["recurrence"]["range"]["recurrenceTimeZone"] == "W. Europe Standard Time"
    # After the clocks go forward the occurrence is still at 10:00 local, 08:00 UTC.
    assert slot_meeting(master, date(2027, 4, 5)).start == datetime(2027, 4, 5, 8, tzinfo=UTC)


def test_the_same_zone_under_its_iana_and_windows_names_is_no_change() -> None:
    # A series synced before syncd sent Windows names: its ledger holds the IANA ones.
    before = em.event_content(_series("Europe/Berlin", all_day=False), teams_keyword="T")
    before["start"]["timeZone"] = before["end"]["timeZone"] = "Europe/Berlin"
    before["recurrence"]["range"]["recurrenceTimeZone"] = "Europe/Berlin"
    after = em.event_content(_series("Europe/Berlin", all_day=False), teams_keyword="T")
    assert after["start"]["timeZone"] == "W. Europe Standard Time"
    assert em.content_changes(before, after) == {}
    # Another zone, or another date, is a change.
    moved = em.event_content(_series("Europe/London", all_day=False), teams_keyword="T")
    assert set(em.content_changes(before, moved)) == {"start", "end", "recurrence"}
    later = em.event_content(_series("Europe/Berlin", all_day=False), teams_keyword="T")
    later["recurrence"]["range"]["startDate"] = "2027-03-02"
    assert set(em.content_changes(before, later)) == {"recurrence"}


@pytest.mark.parametrize("name", ["Europe/Amsterdam", "Europe/Rome", "America/Toronto", "Mars/X"])
def test_the_sandbox_refuses_iana_names_graph_does_not_list(name: str) -> None:
    with pytest.raises(GraphError) as raised:
        resolve_zone(name)
    assert raised.value.status == 400
    assert raised.value.code == "TimeZoneNotSupportedException"


def test_the_sandbox_takes_the_documented_iana_names() -> None:
    for name in DOCUMENTED_IANA:
        resolve_zone(name)
    assert "Europe/Berlin" in DOCUMENTED_IANA and "Europe/Amsterdam" not in DOCUMENTED_IANA
