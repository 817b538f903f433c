"""getSchedule in pieces Graph accepts, and the pieces put back together (no I/O here).

One call takes at most 20 addresses and a period under 62 days:
https://learn.microsoft.com/graph/outlook-get-free-busy-schedule
https://learn.microsoft.com/graph/api/calendar-getschedule
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

from syncd.domain import utc

MAX_SCHEDULES_PER_CALL = 20
#: responseCode of the error item made up for an address Graph sent nothing for.
NO_ANSWER = "NoAnswer"
#: The period must be *under* 62 days.
MAX_PERIOD_MINUTES = 62 * 24 * 60 - 1

Period = tuple[datetime, datetime]


def unique_addresses(addresses: Sequence[str]) -> list[str]:
    """Addresses without case-insensitive repeats, first spelling kept, order kept."""
    seen: dict[str, str] = {}
    for address in addresses:
        seen.setdefault(address.lower(), address)
    return list(seen.values())


def address_chunks(addresses: Sequence[str]) -> list[list[str]]:
    unique = unique_addresses(addresses)
    step = MAX_SCHEDULES_PER_CALL
    return [unique[i : i + step] for i in range(0, len(unique), step)]


def split_period(start: datetime, end: datetime, interval_minutes: int) -> list[Period]:
    """[start, end) cut into periods under 62 days, each a whole number of intervals long
    (except the last), so the availabilityView strings can be joined end to end."""
    start, end = utc(start), utc(end)
    step = timedelta(minutes=(MAX_PERIOD_MINUTES // interval_minutes) * interval_minutes)
    periods: list[Period] = []
    cursor = start
    while cursor < end:
        periods.append((cursor, min(cursor + step, end)))
        cursor += step
    return periods


def requests_per_group(start: datetime, end: datetime, interval_minutes: int) -> int:
    """getSchedule requests that read [start, end) for one group of <= 20 addresses."""
    return len(split_period(start, end, interval_minutes))


def graph_time(value: datetime) -> dict[str, str]:
    """A dateTimeTimeZone in UTC."""
    return {"dateTime": utc(value).strftime("%Y-%m-%dT%H:%M:%S"), "timeZone": "UTC"}


def request_body(addresses: Sequence[str], period: Period, interval_minutes: int) -> dict[str, Any]:
    return {
        "schedules": list(addresses),
        "startTime": graph_time(period[0]),
        "endTime": graph_time(period[1]),
        "availabilityViewInterval": interval_minutes,
    }


def match_answers(addresses: Sequence[str], values: Sequence[Any]) -> dict[str, dict[str, Any]]:
    """Pair each requested address (lower-cased) with its scheduleInformation item:
    by `scheduleId` where Graph echoes it, else by position (one item per address, in order)."""
    by_id = {
        str(item.get("scheduleId", "")).lower(): item for item in values if isinstance(item, dict)
    }
    matched: dict[str, dict[str, Any]] = {}
    for position, address in enumerate(addresses):
        item = by_id.get(address.lower())
        if item is None and len(values) == len(addresses) and isinstance(values[position], dict):
            item = values[position]
        matched[address.lower()] = item if item is not None else _no_answer(address)
    return matched


def merge_periods(address: str, parts: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """One scheduleInformation for `address` from its per-period items, in period order.

    An event that straddles a period boundary shows up in both periods: kept once.
    """
    merged: dict[str, Any] = {"scheduleId": address, "availabilityView": "", "scheduleItems": []}
    seen: set[str] = set()
    for part in parts:
        merged["availabilityView"] += str(part.get("availabilityView") or "")
        for item in part.get("scheduleItems") or []:
            key = json.dumps(item, sort_keys=True, default=str)
            if key not in seen:
                seen.add(key)
                merged["scheduleItems"].append(item)
        if "workingHours" in part and "workingHours" not in merged:
            merged["workingHours"] = part["workingHours"]
        if part.get("error") and "error" not in merged:
            merged["error"] = part["error"]
    merged["scheduleItems"].sort(key=_item_order)
    return merged


def assemble(
    requested: Sequence[str], parts: Mapping[str, Sequence[Mapping[str, Any]]]
) -> list[dict[str, Any]]:
    """One merged scheduleInformation per requested address, in request order.

    `parts` holds, per lower-cased address, its items in period order; an address
    asked twice (in any case) gets the same answer twice, under its own spelling.
    """
    merged = {
        key: merge_periods(str(items[0].get("scheduleId") or key), items)
        for key, items in parts.items()
        if items
    }
    return [
        {**merged.get(address.lower(), _no_answer(address)), "scheduleId": address}
        for address in requested
    ]


def _item_order(item: Any) -> tuple[str, str]:
    if not isinstance(item, dict):
        return ("", "")
    # With Prefer: outlook.timezone="UTC" every dateTime is UTC in one fixed format,
    # so comparing the strings compares the instants.
    return (
        str((item.get("start") or {}).get("dateTime", "")),
        str((item.get("end") or {}).get("dateTime", "")),
    )


def _no_answer(address: str) -> dict[str, Any]:
    return {
        "scheduleId": address,
        "availabilityView": "",
        "scheduleItems": [],
        "error": {"message": f"Graph sent no schedule for {address}", "responseCode": NO_ANSWER},
    }
