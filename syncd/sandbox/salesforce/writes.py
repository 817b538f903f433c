"""Creating, updating and deleting records with Salesforce's rules and audit stamps.

- SystemModstamp moves on every write, API writes included; LastModifiedDate and
  LastModifiedById move on writes made by (simulated) people only, unless
  `OrgSettings.api_writes_touch_last_modified` is set. Salesforce itself also moves
  LastModifiedDate on API writes; the sandbox keeps them apart by default so a test
  can tell a person's edit from syncd's write-back, as NOTES-salesforce.md describes.
  Audit fields: https://developer.salesforce.com/docs/atlas.en-us.object_reference.meta/object_reference/system_fields.htm
- Inviting a User creates a child Event owned by the invitee (IsChild = true) that
  mirrors the parent; removing the invitation deletes it. Child events carry no
  EventRelation rows (Event reference, "An EventRelation object can't be related to
  a child event").
- With Shared Activities the Event's WhoId is also an EventRelation row with
  IsParent = true (EventRelation reference); without it EventRelation rows are
  invitees only (`OrgSettings.shared_activities`).
- Deleting an Event puts it, its EventRelation rows and its child events in the
  recycle bin.
Callers hold the org lock.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from syncd.sandbox.salesforce.coerce import check_writable
from syncd.sandbox.salesforce.errors import RecordError
from syncd.sandbox.salesforce.event_rules import SHARED_WITH_CHILDREN, TIME_INPUTS, event_times
from syncd.sandbox.salesforce.ids import IdFactory
from syncd.sandbox.salesforce.records import Record
from syncd.sandbox.salesforce.store import PERSON_TYPES, OrgData

EVENT_DEFAULTS = {
    "IsAllDayEvent": False,
    "IsPrivate": False,
    "IsChild": False,
    "ShowAs": "Busy",
    "IsReminderSet": False,
    "IsRecurrence": False,
    "IsRecurrence2": False,
    "IsRecurrence2Exception": False,
    "IsRecurrence2Exclusion": False,
}


@dataclass
class PreparedUpdate:
    """A checked update waiting to be applied."""

    record: Record
    fields: dict[str, Any]
    custom: dict[str, Any]


@dataclass
class OrgSettings:
    """Knobs of the org's behaviour, settable at run time."""

    recycle_bin_days: float = 15.0
    api_writes_touch_last_modified: bool = False
    #: Shared Activities enabled: EventRelation has IsInvitee / IsParent / IsWhat and the
    #: Who is a row too; off, every EventRelation is an invitee (EventRelation reference,
    #: https://developer.salesforce.com/docs/atlas.en-us.object_reference.meta/object_reference/sforce_api_objects_eventrelation.htm)
    shared_activities: bool = True


