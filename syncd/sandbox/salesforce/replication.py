"""getUpdated and getDeleted: which records changed or went away in a time window.

sObject Get Updated (https://developer.salesforce.com/docs/atlas.en-us.api_rest.meta/api_rest/resources_getupdated.htm):
by SystemModstamp, no more than 30 days back, seconds ignored.
sObject Get Deleted (https://developer.salesforce.com/docs/atlas.en-us.api_rest.meta/api_rest/resources_getdeleted.htm):
records still in the recycle bin (15 days by default, `OrgSettings.recycle_bin_days`).
latestDateCovered is at most the end and never later than the current minute, so
a client that starts its next window there misses nothing; earliestDateAvailable
is when the last purged record had been deleted
(https://developer.salesforce.com/docs/atlas.en-us.api.meta/api/sforce_api_calls_getdeleted_getdeletedresult.htm)
(rounded up to the minute, so a minute-aligned watermark before a purged deletion
always sees the signal) or, when nothing was purged yet, the org's creation date.
The error codes for bad windows are not documented for REST; the sandbox uses
INVALID_REPLICATION_DATE (a SOAP StatusCode) and INVALID_PARAMETER_VALUE.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

from syncd.sandbox.salesforce.errors import SalesforceError
from syncd.sandbox.salesforce.org import SalesforceOrg
from syncd.sandbox.salesforce.values import format_datetime, parse_datetime, truncate_to_minute

UPDATED_MAX_AGE = timedelta(days=30)


def window(params: Mapping[str, str]) -> tuple[datetime, datetime]:
    """start and end from the query string, seconds dropped."""
    bounds = []
    for name in ("start", "end"):
        raw = params.get(name)
        if not raw:
            raise SalesforceError(400, "MISSING_ARGUMENT", f"{name} was not specified")
        try:
            # An unescaped '+' in a query string arrives as a space.
            bounds.append(truncate_to_minute(parse_datetime(raw.replace(" ", "+"))))
        except ValueError as error:
            raise SalesforceError(
                400, "INVALID_PARAMETER_VALUE", f"Invalid {name} date: {raw}"
            ) from error
    start, end = bounds
    if end < start:
        raise SalesforceError(
            400, "INVALID_REPLICATION_DATE", "EndDate must chronologically follow the StartDate"
        )
    return start, end


def updated(org: SalesforceOrg, sobject: str, params: Mapping[str, str]) -> dict[str, Any]:
    start, end = window(params)
    now = org.now()
    if start < truncate_to_minute(now - UPDATED_MAX_AGE):
        raise SalesforceError(
            400, "INVALID_REPLICATION_DATE", "startDate cannot be more than 30 days ago"
        )
    latest = min(end, truncate_to_minute(now))
    with org.lock:
        ids = [
            record.id
            for record in org.data.rows(sobject)
            if start <= record.SystemModstamp < latest
        ]
    return {"ids": ids, "latestDateCovered": format_datetime(latest)}


def deleted(org: SalesforceOrg, sobject: str, params: Mapping[str, str]) -> dict[str, Any]:
    start, end = window(params)
    now = org.now()
    latest = min(end, truncate_to_minute(now))
    with org.lock:
        org.purge_expired()
        store = org.data.store(sobject)
        rows = [
            {"id": record.id, "deletedDate": format_datetime(record._deleted_at)}
            for record in store.recycle_bin.values()
            if record._deleted_at is not None and start <= record._deleted_at < latest
        ]
        earliest = _ceil_minute(store.last_purged) if store.last_purged else org.created_at
    return {
        "deletedRecords": rows,
        "earliestDateAvailable": format_datetime(earliest),
        "latestDateCovered": format_datetime(latest),
    }


def _ceil_minute(value: datetime) -> datetime:
    floor = truncate_to_minute(value)
    return floor if floor == value else floor + timedelta(minutes=1)
