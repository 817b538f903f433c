"""Recurring events in the sandbox org, made the way Salesforce stores them.

Classic series (Event reference,
https://developer.salesforce.com/docs/atlas.en-us.object_reference.meta/object_reference/sforce_api_objects_event.htm):
a main record with IsRecurrence = true and the Recurrence* fields, plus one Event per
occurrence whose RecurrenceActivityId is the main record's id. Occurrences are expanded
here from the classic fields in RecurrenceTimeZoneSidKey (wall-clock time kept across
daylight saving), independently of syncd's mapping to Graph.

Lightning series (Change Data Capture guide, Recurring Activities,
https://developer.salesforce.com/docs/platform/change-data-capture/guide/cdc-standard-objects-task-event-recurring.html):
a series record "which represents the recurrence pattern, with GroupEventType set to 3"
plus one Event per occurrence. All of them carry Recurrence2PatternText (an RRULE) and
the same ActivityRecurrence2Id; RecurrenceActivityId stays empty and IsRecurrence false.
IsRecurrence2, Recurrence2PatternStartDate and Recurrence2PatternTimeZone are set on
every record too (assumed: the change events do not show them). A changed occurrence
has IsRecurrence2Exception = true, one taken out of the series IsRecurrence2Exclusion =
true. A critical change -- the pattern or the series' start -- deletes the series and
makes it again with new ids ("Updating Recurring Calendar Events", same guide):
`critical_change`.

People edit series through the helpers here: `edit_series` (the whole series),
`edit_occurrence` (one occurrence), `delete_occurrence` / `exclude_occurrence`,
`cut_off` ("from this event onwards": the series ends before that occurrence) and
`critical_change`.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from syncd.sandbox.microsoft.recurrence import Rule, local_starts
from syncd.sandbox.salesforce.org import SalesforceOrg
from syncd.sandbox.salesforce.rfc5545 import rrule_starts
from syncd.sandbox.salesforce.values import midnight

# Bits of RecurrenceDayOfWeekMask in Python's weekday numbering (Monday = 0).
_MASK = {1: 6, 2: 0, 4: 1, 8: 2, 16: 3, 32: 4, 64: 5}
_INSTANCE = {"First": 1, "Second": 2, "Third": 3, "Fourth": 4, "Last": -1}
_MONTHS = (
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
)


@dataclass(frozen=True)
class SeriesIds:
    """The ids of a series: its main record and its occurrences, in date order."""

    master: str
    occurrences: tuple[str, ...]


def _weekdays(mask: int) -> frozenset[int]:
    return frozenset(day for bit, day in _MASK.items() if mask & bit)


def classic_rule(fields: dict[str, Any], first: date) -> Rule:
    """The classic Recurrence* fields as an expansion rule (Salesforce's own reading)."""
    kind = fields["RecurrenceType"]
    interval = int(fields.get("RecurrenceInterval") or 1)
    mask = int(fields.get("RecurrenceDayOfWeekMask") or 0)
    until = fields.get("RecurrenceEndDateOnly")
    month = fields.get("RecurrenceMonthOfYear")
    base: dict[str, Any] = {"start": first, "until": until, "interval": interval}
    if kind == "RecursDaily":
        return Rule("daily", **base)
    if kind == "RecursEveryWeekday":
        return Rule("daily", weekdays=frozenset(range(5)), **{**base, "interval": 1})
    if kind == "RecursWeekly":
        return Rule("weekly", weekdays=_weekdays(mask), **base)
    if kind == "RecursMonthly":
        return Rule("monthly", month_day=int(fields["RecurrenceDayOfMonth"]), **base)
    if kind == "RecursMonthlyNth":
        index = _INSTANCE[fields["RecurrenceInstance"]]
        return Rule("monthly", weekdays=_weekdays(mask), week_index=index, **base)
    if kind == "RecursYearly":
        day = int(fields["RecurrenceDayOfMonth"])
        return Rule("yearly", month_day=day, month=_MONTHS.index(month) + 1, **base)
    if kind == "RecursYearlyNth":
        index = _INSTANCE[fields["RecurrenceInstance"]]
        return Rule(
            "yearly",
            weekdays=_weekdays(mask),
            week_index=index,
            month=_MONTHS.index(month) + 1,
            **base,
        )
    raise ValueError(f"the sandbox cannot expand RecurrenceType {kind!r}")


def _set(org: SalesforceOrg, record_id: str, values: dict[str, Any], *, by: str | None) -> None:
    """Write fields the API keeps read-only (as Salesforce itself does for series)."""
    with org.lock:
        record = org._record("Event", record_id)
        org.writer._apply(record, values, by=by, user_write=True)


def _create_series(
    org: SalesforceOrg,
    owner: str,
    starts: Sequence[datetime],
    duration: timedelta,
    series_fields: dict[str, Any],
    readonly: dict[str, Any],
    *,
    all_day: bool,
    invitees: Iterable[str],
    **fields: Any,
) -> SeriesIds:
    invitees = list(invitees)
    days = max(1, round(duration / timedelta(days=1))) if all_day else 0

    def times(start: datetime) -> dict[str, Any]:
        if all_day:
            return {"all_day": True, "activity_date": start.date(), "duration_minutes": days * 1440}
        return {"start": start, "end": start + duration}

    master = org.create_event(
        owner, invitees=invitees, **times(starts[0]), **series_fields, **fields
    )
    owner_id = org.find_user(owner)
    lightning = bool(readonly.get("IsRecurrence2"))
    link = _series_link(org, master, lightning=lightning)
    _set(org, master, {**readonly, **link}, by=owner_id)
    if lightning:
        with org.lock:
            org.data.series_records.add(master)
    shared = {k: v for k, v in series_fields.items() if k.startswith("Recurrence2")}
    ids = []
    for start in starts:
        occurrence = org.create_event(owner, invitees=invitees, **times(start), **shared, **fields)
        _set(
            org,
            occurrence,
            {**{k: v for k, v in readonly.items() if k == "IsRecurrence2"}, **link},
            by=owner_id,
        )
        ids.append(occurrence)
    return SeriesIds(master, tuple(ids))


def _series_link(org: SalesforceOrg, master: str, *, lightning: bool) -> dict[str, Any]:
    """The field that ties a series' records together, as Salesforce sets it.

    Classic: RecurrenceActivityId is the main record's id, on the main record too (its
    change event in the CDC guide, Recurring Activities, carries its own id there:
    https://developer.salesforce.com/docs/atlas.en-us.216.0.change_data_capture.meta/change_data_capture/cdc_standard_objects_task_event_recurring.htm).
    Lightning: the series record (GroupEventType 3) and every occurrence share one
    ActivityRecurrence2Id (prefix 828) and leave RecurrenceActivityId empty
    (https://developer.salesforce.com/docs/platform/change-data-capture/guide/cdc-standard-objects-task-event-recurring.html).
    """
    if lightning:
        return {"ActivityRecurrence2Id": org.ids.new("828")}
    return {"RecurrenceActivityId": master}


def create_classic_series(
    org: SalesforceOrg,
    owner: str,
    first_start: datetime,
    duration: timedelta,
    *,
    recurrence_type: str,
    end_date: date,
    time_zone: str,
    interval: int | None = None,
    day_of_week_mask: int | None = None,
    day_of_month: int | None = None,
    instance: str | None = None,
    month_of_year: str | None = None,
    all_day: bool = False,
    invitees: Iterable[str] = (),
    **fields: Any,
) -> SeriesIds:
    """A classic series as Salesforce stores it: main record + one Event per occurrence.

    `first_start` is the first occurrence (aware); for an all-day series its date counts.
    """
    zone = ZoneInfo(time_zone)
    recurrence = {
        "IsRecurrence": True,
        "RecurrenceType": recurrence_type,
        "RecurrenceInterval": interval,
        "RecurrenceDayOfWeekMask": day_of_week_mask,
        "RecurrenceDayOfMonth": day_of_month,
        "RecurrenceInstance": instance,
        "RecurrenceMonthOfYear": month_of_year,
        "RecurrenceStartDateTime": midnight(first_start.date()) if all_day else first_start,
        "RecurrenceEndDateOnly": end_date,
        "RecurrenceTimeZoneSidKey": time_zone,
    }
    recurrence = {k: v for k, v in recurrence.items() if v is not None}
    local_first = (
        datetime.combine(first_start.date(), datetime.min.time(), tzinfo=UTC)
        if all_day
        else first_start.astimezone(zone)
    )
    rule = classic_rule(recurrence, local_first.date())
    starts = [s.astimezone(UTC) for s in local_starts(local_first, rule, horizon=end_date)]
    return _create_series(
        org, owner, starts, duration, recurrence, {}, all_day=all_day, invitees=invitees, **fields
    )


def create_lightning_series(
    org: SalesforceOrg,
    owner: str,
    first_start: datetime,
    duration: timedelta,
    *,
    rrule: str,
    time_zone: str,
    starts: Sequence[datetime] | None = None,
    invitees: Iterable[str] = (),
    horizon: date | None = None,
    **fields: Any,
) -> SeriesIds:
    """A Lightning series: the RRULE on every record, occurrences tied to the first.

    `starts` gives the occurrences outright (for patterns the sandbox cannot expand).
    """
    zone = ZoneInfo(time_zone)
    if starts is None:
        # RFC 5545's occurrences (python-dateutil, see rfc5545); a `first_start` given in
        # `time_zone` keeps its wall-clock time, even one the clock skips.
        limit = horizon or first_start.astimezone(zone).date() + timedelta(days=800)
        starts = rrule_starts(rrule, first_start, zone, horizon=limit)
    recurrence = {
        "Recurrence2PatternText": rrule,
        "Recurrence2PatternStartDate": first_start,
        "Recurrence2PatternTimeZone": time_zone,
        "Recurrence2PatternVersion": "1",
    }
    return _create_series(
        org,
        owner,
        list(starts),
        duration,
        recurrence,
        {"IsRecurrence2": True},
        all_day=False,
        invitees=invitees,
        **fields,
    )


def _occurrences(org: SalesforceOrg, master: str) -> list[dict[str, Any]]:
    """The occurrences of the series whose main (classic) or series (Lightning) record
    is `master`, by start (see `_series_link`)."""
    main = org.record(master)
    series = main.get("ActivityRecurrence2Id")
    with org.lock:
        rows = [org.get(i, include_deleted=False) for i in org.ids_of("Event")]
    found = [
        r
        for r in rows
        if r
        and r["Id"] != main["Id"]
        and not r.get("IsChild")
        and (
            r.get("ActivityRecurrence2Id") == series
            if series
            else r.get("RecurrenceActivityId") == main["Id"]
        )
    ]
    return sorted(found, key=lambda r: r["StartDateTime"])


def edit_series(
    org: SalesforceOrg, master: str, *, shift: timedelta | None = None, **fields: Any
) -> None:
    """Edit the whole series: the main record and every occurrence get the same change."""
    for record in [org.record(master), *_occurrences(org, master)]:
        values = dict(fields)
        if shift is not None:
            values["StartDateTime"] = record["StartDateTime"] + shift
            values["EndDateTime"] = record["EndDateTime"] + shift
        if values:
            org.update_event(record["Id"], **values)


def edit_occurrence(org: SalesforceOrg, occurrence: str, **fields: Any) -> None:
    """Change one occurrence (Lightning marks it IsRecurrence2Exception)."""
    org.update_event(occurrence, **fields)
    if org.record(occurrence).get("IsRecurrence2"):
        _set(org, occurrence, {"IsRecurrence2Exception": True}, by=None)


def delete_occurrence(org: SalesforceOrg, occurrence: str) -> None:
    org.delete_event(occurrence)


def exclude_occurrence(org: SalesforceOrg, occurrence: str) -> None:
    """Take one occurrence out of a Lightning series (IsRecurrence2Exclusion)."""
    _set(org, occurrence, {"IsRecurrence2Exclusion": True}, by=None)


def cut_off(org: SalesforceOrg, master: str, from_occurrence: str) -> None:
    """End the series before `from_occurrence` ("delete this and following events")."""
    occurrences = _occurrences(org, master)
    start = org.record(from_occurrence)["StartDateTime"]
    later = [r for r in occurrences if r["StartDateTime"] >= start]
    kept = [r for r in occurrences if r["StartDateTime"] < start]
    main = org.record(master)
    if main.get("IsRecurrence"):
        zone = ZoneInfo(main["RecurrenceTimeZoneSidKey"])
        last = start.astimezone(zone).date() - timedelta(days=1)
        org.update_event(master, RecurrenceEndDateOnly=last)
    else:
        zone = ZoneInfo(main["Recurrence2PatternTimeZone"])
        until = (start - timedelta(seconds=1)).astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")
        body = main["Recurrence2PatternText"].split(":", 1)[-1]
        parts = [p for p in body.split(";") if p and not p.startswith(("COUNT=", "UNTIL="))]
        text = "RRULE:" + ";".join([*parts, f"UNTIL={until}"])
        for record in [main, *kept]:
            org.update_event(record["Id"], Recurrence2PatternText=text)
    for record in later:
        org.delete_event(record["Id"])


def critical_change(
    org: SalesforceOrg,
    master: str,
    *,
    rrule: str | None = None,
    first_start: datetime | None = None,
    time_zone: str | None = None,
    **fields: Any,
) -> SeriesIds:
    """Change a Lightning series' pattern or start as Salesforce does it: "the series is
    deleted and recreated" (CDC guide, Change Events for Tasks and Events, "Updating
    Recurring Calendar Events",
    https://developer.salesforce.com/docs/atlas.en-us.change_data_capture.meta/change_data_capture/cdc_standard_objects_task_event.htm):
    every record of the old series goes to the recycle bin (getDeleted lists them) and a
    new series with new ids, the same owner, texts and invitees takes its place.
    `fields` (create_event names: subject=..., location=...) change the new series too.
    """
    main = org.record(master)
    if not main.get("ActivityRecurrence2Id"):
        raise ValueError(f"{master} is not the record of a Lightning series")
    zone = time_zone or str(main["Recurrence2PatternTimeZone"])
    start = first_start or main["StartDateTime"]
    invitees = [r["RelationId"] for r in org.invitees(master) if r.get("IsInvitee")]
    kept = {
        "subject": main.get("Subject"),
        "description": main.get("Description"),
        "location": main.get("Location"),
        "show_as": main.get("ShowAs") or "Busy",
        "private": bool(main.get("IsPrivate")),
    }
    for record in [main, *_occurrences(org, master)]:
        org.delete_event(record["Id"])
    return create_lightning_series(
        org,
        str(main["OwnerId"]),
        start,
        main["EndDateTime"] - main["StartDateTime"],
        rrule=rrule or str(main["Recurrence2PatternText"]),
        time_zone=zone,
        invitees=invitees,
        **{**kept, **fields},
    )
