"""What syncd writes back to Salesforce (pure): Event status fields, invitee
responses on EventRelation, and availability snapshots on User.

Field names come from the tenant's mapping; an empty name is not written.
EventRelation Status holds only New / Accepted / Declined:
https://developer.salesforce.com/docs/atlas.en-us.object_reference.meta/object_reference/sforce_api_objects_eventrelation.htm
RespondedDate, a dateTime, takes milliseconds at most (syncd.salesforce.values).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from syncd.config import EventFieldMapping
from syncd.domain import ResponseStatus, Slot, WritebackStatus, format_gmt
from syncd.salesforce.values import sf_datetime
from syncd.sync.salesforce_event import Invitee

#: Salesforce long text areas hold 131,072 characters; stay well inside.
MAX_SNAPSHOT_CHARS = 100_000
MAX_ERROR_CHARS = 255
MAX_SUMMARY_CHARS = 131_072

_SF_STATUS = {
    ResponseStatus.ACCEPTED: "Accepted",
    ResponseStatus.DECLINED: "Declined",
}


@dataclass(frozen=True)
class Outcome:
    """The result of one plan step, as written back to the Event."""

    salesforce_id: str
    status: WritebackStatus
    graph_event_id: str | None = None
    join_url: str | None = None
    error: str | None = None


def _put(record: dict[str, Any], name: str, value: Any) -> None:
    if name:
        record[name] = value


def event_update(outcome: Outcome, fields: EventFieldMapping, now: datetime) -> dict[str, Any]:
    """An sObject Collections record for the Event; only mapped fields are set."""
    record: dict[str, Any] = {"attributes": {"type": "Event"}, "id": outcome.salesforce_id}
    _put(record, fields.sync_status, outcome.status)
    _put(record, fields.sync_error, (outcome.error or "")[:MAX_ERROR_CHARS] or None)
    if outcome.status == WritebackStatus.SYNCED:
        _put(record, fields.outlook_event_id, outcome.graph_event_id)
        _put(record, fields.teams_join_url, outcome.join_url)
        _put(record, fields.synced_at, format_gmt(now))
    return record


def has_fields(record: Mapping[str, Any]) -> bool:
    return any(key not in ("attributes", "id") for key in record)


def written_back(row: Mapping[str, Any], outcome: Outcome, fields: EventFieldMapping) -> bool:
    """Whether the Event `row` (as queried) already holds what `outcome` writes back.

    Synced_At__c is left out (it says when, not what), and so is a field the query did
    not read; a failure only needs a reason, whatever its wording (it changes between
    attempts), or every poll would write the Event again.
    """
    wanted = event_update(outcome, fields, datetime.min)
    for name, value in wanted.items():
        if name in ("attributes", "id", fields.synced_at) or name not in row:
            continue
        if name == fields.sync_error and outcome.status == WritebackStatus.FAILED:
            if not row[name]:
                return False
        elif row[name] != value:
            return False
    return True


def responses_summary(responses: Mapping[str, Mapping[str, Any]]) -> str:
    """One line per answer kind, e.g. "Accepted: a@x; Tentative: b@y" (Tentative
    has no EventRelation status, so the summary is where it shows)."""
    groups: dict[str, list[str]] = {}
    for email, answer in sorted(responses.items()):
        groups.setdefault(str(answer.get("response")), []).append(email)
    order = [s.value for s in ResponseStatus]
    text = "; ".join(f"{kind}: {', '.join(groups[kind])}" for kind in order if kind in groups)
    # Outlook may list more attendees than Salesforce's invitees (added in Outlook): cut at
    # an address, within the field's size (config/salesforce), rather than be refused.
    if len(text) > MAX_SUMMARY_CHARS:
        text = text[: MAX_SUMMARY_CHARS - 1].rsplit(", ", 1)[0] + "…"
    return text


def relation_updates(
    invitees: Sequence[Invitee], responses: Mapping[str, Mapping[str, Any]]
) -> list[dict[str, Any]]:
    """EventRelation Status/RespondedDate for invitees whose answer changed."""
    updates = []
    for invitee in invitees:
        if not invitee.email:
            continue
        answer = responses.get(invitee.email.casefold())
        if not answer:
            continue
        status = _SF_STATUS.get(ResponseStatus(answer["response"]), "New")
        if status == (invitee.status or "New"):
            continue
        record: dict[str, Any] = {
            "attributes": {"type": "EventRelation"},
            "id": invitee.relation_row_id,
            "Status": status,
        }
        responded = _responded(answer.get("time")) if status != "New" else None
        if responded:
            record["RespondedDate"] = responded
        updates.append(record)
    return updates


def _responded(graph_time: Any) -> str | None:
    """Graph's answer time (seven fractional digits) as Salesforce takes a dateTime:
    milliseconds at most (see syncd.salesforce.values); None when it is no time."""
    if not isinstance(graph_time, str) or not graph_time:
        return None
    try:
        return sf_datetime(graph_time)
    except ValueError:
        return None


def availability_snapshot(slots: Sequence[Slot], start: datetime, end: datetime) -> str:
    """Busy slots as compact JSON; trimmed to the field size, never cut mid-value."""
    busy = [[format_gmt(s.start), format_gmt(s.end)] for s in slots]
    while True:
        text = json.dumps(
            {"from": format_gmt(start), "to": format_gmt(end), "busy": busy},
            separators=(",", ":"),
        )
        if len(text) <= MAX_SNAPSHOT_CHARS or not busy:
            return text
        busy = busy[: len(busy) * 9 // 10]