class Writer:
    """Applies writes to the org data; `by` is the acting user id, `user_write` says who."""

    def __init__(
        self,
        data: OrgData,
        ids: IdFactory,
        now: Callable[[], datetime],
        settings: OrgSettings,
    ) -> None:
        self.data = data
        self.ids = ids
        self.now = now
        self.settings = settings

    # -- create ----------------------------------------------------------------------
    def create(
        self, sobject: str, values: Mapping[str, Any], *, by: str | None, user_write: bool
    ) -> Record:
        schema = self.data.schema[sobject]
        resolved = check_writable(schema, values, creating=True)
        fields = {d.name: v for d, v in resolved.items() if not d.custom}
        custom = {d.name: v for d, v in resolved.items() if d.custom and v is not None}
        kind = schema.name
        if kind == "Event":
            return self._create_event(fields, custom, by=by)
        if kind == "EventRelation":
            return self._create_relation(fields, by=by, user_write=user_write)
        if kind in PERSON_TYPES:
            return self._create_person(kind, fields, custom, by=by)
        raise RecordError("INVALID_TYPE", f"sObject type '{kind}' can't be created here")

    def stamps(self, by: str | None) -> dict[str, Any]:
        """Audit fields of a record created now by `by`."""
        now = self.now()
        return {
            "CreatedDate": now,
            "CreatedById": by,
            "LastModifiedDate": now,
            "LastModifiedById": by,
            "SystemModstamp": now,
        }

    def insert(
        self, sobject: str, custom: Mapping[str, Any] | None = None, **values: Any
    ) -> Record:
        """Store a new record as given (no checks): the generator's fast path."""
        store = self.data.store(sobject)
        record = store.new(Id=self.ids.new(store.schema.key_prefix), **values)
        if custom:
            record._custom = dict(custom)
        store.live[record.Id] = record
        return record

    def _create_event(
        self, fields: dict[str, Any], custom: dict[str, Any], *, by: str | None
    ) -> Record:
        fields.setdefault("OwnerId", by)
        if fields["OwnerId"] is None:
            raise RecordError(
                "REQUIRED_FIELD_MISSING", "Required fields are missing: [OwnerId]", ["OwnerId"]
            )
        self._check_owner(fields["OwnerId"])
        if fields.get("WhoId"):
            self._check_who(fields["WhoId"])
        values = {**EVENT_DEFAULTS, **fields, **event_times(None, fields)}
        values = {k: v for k, v in values.items() if v is not None}
        event = self.insert("Event", custom, IsDeleted=False, **values, **self.stamps(by))
        if event.WhoId and self.settings.shared_activities:
            self._link_who(event, event.WhoId, by=by, user_write=True)
        return event

    def _create_person(
        self, kind: str, fields: dict[str, Any], custom: dict[str, Any], *, by: str | None
    ) -> Record:
        if not fields.get("LastName"):
            raise RecordError(
                "REQUIRED_FIELD_MISSING", "Required fields are missing: [LastName]", ["LastName"]
            )
        fields["Name"] = " ".join(p for p in (fields.get("FirstName"), fields["LastName"]) if p)
        if kind == "User":
            if not fields.get("Email"):
                raise RecordError(
                    "REQUIRED_FIELD_MISSING", "Required fields are missing: [Email]", ["Email"]
                )
            fields.setdefault("Username", fields["Email"])
            if fields["Username"].lower() in self.data.usernames:
                raise RecordError("DUPLICATE_USERNAME", "Duplicate Username.", ["Username"])
            fields.setdefault("IsActive", True)
            fields.setdefault("TimeZoneSidKey", "America/Los_Angeles")
            fields.setdefault(
                "Alias", ((fields.get("FirstName") or "")[:1] + fields["LastName"][:4]).lower()
            )
            record = self.insert(kind, custom, **fields, **self.stamps(by))
            self.data.usernames[fields["Username"].lower()] = record.id
        else:
            fields.setdefault("OwnerId", by)
            if kind == "Lead":
                fields.setdefault("Company", "Unknown")
                fields.setdefault("Status", "Open - Not Contacted")
            record = self.insert(kind, custom, IsDeleted=False, **fields, **self.stamps(by))
        self.data.index_email(record.id, None, fields.get("Email"))
        return record

    def _create_relation(
        self, fields: dict[str, Any], *, by: str | None, user_write: bool
    ) -> Record:
        for required in ("EventId", "RelationId"):
            if not fields.get(required):
                raise RecordError(
                    "REQUIRED_FIELD_MISSING",
                    f"Required fields are missing: [{required}]",
                    [required],
                )
        event = self.data.find(fields["EventId"])
        if event is None or event.sobject != "Event":
            raise RecordError(
                "INVALID_CROSS_REFERENCE_KEY", "invalid cross reference id", ["EventId"]
            )
        if event.IsChild:
            raise RecordError(
                "FIELD_INTEGRITY_EXCEPTION",
                "EventId: An EventRelation can't be related to a child event.",
                ["EventId"],
            )
        target = self._person(fields["RelationId"], "RelationId")
        parent = bool(fields.get("IsParent"))
        invitee = fields.get("IsInvitee", not parent and not fields.get("IsWhat"))
        existing = self.data.relations.get(event.id, {}).get(target.id)
        if existing is not None:
            # One row per (event, person): inviting the event's Who marks its row.
            if (invitee and existing.IsInvitee) or (parent and existing.IsParent):
                raise RecordError(
                    "DUPLICATE_VALUE",
                    "duplicate value found: RelationId duplicates value on record with id: "
                    f"{existing.id}",
                    ["RelationId"],
                )
            changes = {
                "IsInvitee": existing.IsInvitee or invitee,
                "IsParent": existing.IsParent or parent,
            }
            self._apply(existing, changes, by=by, user_write=user_write)
            if invitee:
                self._spawn_child(event, target, by=by)
            return existing
        relation = self.insert(
            "EventRelation",
            None,
            EventId=event.id,
            RelationId=target.id,
            IsInvitee=bool(invitee),
            IsParent=parent,
            IsWhat=bool(fields.get("IsWhat")),
            Status=fields.get("Status") or "New",
            RespondedDate=fields.get("RespondedDate"),
            Response=fields.get("Response"),
            IsDeleted=False,
            **self.stamps(by),
        )
        self.data.relations.setdefault(event.id, {})[target.id] = relation
        if invitee:
            self._spawn_child(event, target, by=by)
        return relation

    def attach(
        self,
        event: Record,
        target: Record,
        *,
        invitee: bool = True,
        parent: bool = False,
        status: str = "New",
        responded: datetime | None = None,
        by: str | None = None,
        stamps: dict[str, Any] | None = None,
    ) -> Record:
        """Add an EventRelation row (and an invited user's child event) without checks.

        The generator's fast path; callers make sure the row does not exist yet.
        """
        stamps = stamps or self.stamps(by)
        event_id, target_id = event.Id, target.Id
        relation = self.insert(
            "EventRelation",
            None,
            EventId=event_id,
            RelationId=target_id,
            IsInvitee=invitee,
            IsParent=parent,
            IsWhat=False,
            Status=status,
            RespondedDate=responded,
            IsDeleted=False,
            **stamps,
        )
        self.data.relations.setdefault(event_id, {})[target_id] = relation
        if invitee:
            self._spawn_child(event, target, by=by, stamps=stamps)
        return relation

    def _spawn_child(
        self,
        parent: Record,
        target: Record,
        *,
        by: str | None,
        stamps: dict[str, Any] | None = None,
    ) -> None:
        """The invitee's own copy of the meeting, for invited users only."""
        target_id = target.Id
        if target.sobject != "User" or target_id == parent.OwnerId:
            return
        children = self.data.children.setdefault(parent.Id, {})
        if target_id in children:
            return
        shared = {name: getattr(parent, name) for name in SHARED_WITH_CHILDREN}
        values = {**EVENT_DEFAULTS, **shared, "IsChild": True, "OwnerId": target_id}
        child = self.insert("Event", None, IsDeleted=False, **values, **(stamps or self.stamps(by)))
        children[target_id] = child

    # -- update ----------------------------------------------------------------------
    def prepare_update(self, record: Record, values: Mapping[str, Any]) -> PreparedUpdate:
        """Check an update without applying it (all-or-none batches check every record first)."""
        schema = self.data.schema[record.sobject]
        resolved = check_writable(schema, values, creating=False)
        fields = {d.name: v for d, v in resolved.items() if not d.custom}
        custom = {d.name: v for d, v in resolved.items() if d.custom}
        if record.sobject == "Event":
            fields = self._event_changes(record, fields)
        elif record.sobject in PERSON_TYPES:
            fields = self._person_changes(record, fields)
        return PreparedUpdate(record, fields, custom)

    def apply_update(self, prepared: PreparedUpdate, *, by: str | None, user_write: bool) -> None:
        record, fields = prepared.record, prepared.fields
        if record.sobject in PERSON_TYPES:
            self._reindex_person(record, fields)
        old_who = getattr(record, "WhoId", None)
        self._apply(record, fields, by=by, user_write=user_write, custom=prepared.custom)
        if record.sobject == "Event" and not record.IsChild:
            self._mirror_to_children(record, fields, by=by, user_write=user_write)
            who_changed = "WhoId" in fields and fields["WhoId"] != old_who
            if who_changed and self.settings.shared_activities:
                if old_who:
                    self._unlink_who(record, old_who, by=by, user_write=user_write)
                if fields["WhoId"]:
                    self._link_who(record, fields["WhoId"], by=by, user_write=user_write)

    def update(
        self, record: Record, values: Mapping[str, Any], *, by: str | None, user_write: bool
    ) -> None:
        self.apply_update(self.prepare_update(record, values), by=by, user_write=user_write)

    def _event_changes(self, record: Record, fields: dict[str, Any]) -> dict[str, Any]:
        if fields.get("OwnerId"):
            self._check_owner(fields["OwnerId"])
        if fields.get("WhoId"):
            self._check_who(fields["WhoId"])
        if TIME_INPUTS & fields.keys():
            current = {name: getattr(record, name, None) for name in TIME_INPUTS}
            fields = {**fields, **event_times(current, fields)}
        return fields

    def _person_changes(self, record: Record, fields: dict[str, Any]) -> dict[str, Any]:
        if "FirstName" in fields or "LastName" in fields:
            first = fields.get("FirstName", getattr(record, "FirstName", None))
            last = fields.get("LastName", getattr(record, "LastName", None))
            if not last:
                raise RecordError(
                    "REQUIRED_FIELD_MISSING",
                    "Required fields are missing: [LastName]",
                    ["LastName"],
                )
            fields["Name"] = " ".join(p for p in (first, last) if p)
        username = fields.get("Username")
        if username and record.sobject == "User":
            owner = self.data.usernames.get(username.lower())
            if owner not in (None, record.id):
                raise RecordError("DUPLICATE_USERNAME", "Duplicate Username.", ["Username"])
        return fields

    def _reindex_person(self, record: Record, fields: Mapping[str, Any]) -> None:
        if "Email" in fields:
            self.data.index_email(record.id, getattr(record, "Email", None), fields["Email"])
        if fields.get("Username") and record.sobject == "User":
            self.data.usernames.pop(str(record.Username).lower(), None)
            self.data.usernames[fields["Username"].lower()] = record.id

    def _apply(
        self,
        record: Record,
        fields: Mapping[str, Any],
        *,
        by: str | None,
        user_write: bool,
        custom: Mapping[str, Any] | None = None,
    ) -> None:
        for name, value in fields.items():
            setattr(record, name, value)
        if custom:
            record._custom = {**(record._custom or {}), **custom}
        now = self.now()
        record.SystemModstamp = now
        if user_write or self.settings.api_writes_touch_last_modified:
            record.LastModifiedDate = now
            record.LastModifiedById = by

    def _mirror_to_children(
        self, parent: Record, fields: Mapping[str, Any], *, by: str | None, user_write: bool
    ) -> None:
        shared = {name: fields[name] for name in SHARED_WITH_CHILDREN if name in fields}
        if not shared:
            return
        for child in self.data.children.get(parent.id, {}).values():
            self._apply(child, shared, by=by, user_write=user_write)

    # -- delete ----------------------------------------------------------------------
    def delete(self, record: Record, *, by: str | None, user_write: bool) -> None:
        kind = record.sobject
        if kind == "User":
            raise RecordError(
                "INSUFFICIENT_ACCESS_OR_READONLY", "insufficient access rights on object id"
            )
        if kind == "EventRelation":
            self._remove_relation(record, by=by, user_write=user_write)
            return
        now = self.now()
        if kind == "Event":
            if record.IsChild:
                raise RecordError(
                    "FIELD_INTEGRITY_EXCEPTION",
                    "An invitee's child event goes away when the invitee is removed from the "
                    "parent event.",
                )
            for relation in self.data.relations.pop(record.id, {}).values():
                self.data.to_recycle_bin(relation, now)
            for child in self.data.children.pop(record.id, {}).values():
                self.data.to_recycle_bin(child, now)
        if kind in PERSON_TYPES:
            self.data.index_email(record.id, getattr(record, "Email", None), None)
        self.data.to_recycle_bin(record, now)

    def _remove_relation(self, relation: Record, *, by: str | None, user_write: bool) -> None:
        event_id, target_id = relation.EventId, relation.RelationId
        child = self.data.children.get(event_id, {}).pop(target_id, None)
        if child is not None:
            self.data.to_recycle_bin(child, self.now())
        if relation.IsParent:
            if not relation.IsInvitee:
                raise RecordError(
                    "FIELD_INTEGRITY_EXCEPTION",
                    "This relation is the event's Name (WhoId); change WhoId instead.",
                    ["RelationId"],
                )
            self._apply(relation, {"IsInvitee": False}, by=by, user_write=user_write)
            return
        self.data.relations.get(event_id, {}).pop(target_id, None)
        self.data.to_recycle_bin(relation, self.now())

    # -- Who (Shared Activities) -------------------------------------------------------
    def _link_who(self, event: Record, who_id: str, *, by: str | None, user_write: bool) -> None:
        existing = self.data.relations.get(event.id, {}).get(who_id)
        if existing is not None:
            self._apply(existing, {"IsParent": True}, by=by, user_write=user_write)
            return
        self._create_relation(
            {"EventId": event.id, "RelationId": who_id, "IsParent": True, "IsInvitee": False},
            by=by,
            user_write=user_write,
        )

    def _unlink_who(self, event: Record, who_id: str, *, by: str | None, user_write: bool) -> None:
        existing = self.data.relations.get(event.id, {}).get(who_id)
        if existing is None:
            return
        if existing.IsInvitee:
            self._apply(existing, {"IsParent": False}, by=by, user_write=user_write)
        else:
            self.data.relations[event.id].pop(who_id, None)
            self.data.to_recycle_bin(existing, self.now())

    # -- reference checks --------------------------------------------------------------
    def _person(self, record_id: str, field: str) -> Record:
        record = self.data.find(record_id)
        if record is None or record.sobject not in PERSON_TYPES:
            raise RecordError("INVALID_CROSS_REFERENCE_KEY", "invalid cross reference id", [field])
        return record

    def _check_owner(self, owner_id: str) -> None:
        owner = self.data.find(owner_id)
        if owner is None or owner.sobject != "User":
            raise RecordError(
                "INVALID_CROSS_REFERENCE_KEY", "invalid cross reference id", ["OwnerId"]
            )
        if not owner.IsActive:
            raise RecordError(
                "INACTIVE_OWNER_OR_USER",
                f"operation performed with inactive user [{owner_id}] as owner of event",
                ["OwnerId"],
            )

    def _check_who(self, who_id: str) -> None:
        who = self.data.find(who_id)
        if who is None or who.sobject not in ("Contact", "Lead"):
            raise RecordError(
                "INVALID_CROSS_REFERENCE_KEY", "invalid cross reference id", ["WhoId"]
            )
