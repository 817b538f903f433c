"""The SOQL the sync sends. Built only with format_soql (via syncd.salesforce.soql).

Event fields: https://developer.salesforce.com/docs/atlas.en-us.object_reference.meta/object_reference/sforce_api_objects_event.htm
TYPEOF: https://developer.salesforce.com/docs/atlas.en-us.soql_sosl.meta/soql_sosl/sforce_api_calls_soql_select_typeof.htm
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from syncd.salesforce.soql import soql
from syncd.sync.series_fields import SERIES_FIELDS

EVENT_FIELDS = (
    "Id",
    "OwnerId",
    "Owner.Email",
    "Owner.IsActive",
    "Subject",
    "Description",
    "Location",
    "StartDateTime",
    "EndDateTime",
    "ActivityDate",
    "DurationInMinutes",
    "IsAllDayEvent",
    "ShowAs",
    "IsPrivate",
    "SystemModstamp",
    *SERIES_FIELDS,
)

# Relation.Email alone answers only for Users; TYPEOF reaches Contacts and Leads.
RELATION_FIELDS = (
    "Id, EventId, RelationId, IsInvitee, Status, RespondedDate, "
    "TYPEOF Relation WHEN User THEN Email WHEN Contact THEN Email WHEN Lead THEN Email END"
)
# Without Shared Activities EventRelation has no IsInvitee (naming it fails the query
# with INVALID_FIELD) and every row is an invitee:
# https://developer.salesforce.com/docs/atlas.en-us.object_reference.meta/object_reference/sforce_api_objects_eventrelation.htm
RELATION_FIELDS_WITHOUT_SHARED_ACTIVITIES = RELATION_FIELDS.replace(" IsInvitee,", "")


def _fields(extra_fields: Sequence[str]) -> str:
    # Extra field names come from the tenant's field mapping, validated there
    # as Salesforce API names (letters, digits, underscores).
    return ", ".join(dict.fromkeys((*EVENT_FIELDS, *extra_fields)))


def _scope(extra_filter: str | None) -> str:
    # Child events (one per invited User) duplicate the parent: sync parents only.
    base = "IsChild = false"
    return f"{base} AND ({extra_filter})" if extra_filter else base


def changed_events(since: datetime, extra_filter: str | None, extra_fields: Sequence[str]) -> str:
    """Parent events written since the watermark, oldest first."""
    return soql(
        "SELECT {fields:literal} FROM Event"
        " WHERE {scope:literal} AND SystemModstamp > {since} ORDER BY SystemModstamp ASC",
        fields=_fields(extra_fields),
        scope=_scope(extra_filter),
        since=since,
    )


def events_in_window(
    start: datetime, end: datetime, extra_filter: str | None, extra_fields: Sequence[str]
) -> str:
    """Every parent event in the sync window (a full resync)."""
    return soql(
        "SELECT {fields:literal} FROM Event"
        " WHERE {scope:literal} AND StartDateTime >= {start} AND StartDateTime <= {end}"
        " ORDER BY Id ASC",
        fields=_fields(extra_fields),
        scope=_scope(extra_filter),
        start=start,
        end=end,
    )


def events_by_id(ids: Sequence[str], extra_fields: Sequence[str]) -> str:
    return soql(
        "SELECT {fields:literal} FROM Event WHERE IsChild = false AND Id IN {ids}",
        fields=_fields(extra_fields),
        ids=list(ids),
    )


def occurrences_of(series_ids: Sequence[str], extra_fields: Sequence[str]) -> str:
    """The occurrences of recurring series (classic: RecurrenceActivityId is the main record)."""
    return soql(
        "SELECT {fields:literal} FROM Event"
        " WHERE IsChild = false AND RecurrenceActivityId IN {ids} ORDER BY StartDateTime ASC",
        fields=_fields(extra_fields),
        ids=list(series_ids),
    )


def lightning_series(series_ids: Sequence[str], extra_fields: Sequence[str]) -> str:
    """Every record of Lightning series: the series record (GroupEventType 3) and its
    occurrences share the ActivityRecurrence2Id
    (https://developer.salesforce.com/docs/platform/change-data-capture/guide/cdc-standard-objects-task-event-recurring.html);
    the caller tells them apart by GroupEventType (not filtered here: the query stays on
    the one documented link)."""
    return soql(
        "SELECT {fields:literal} FROM Event WHERE IsChild = false"
        " AND ActivityRecurrence2Id IN {ids} ORDER BY StartDateTime ASC",
        fields=_fields(extra_fields),
        ids=list(series_ids),
    )


def relations_of(event_ids: Sequence[str], *, shared_activities: bool = True) -> str:
    """Invitees of the given events, with their e-mail whatever their type. With Shared
    Activities the Who and related records are EventRelation rows too: invitees only."""
    if not shared_activities:
        return soql(
            "SELECT {fields:literal} FROM EventRelation WHERE EventId IN {ids}",
            fields=RELATION_FIELDS_WITHOUT_SHARED_ACTIVITIES,
            ids=list(event_ids),
        )
    return soql(
        "SELECT {fields:literal} FROM EventRelation WHERE EventId IN {ids} AND IsInvitee = true",
        fields=RELATION_FIELDS,
        ids=list(event_ids),
    )


def changed_relations(since: datetime) -> str:
    """Invitation changes do not always bump the parent Event's SystemModstamp.

    Run it with queryAll so that removed invitees (deleted rows) are seen too."""
    return soql(
        "SELECT EventId, SystemModstamp FROM EventRelation"
        " WHERE SystemModstamp > {since} ORDER BY SystemModstamp ASC",
        since=since,
    )


def in_org_users(domains: Sequence[str]) -> str:
    """Active users whose address is in one of the tenant's mail domains."""
    clauses = " OR ".join(soql("Email LIKE '%@{domain:like}'", domain=domain) for domain in domains)
    return soql(
        "SELECT Id, Email FROM User WHERE IsActive = true AND ({clauses:literal}) ORDER BY Id",
        clauses=clauses,
    )
