"""getUpdated / getDeleted: their windows and their answers (pure).

- https://developer.salesforce.com/docs/atlas.en-us.api_rest.meta/api_rest/resources_getupdated.htm
  "Results are returned for no more than 30 days previous to the day the call is executed."
- https://developer.salesforce.com/docs/atlas.en-us.api_rest.meta/api_rest/resources_getdeleted.htm
  "... no more than 15 days previous ... (or earlier if an administrator has purged the
  Recycle Bin)" - hence `earliestDateAvailable`.
- Both: start must precede end, and seconds are ignored (INVALID_REPLICATION_DATE otherwise):
  https://developer.salesforce.com/docs/atlas.en-us.api.meta/api/sforce_api_calls_getdeleted.htm
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, NamedTuple

from syncd.domain import ErrorCode
from syncd.salesforce.errors import SalesforceError, WindowMissed

UPDATED_WINDOW = timedelta(days=30)
DELETED_WINDOW = timedelta(days=15)


class DeletedRecord(NamedTuple):
    id: str
    deleted_date: datetime


@dataclass(frozen=True)
class DeletedResult:
    """getDeleted's answer. If `earliest_date_available` is later than the start of the
    window the caller needs, deletions may have been purged unseen: do a full resync."""

    records: list[DeletedRecord]
    earliest_date_available: datetime | None
    latest_date_covered: datetime | None

    def missed(self, since: datetime) -> bool:
        """Whether deletions after `since` may be missing from this answer."""
        earliest = self.earliest_date_available
        return earliest is not None and earliest > since


def parse_datetime(value: Any) -> datetime | None:
    """A Salesforce dateTime (`2013-05-07T22:07:19.000+0000`) as aware UTC; None if absent."""
    if not isinstance(value, str) or not value:
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed.astimezone(UTC) if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def check_window(
    resource: str, sobject: str, start: datetime, end: datetime, now: datetime
) -> tuple[datetime, datetime]:
    """(start, end) in UTC, after refusing what Salesforce would refuse or cannot answer."""
    for name, value in (("start", start), ("end", end)):
        if value.tzinfo is None or value.utcoffset() is None:
            raise ValueError(f"{resource}: {name} must be timezone-aware, got {value.isoformat()}")
    start, end = start.astimezone(UTC), end.astimezone(UTC)
    if end <= start:
        raise SalesforceError(
            ErrorCode.INVALID_REQUEST,
            f"{resource} for {sobject}: the window ends ({end.isoformat()}) before it starts "
            f"({start.isoformat()}).",
        )
    window = UPDATED_WINDOW if resource == "updated" else DELETED_WINDOW
    oldest = now.astimezone(UTC) - window
    if start < oldest:
        raise WindowMissed(
            f"{resource} for {sobject}: start {start.isoformat()} is older than the "
            f"{window.days} days Salesforce keeps (oldest possible start {oldest.isoformat()}); "
            "changes before that cannot be listed: do a full resync.",
            resource=resource,
            oldest_start=oldest,
        )
    return start, end


def updated_result(body: Any, *, sobject: str, instance: str) -> tuple[list[str], datetime]:
    latest = parse_datetime(body.get("latestDateCovered")) if isinstance(body, dict) else None
    if latest is None:
        raise SalesforceError(
            ErrorCode.UPSTREAM_UNAVAILABLE,
            f"Salesforce {instance} answered getUpdated for {sobject} without latestDateCovered.",
            retry_after=30.0,
        )
    return [str(i) for i in body.get("ids") or []], latest


def deleted_result(body: Any, *, sobject: str, instance: str) -> DeletedResult:
    if not isinstance(body, dict):
        raise SalesforceError(
            ErrorCode.UPSTREAM_UNAVAILABLE,
            f"Salesforce {instance} answered getDeleted for {sobject} with no JSON object.",
            retry_after=30.0,
        )
    records = []
    for item in body.get("deletedRecords") or []:
        when = parse_datetime(item.get("deletedDate"))
        if item.get("id") and when is not None:
            records.append(DeletedRecord(str(item["id"]), when))
    return DeletedResult(
        records=records,
        earliest_date_available=parse_datetime(body.get("earliestDateAvailable")),
        latest_date_covered=parse_datetime(body.get("latestDateCovered")),
    )
