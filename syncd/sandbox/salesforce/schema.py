"""The org's schema: which objects and fields exist, their types and what may be written.

Objects and fields follow the Object Reference:
Event https://developer.salesforce.com/docs/atlas.en-us.object_reference.meta/object_reference/sforce_api_objects_event.htm
EventRelation https://developer.salesforce.com/docs/atlas.en-us.object_reference.meta/object_reference/sforce_api_objects_eventrelation.htm
User https://developer.salesforce.com/docs/atlas.en-us.object_reference.meta/object_reference/sforce_api_objects_user.htm
Contact, Lead likewise. Polymorphic lookups (Event.Owner, EventRelation.Relation,
Event.Who) resolve through the `Name` object unless a TYPEOF clause names the type:
https://developer.salesforce.com/docs/atlas.en-us.soql_sosl.meta/soql_sosl/sforce_api_calls_soql_relationships_and_polymorph_keys.htm

Not every org sees every field: `Schema.visible(version, shared_activities=...)` is the
schema one API call sees (describe and SOQL use it). A field newer than the call's API
version, or one that exists only with Shared Activities, is not there at all.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, Literal

FieldType = Literal[
    "id",
    "reference",
    "string",
    "textarea",
    "email",
    "url",
    "boolean",
    "datetime",
    "date",
    "int",
    "picklist",
]
TEXT_TYPES = frozenset({"id", "reference", "string", "textarea", "email", "url", "picklist"})
#: The API version from which Event.ActivityRecurrence2Id can be read (Winter '26).
ACTIVITY_RECURRENCE2_SINCE = 65


@dataclass(frozen=True)
class FieldDef:
    """One field; `derived` fields are computed when read (IsGroupEvent)."""

    name: str
    type: FieldType
    createable: bool = True
    updateable: bool = True
    nillable: bool = True
    custom: bool = False
    length: int | None = None
    reference_to: tuple[str, ...] = ()
    relationship_name: str | None = None
    picklist: tuple[str, ...] = ()
    restricted: bool = False
    derived: bool = False
    #: first REST API version (e.g. 65) whose calls see the field; None: all of them
    since_version: int | None = None
    #: visible only in orgs with Shared Activities enabled
    needs_shared_activities: bool = False

    def visible(self, version: int, *, shared_activities: bool) -> bool:
        """Whether a call at API `version` in an org with(out) Shared Activities sees it."""
        if self.since_version is not None and version < self.since_version:
            return False
        return shared_activities or not self.needs_shared_activities

    @property
    def polymorphic(self) -> bool:
        return len(self.reference_to) > 1

    @property
    def is_text(self) -> bool:
        return self.type in TEXT_TYPES


@dataclass(frozen=True)
class ChildRelationship:
    """A parent-to-child relationship usable as a subquery, e.g. Event.EventRelations."""

    name: str
    child: str
    field: str


@dataclass
class SObjectSchema:
    """An object type: key prefix, fields by lower-case name, relationships, children."""

    name: str
    key_prefix: str
    fields: dict[str, FieldDef] = field(default_factory=dict)
    children: dict[str, ChildRelationship] = field(default_factory=dict)
    has_recycle_bin: bool = True

    def add(self, definition: FieldDef) -> FieldDef:
        key = definition.name.lower()
        if key in self.fields:
            raise ValueError(f"{self.name}.{definition.name} is already declared")
        if definition.custom and not definition.name.endswith("__c"):
            raise ValueError(f"custom field names end in __c, got {definition.name!r}")
        self.fields[key] = definition
        return definition

    def field(self, name: str) -> FieldDef | None:
        return self.fields.get(name.lower())

    def relationship(self, name: str) -> FieldDef | None:
        """The reference field behind a relationship name (Owner -> OwnerId)."""
        wanted = name.lower()
        for definition in self.fields.values():
            if definition.relationship_name and definition.relationship_name.lower() == wanted:
                return definition
        return None

    def child(self, name: str) -> ChildRelationship | None:
        return self.children.get(name.lower())

    def standard_names(self) -> list[str]:
        return [d.name for d in self.fields.values() if not d.custom and not d.derived]

    def visible(self, version: int, *, shared_activities: bool) -> SObjectSchema:
        """A copy holding only the fields an API call at `version` sees."""
        return SObjectSchema(
            self.name,
            self.key_prefix,
            {
                key: d
                for key, d in self.fields.items()
                if d.visible(version, shared_activities=shared_activities)
            },
            dict(self.children),
            self.has_recycle_bin,
        )


class Schema:
    """All object types of the org, looked up case-insensitively."""

    def __init__(self, objects: Iterable[SObjectSchema]) -> None:
        self._objects = {obj.name.lower(): obj for obj in objects}

    def get(self, name: str) -> SObjectSchema | None:
        return self._objects.get(name.lower())

    def __getitem__(self, name: str) -> SObjectSchema:
        found = self.get(name)
        if found is None:
            raise KeyError(f"no sObject type {name!r} in the sandbox schema")
        return found

    def names(self) -> list[str]:
        return [obj.name for obj in self._objects.values()]

    def objects(self) -> list[SObjectSchema]:
        return list(self._objects.values())

    def by_prefix(self, key_prefix: str) -> SObjectSchema | None:
        for obj in self._objects.values():
            if obj.key_prefix == key_prefix:
                return obj
        return None

    def visible(self, version: int, *, shared_activities: bool) -> Schema:
        """The schema an API call at `version` sees in an org with(out) Shared Activities."""
        return Schema(
            obj.visible(version, shared_activities=shared_activities)
            for obj in self._objects.values()
        )

    def add_custom_field(self, sobject: str, name: str, type_: FieldType, **options: Any) -> None:
        """Declare a custom field (name ending in __c) on an object type."""
        self[sobject].add(FieldDef(name, type_, custom=True, **options))


def _ro(name: str, type_: FieldType, **options: Any) -> FieldDef:
    """A read-only (system-maintained) field."""
    return FieldDef(name, type_, createable=False, updateable=False, **options)


def _audit_fields(with_deleted: bool = True) -> list[FieldDef]:
    fields = [
        _ro("CreatedDate", "datetime", nillable=False),
        _ro("CreatedById", "reference", reference_to=("User",), relationship_name="CreatedBy"),
        _ro("LastModifiedDate", "datetime", nillable=False),
        _ro(
            "LastModifiedById",
            "reference",
            reference_to=("User",),
            relationship_name="LastModifiedBy",
        ),
        _ro("SystemModstamp", "datetime", nillable=False),
    ]
    if with_deleted:
        fields.append(_ro("IsDeleted", "boolean", nillable=False))
    return fields


def _user() -> SObjectSchema:
    user = SObjectSchema("User", "005", has_recycle_bin=False)
    for definition in [
        _ro("Id", "id", nillable=False),
        FieldDef("Username", "string", length=80, nillable=False),
        FieldDef("Email", "email", length=128, nillable=False),
        _ro("Name", "string", length=121),
        FieldDef("FirstName", "string", length=40),
        FieldDef("LastName", "string", length=80, nillable=False),
        FieldDef("Alias", "string", length=8),
        FieldDef("IsActive", "boolean", nillable=False),
        FieldDef("TimeZoneSidKey", "picklist", length=40),
        FieldDef("Title", "string", length=80),
        *_audit_fields(with_deleted=False),
    ]:
        user.add(definition)
    return user


def _person(name: str, prefix: str, extra: list[FieldDef]) -> SObjectSchema:
    person = SObjectSchema(name, prefix)
    for definition in [
        _ro("Id", "id", nillable=False),
        FieldDef("FirstName", "string", length=40),
        FieldDef("LastName", "string", length=80, nillable=False),
        _ro("Name", "string", length=121),
        FieldDef("Email", "email", length=80),
        FieldDef("Title", "string", length=128),
        FieldDef("OwnerId", "reference", reference_to=("User",), relationship_name="Owner"),
        *extra,
        *_audit_fields(),
    ]:
        person.add(definition)
    return person


#: The key prefix of UserPermissionAccess ids in the sandbox (assumed: not documented).
USER_PERMISSION_ACCESS_PREFIX = "0Xq"


def _user_permission_access() -> SObjectSchema:
    """The current user's permissions, one row
    (https://developer.salesforce.com/docs/atlas.en-us.object_reference.meta/object_reference/sforce_api_objects_userpermissionaccess.htm);
    the sandbox keeps the one of its API user (assumed: one integration user per org)."""
    access = SObjectSchema(
        "UserPermissionAccess", USER_PERMISSION_ACCESS_PREFIX, has_recycle_bin=False
    )
    access.add(_ro("Id", "id", nillable=False))
    access.add(_ro("PermissionsViewAllData", "boolean", nillable=False))
    return access


def _event() -> SObjectSchema:
    event = SObjectSchema("Event", "00U")
    event.children["eventrelations"] = ChildRelationship(
        "EventRelations", "EventRelation", "EventId"
    )
    for definition in [
        _ro("Id", "id", nillable=False),
        FieldDef(
            "OwnerId",
            "reference",
            reference_to=("User", "Calendar"),
            relationship_name="Owner",
            nillable=False,
        ),
        FieldDef("Subject", "string", length=255),
        FieldDef("Description", "textarea", length=32000),
        FieldDef("Location", "string", length=255),
        FieldDef("StartDateTime", "datetime"),
        FieldDef("EndDateTime", "datetime"),
        FieldDef("ActivityDateTime", "datetime"),
        FieldDef("ActivityDate", "date"),
        _ro("EndDate", "date"),
        FieldDef("DurationInMinutes", "int"),
        FieldDef("IsAllDayEvent", "boolean", nillable=False),
        FieldDef(
            "ShowAs",
            "picklist",
            picklist=("Busy", "OutOfOffice", "Free"),
            restricted=True,
            length=40,
        ),
        FieldDef("IsPrivate", "boolean", nillable=False),
        _ro("IsChild", "boolean", nillable=False),
        _ro("IsGroupEvent", "boolean", nillable=False, derived=True),
        # 0 no invitees, 1 invitees, 2 proposed (Event reference); 3 the record of a
        # Lightning event series, "which represents the recurrence pattern" (Change Data
        # Capture guide, Recurring Activities:
        # https://developer.salesforce.com/docs/platform/change-data-capture/guide/cdc-standard-objects-task-event-recurring.html).
        _ro(
            "GroupEventType",
            "picklist",
            picklist=("0", "1", "2", "3"),
            restricted=True,
            length=40,
            derived=True,
        ),
        FieldDef("WhoId", "reference", reference_to=("Contact", "Lead"), relationship_name="Who"),
        FieldDef(
            "WhatId",
            "reference",
            reference_to=("Account", "Opportunity", "Case"),
            relationship_name="What",
        ),
        _ro("AccountId", "reference", reference_to=("Account",), relationship_name="Account"),
        FieldDef("Type", "picklist", picklist=("Call", "Email", "Meeting", "Other"), length=40),
        FieldDef("IsReminderSet", "boolean", nillable=False),
        FieldDef("ReminderDateTime", "datetime"),
        # Recurrence fields are stored as given; recurrence.py makes the series' records.
        FieldDef("IsRecurrence", "boolean", nillable=False),
        _ro(
            "RecurrenceActivityId",
            "reference",
            reference_to=("Event",),
            relationship_name="RecurrenceActivity",
        ),
        FieldDef("RecurrenceType", "picklist", length=40),
        FieldDef("RecurrenceInterval", "int"),
        FieldDef("RecurrenceDayOfWeekMask", "int"),
        FieldDef("RecurrenceDayOfMonth", "int"),
        FieldDef("RecurrenceInstance", "picklist", length=40),
        FieldDef("RecurrenceMonthOfYear", "picklist", length=40),
        FieldDef("RecurrenceStartDateTime", "datetime"),
        FieldDef("RecurrenceEndDateOnly", "date"),
        FieldDef("RecurrenceTimeZoneSidKey", "picklist", length=40),
        _ro("IsRecurrence2", "boolean", nillable=False),
        # The ActivityRecurrence2 record (key prefix 828) a Lightning series' records share:
        # the series record and each occurrence carry the same id (CDC guide, Recurring
        # Activities, above). On the Event object from API 65.0 (Winter '26 release notes,
        # "New and Changed Objects": new read-only fields ActivityRecurrence2Id and
        # ActivityRecurrence2ExceptionId).
        _ro(
            "ActivityRecurrence2Id",
            "reference",
            reference_to=("ActivityRecurrence2",),
            since_version=ACTIVITY_RECURRENCE2_SINCE,
        ),
        _ro("IsRecurrence2Exception", "boolean", nillable=False),
        _ro("IsRecurrence2Exclusion", "boolean", nillable=False),
        FieldDef("Recurrence2PatternText", "textarea", length=1024),
        FieldDef("Recurrence2PatternStartDate", "datetime"),
        FieldDef("Recurrence2PatternTimeZone", "string", length=255),
        FieldDef("Recurrence2PatternVersion", "picklist", length=40),
        *_audit_fields(),
    ]:
        event.add(definition)
    return event


def _event_relation() -> SObjectSchema:
    relation = SObjectSchema("EventRelation", "0RE")
    for definition in [
        _ro("Id", "id", nillable=False),
        FieldDef(
            "EventId",
            "reference",
            reference_to=("Event",),
            relationship_name="Event",
            updateable=False,
            nillable=False,
        ),
        FieldDef(
            "RelationId",
            "reference",
            reference_to=("User", "Contact", "Lead", "Calendar"),
            relationship_name="Relation",
            updateable=False,
            nillable=False,
        ),
        # "IsInvitee is visible when Shared Activities is enabled" (and IsParent, IsWhat
        # likewise); without it "EventRelation records only represent invitees":
        # https://developer.salesforce.com/docs/atlas.en-us.object_reference.meta/object_reference/sforce_api_objects_eventrelation.htm
        FieldDef(
            "IsInvitee", "boolean", updateable=False, nillable=False, needs_shared_activities=True
        ),
        FieldDef(
            "IsParent", "boolean", updateable=False, nillable=False, needs_shared_activities=True
        ),
        FieldDef(
            "IsWhat", "boolean", updateable=False, nillable=False, needs_shared_activities=True
        ),
        # "New", "Accepted", "Declined" only: there is no "Maybe" in the API.
        FieldDef(
            "Status",
            "picklist",
            picklist=("New", "Accepted", "Declined"),
            restricted=True,
            length=40,
        ),
        FieldDef("RespondedDate", "datetime"),
        FieldDef("Response", "string", length=255),
        *_audit_fields(),
    ]:
        relation.add(definition)
    return relation


# The fields of the `Name` object that polymorphic lookups (Relation.X, Owner.X) can
# read without TYPEOF. Email is filled for users only (see NOTES-salesforce.md).
_NAME_FIELD_TYPES: list[tuple[str, FieldType]] = [
    ("Id", "id"),
    ("Name", "string"),
    ("Type", "string"),
    ("Email", "email"),
    ("FirstName", "string"),
    ("LastName", "string"),
    ("Alias", "string"),
    ("Title", "string"),
    ("Username", "string"),
    ("IsActive", "boolean"),
]
NAME_FIELDS = {
    name.lower(): FieldDef(name, type_, createable=False, updateable=False)
    for name, type_ in _NAME_FIELD_TYPES
}

# The write-back fields as the metadata package config/salesforce deploys them (describe
# types: Text -> string, TextArea and LongTextArea -> textarea, DateTime -> datetime);
# tests/unit/test_salesforce_package.py holds the two equal.
DEFAULT_EVENT_CUSTOM_FIELDS: tuple[tuple[str, FieldType, int | None], ...] = (
    ("Outlook_Event_Id__c", "string", 255),
    ("Sync_Status__c", "string", 40),
    ("Sync_Error__c", "textarea", 255),
    ("Teams_Join_Url__c", "textarea", 2048),
    ("Synced_At__c", "datetime", None),
    ("Responses_Summary__c", "textarea", 131072),
)
DEFAULT_USER_CUSTOM_FIELDS: tuple[tuple[str, FieldType, int | None], ...] = (
    ("Availability_Snapshot__c", "textarea", 131072),
)


def default_schema(
    event_fields: Iterable[tuple[str, FieldType, int | None]] = DEFAULT_EVENT_CUSTOM_FIELDS,
    user_fields: Iterable[tuple[str, FieldType, int | None]] = DEFAULT_USER_CUSTOM_FIELDS,
) -> Schema:
    """The standard objects plus the custom fields syncd writes back by default."""
    lead_extra = [
        FieldDef("Company", "string", length=255),
        FieldDef("Status", "picklist", length=40),
    ]
    schema = Schema(
        [
            _user(),
            _person("Contact", "003", [FieldDef("Phone", "string", length=40)]),
            _person("Lead", "00Q", lead_extra),
            _event(),
            _event_relation(),
            _user_permission_access(),
        ]
    )
    for name, type_, length in event_fields:
        schema["Event"].add(FieldDef(name, type_, custom=True, length=length))
    for name, type_, length in user_fields:
        schema["User"].add(FieldDef(name, type_, custom=True, length=length))
    return schema
