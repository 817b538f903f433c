"""The org's data and indexes: records by type, invitees per event, child events, recycle bin.

No rules live here (see writes.py); callers hold the org lock.
Recycle bin: deleted records stay queryable with queryAll and listed by getDeleted
until purged; `last_purged` feeds getDeleted's earliestDateAvailable
(https://developer.salesforce.com/docs/atlas.en-us.api.meta/api/sforce_api_calls_getdeleted_getdeletedresult.htm).
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any

from syncd.sandbox.salesforce.records import Record, TypeStore
from syncd.sandbox.salesforce.schema import FieldDef, Schema, SObjectSchema

PERSON_TYPES = ("User", "Contact", "Lead")


class OrgData:
    """Records and the indexes the REST layer and the write rules need."""

    def __init__(self, schema: Schema) -> None:
        self.schema = schema
        self.stores = {obj.name.lower(): TypeStore(obj) for obj in schema.objects()}
        # parent event id -> {related record id -> EventRelation}
        self.relations: dict[str, dict[str, Record]] = {}
        # parent event id -> {invited user id -> child Event}
        self.children: dict[str, dict[str, Record]] = {}
        self.usernames: dict[str, str] = {}
        # ids of the Events that are Lightning series records (GroupEventType 3)
        self.series_records: set[str] = set()
        # lower-case e-mail -> ids of users, contacts and leads carrying it
        self.emails: dict[str, list[str]] = {}

    # -- lookups ---------------------------------------------------------------------
    def store(self, sobject: str) -> TypeStore:
        return self.stores[sobject.lower()]

    def type_of(self, record_id: str) -> SObjectSchema | None:
        return self.schema.by_prefix(record_id[:3])

    def find(self, record_id: str, *, include_deleted: bool = False) -> Record | None:
        obj = self.type_of(record_id)
        if obj is None:
            return None
        store = self.store(obj.name)
        return store.find_any(record_id) if include_deleted else store.find(record_id)

    def rows(self, sobject: str, *, include_deleted: bool = False) -> Iterator[Record]:
        return self.store(sobject).all_rows(include_deleted)

    def relations_of(self, event_id: str) -> list[Record]:
        return list(self.relations.get(event_id, {}).values())

    def read(self, record: Record, definition: FieldDef) -> Any:
        """A field's value, derived fields included."""
        if definition.derived:
            return self._derived(record, definition.name)
        return record.get(definition)

    def _derived(self, record: Record, name: str) -> Any:
        if name == "IsGroupEvent":
            # Child events belong to a group event by definition.
            if getattr(record, "IsChild", False):
                return True
            return any(rel.IsInvitee for rel in self.relations.get(record.id, {}).values())
        if name == "GroupEventType":
            if record.id in self.series_records:
                return "3"
            return "1" if self._derived(record, "IsGroupEvent") else "0"
        raise KeyError(f"no derived field {name}")

    def person_ids(self, email: str) -> list[str]:
        return list(self.emails.get(email.strip().lower(), ()))

    # -- indexes ---------------------------------------------------------------------
    def index_email(self, record_id: str, old: str | None, new: str | None) -> None:
        if old:
            ids = self.emails.get(old.lower(), [])
            if record_id in ids:
                ids.remove(record_id)
        if new:
            self.emails.setdefault(new.lower(), []).append(record_id)

    # -- recycle bin -----------------------------------------------------------------
    def to_recycle_bin(self, record: Record, now: datetime) -> None:
        store = self.store(record.sobject)
        store.live.pop(record.id, None)
        record.IsDeleted = True
        record.SystemModstamp = now
        record._deleted_at = now
        store.recycle_bin[record.id] = record

    def purge(self, sobject: str, older_than: datetime | None) -> int:
        """Physically delete recycle-bin rows deleted before `older_than` (None: all)."""
        store = self.store(sobject)
        doomed = [
            rec
            for rec in store.recycle_bin.values()
            if older_than is None or (rec._deleted_at is not None and rec._deleted_at < older_than)
        ]
        for rec in doomed:
            del store.recycle_bin[rec.id]
            stamp = rec._deleted_at
            if stamp is not None and (store.last_purged is None or stamp > store.last_purged):
                store.last_purged = stamp
        return len(doomed)

    def purge_expired(self, now: datetime, retention: timedelta) -> None:
        for store in self.stores.values():
            if store.recycle_bin:
                self.purge(store.schema.name, now - retention)

    def counts(self) -> dict[str, dict[str, int]]:
        return {
            store.schema.name: {"live": len(store.live), "recycle_bin": len(store.recycle_bin)}
            for store in self.stores.values()
        }
