"""The simulated org: thread-safe state plus a Python API to act as the org's people.

Tests and the demo use the Python API (`create_event`, `update_event`, `invite`, ...)
to play users editing their calendars in Salesforce: those are "user" writes and
move LastModifiedDate as well as SystemModstamp. Writes through the REST API
(syncd's write-back) move SystemModstamp only; see writes.py for why.
Time comes from the injected clock; ids from a seeded factory.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Mapping
from datetime import UTC, date, datetime, timedelta
from typing import Any

from syncd.sandbox.clock import SandboxClock
from syncd.sandbox.salesforce.ids import IdFactory, normalize_id
from syncd.sandbox.salesforce.records import Record
from syncd.sandbox.salesforce.schema import Schema, default_schema
from syncd.sandbox.salesforce.store import PERSON_TYPES, OrgData
from syncd.sandbox.salesforce.values import truncate_to_millis
from syncd.sandbox.salesforce.writes import OrgSettings, Writer

# When sandbox orgs say they were created (getDeleted's earliestDateAvailable before any
# purge); fixed and early so that moving the sandbox clock never puts it after a watermark.
ORG_CREATED = datetime(2020, 1, 1, tzinfo=UTC)


class SalesforceOrg:
    """Users, Contacts, Leads, Events and EventRelations behind one lock."""

    def __init__(
        self,
        *,
        clock: SandboxClock | None = None,
        schema: Schema | None = None,
        seed: int = 42,
        name: str = "syncd sandbox",
        settings: OrgSettings | None = None,
        created_at: datetime = ORG_CREATED,
    ) -> None:
        self.created_at = created_at
        # Username of the API-only user a generated org has for syncd (build_org sets it).
        self.integration_username: str | None = None
        self.clock = clock or SandboxClock()
        self.schema = schema or default_schema()
        self.seed = seed
        self.name = name
        self.settings = settings or OrgSettings()
        self.ids = IdFactory(seed)
        self.org_id = self.ids.new("00D")
        self.lock = threading.RLock()
        self.data = OrgData(self.schema)
        self.writer = Writer(self.data, self.ids, self.now, self.settings)
        if self.schema.get("UserPermissionAccess") is not None:
            # A fixed id: drawing one from the seeded factory would move every demo id.
            store = self.data.store("UserPermissionAccess")
            row = store.new(Id=f"{store.schema.key_prefix}000000000001AAA")
            row.PermissionsViewAllData = True
            store.live[row.Id] = row

    def set_view_all_data(self, granted: bool) -> None:
        """Grant or take away "View All Data" from the API user: Event has no object-level
        "View All", so this is what lets it read other owners' Events
        (https://developer.salesforce.com/docs/atlas.en-us.change_data_capture.meta/change_data_capture/cdc_security_perms.htm:
        "Some standard objects don't have the View All permission, such as Task and Event.
        In this case, the View All Data permission is required.")."""
        with self.lock:
            for row in self.data.rows("UserPermissionAccess"):
                row.PermissionsViewAllData = granted

    def visible_to(self, user_id: str | None) -> Callable[[Record], bool]:
        """`row_visible` for one API user's queries: without View All Data it sees only
        the Events it owns (assumed: activities' org-wide default Private, no sharing)."""

        sees_all = self.view_all_data()

        def visible(record: Record) -> bool:
            if not self.row_visible(record):
                return False
            return sees_all or record.sobject != "Event" or record.OwnerId == user_id

        return visible

    def view_all_data(self) -> bool:
        with self.lock:
            return all(row.PermissionsViewAllData for row in self.data.rows("UserPermissionAccess"))

    def now(self) -> datetime:
        """The org's time (sandbox clock), to the millisecond like Salesforce keeps it."""
        return truncate_to_millis(self.clock.now())

    # -- what an API call sees -----------------------------------------------------------
    def api_schema(self, version: str | int) -> Schema:
        """The objects and fields a REST call at API `version` ("59.0") sees in this org:
        fields newer than the version, and the Shared Activities fields when the setting
        is off, are not there (describe leaves them out, SOQL naming them is refused)."""
        number = int(float(version))
        return self.schema.visible(number, shared_activities=self.settings.shared_activities)

    def row_visible(self, record: Record) -> bool:
        """Whether API reads show the row: without Shared Activities "EventRelation records
        only represent invitees", so a Who-only row (IsParent) is not there."""
        if record.sobject != "EventRelation" or self.settings.shared_activities:
            return True
        return bool(record.IsInvitee)

    # -- people ------------------------------------------------------------------------
    def add_user(
        self,
        email: str,
        first_name: str | None = None,
        last_name: str | None = None,
        *,
        username: str | None = None,
        active: bool = True,
        time_zone: str = "America/Los_Angeles",
        title: str | None = None,
        **fields: Any,
    ) -> str:
        """Add a User (username defaults to the e-mail); returns its id."""
        first, last = _names(email, first_name, last_name)
        values = {
            "Email": email,
            "Username": username or email,
            "FirstName": first,
            "LastName": last,
            "IsActive": active,
            "TimeZoneSidKey": time_zone,
            "Title": title,
            **fields,
        }
        return self._create("User", values, by=None)

    def add_contact(
        self,
        email: str | None,
        first_name: str | None = None,
        last_name: str | None = None,
        **fields: Any,
    ) -> str:
        first, last = _names(email or "unknown@example.invalid", first_name, last_name)
        return self._create(
            "Contact", {"Email": email, "FirstName": first, "LastName": last, **fields}
        )

    def add_lead(
        self,
        email: str | None,
        first_name: str | None = None,
        last_name: str | None = None,
        *,
        company: str = "Unknown",
        **fields: Any,
    ) -> str:
        first, last = _names(email or "unknown@example.invalid", first_name, last_name)
        values = {
            "Email": email,
            "FirstName": first,
            "LastName": last,
            "Company": company,
            **fields,
        }
        return self._create("Lead", values)

    def find_user(self, key: str) -> str | None:
        """A user id by id, username or e-mail (case-insensitive)."""
        with self.lock:
            record_id = normalize_id(key)
            if record_id and record_id.startswith("005") and self.data.find(record_id):
                return record_id
            by_name = self.data.usernames.get(key.strip().lower())
            if by_name:
                return by_name
            return next((i for i in self.data.person_ids(key) if i.startswith("005")), None)

    def resolve_person(self, key: str) -> str:
        """A User, Contact or Lead id from an id or an e-mail (users first)."""
        with self.lock:
            record_id = normalize_id(key)
            if record_id is not None:
                found = self.data.find(record_id)
                if found is not None and found.sobject in PERSON_TYPES:
                    return record_id
                raise KeyError(f"no User, Contact or Lead with id {key}")
            ids = self.data.person_ids(key)
            for prefix in ("005", "003", "00Q"):
                for candidate in ids:
                    if candidate.startswith(prefix):
                        return candidate
        raise KeyError(f"no User, Contact or Lead with e-mail {key!r}")

    # -- events ------------------------------------------------------------------------
    def create_event(
        self,
        owner: str,
        subject: str | None = None,
        start: datetime | None = None,
        end: datetime | None = None,
        *,
        all_day: bool = False,
        activity_date: date | None = None,
        duration_minutes: int | None = None,
        location: str | None = None,
        description: str | None = None,
        show_as: str = "Busy",
        private: bool = False,
        who: str | None = None,
        invitees: Iterable[str] = (),
        **fields: Any,
    ) -> str:
        """Create an Event as its owner would in Salesforce; returns the Event id.

        `owner` and `invitees` are ids or e-mail addresses; extra API fields go in
        `fields` (e.g. Type="Meeting", Outlook_Event_Id__c=...).
        """
        with self.lock:
            owner_id = self._user_id(owner)
            values: dict[str, Any] = {
                "OwnerId": owner_id,
                "Subject": subject,
                "Location": location,
                "Description": description,
                "ShowAs": show_as,
                "IsPrivate": private,
                "IsAllDayEvent": all_day,
                **fields,
            }
            if start is not None:
                values["StartDateTime"] = start
            if end is not None:
                values["EndDateTime"] = end
            if activity_date is not None:
                values["ActivityDate"] = activity_date
            if duration_minutes is not None:
                values["DurationInMinutes"] = duration_minutes
            if who is not None:
                values["WhoId"] = self.resolve_person(who)
            # Resolve every invitee first so a bad address creates nothing.
            targets = [self.resolve_person(invitee) for invitee in invitees]
            event_id = self._create("Event", values, by=owner_id)
            for target in targets:
                self.invite(event_id, target)
            return event_id

    def update_event(self, event_id: str, *, by: str | None = None, **fields: Any) -> None:
        """Edit an Event as a person would (API field names: Subject=..., StartDateTime=...)."""
        self.update("Event", event_id, fields, by=by)

    def delete_event(self, event_id: str, *, by: str | None = None) -> None:
        self.delete("Event", event_id, by=by)

    def invite(self, event_id: str, who: str, *, status: str = "New") -> str:
        """Add an invitee (User, Contact or Lead, by id or e-mail); returns the EventRelation id."""
        with self.lock:
            event = self._record("Event", event_id)
            target = self.resolve_person(who)
            values = {
                "EventId": event.id,
                "RelationId": target,
                "IsInvitee": True,
                "Status": status,
            }
            return self._create("EventRelation", values, by=event.OwnerId)

    def uninvite(self, event_id: str, who: str) -> None:
        """Remove an invitee; an invited user's child event goes too."""
        with self.lock:
            relation = self._relation(event_id, who)
            event = self._record("Event", relation.EventId)
            self.writer.delete(relation, by=event.OwnerId, user_write=True)

    def respond(self, event_id: str, who: str, status: str, *, response: str | None = None) -> None:
        """An invitee answers in Salesforce (Status New/Accepted/Declined)."""
        with self.lock:
            relation = self._relation(event_id, who)
            values = {"Status": status, "RespondedDate": self.now(), "Response": response}
            self.writer.update(relation, values, by=relation.RelationId, user_write=True)

    def invitees(self, event_id: str) -> list[dict[str, Any]]:
        """The EventRelation rows of an event (IsInvitee or the Who), as plain values."""
        with self.lock:
            return [
                self._snapshot(r)
                for r in self.data.relations_of(normalize_id(event_id) or event_id)
            ]

    def child_events(self, event_id: str) -> list[str]:
        """Ids of the child events made for invited users."""
        with self.lock:
            key = normalize_id(event_id) or event_id
            return [child.id for child in self.data.children.get(key, {}).values()]

    # -- generic records ---------------------------------------------------------------
    def create(self, sobject: str, values: Mapping[str, Any], *, by: str | None = None) -> str:
        """Create any record as a person would; returns its id."""
        return self._create(sobject, values, by=by)

    def update(
        self,
        sobject: str,
        record_id: str,
        values: Mapping[str, Any],
        *,
        by: str | None = None,
        user_write: bool = True,
    ) -> None:
        with self.lock:
            record = self._record(sobject, record_id)
            actor = by or getattr(record, "OwnerId", None)
            self.writer.update(record, values, by=actor, user_write=user_write)

    def delete(self, sobject: str, record_id: str, *, by: str | None = None) -> None:
        with self.lock:
            record = self._record(sobject, record_id)
            actor = by or getattr(record, "OwnerId", None)
            self.writer.delete(record, by=actor, user_write=True)

    def get(self, record_id: str, *, include_deleted: bool = True) -> dict[str, Any] | None:
        """All fields of a record as Python values (None if unknown)."""
        with self.lock:
            self.purge_expired()
            key = normalize_id(record_id)
            record = self.data.find(key, include_deleted=include_deleted) if key else None
            return None if record is None else self._snapshot(record)

    def record(self, record_id: str) -> dict[str, Any]:
        """Like get(), but an unknown id raises KeyError (for reading fields straight off it)."""
        found = self.get(record_id)
        if found is None:
            raise KeyError(f"no record with id {record_id} in the sandbox org")
        return found

    def ids_of(self, sobject: str, *, include_deleted: bool = False) -> list[str]:
        with self.lock:
            return [r.id for r in self.data.rows(sobject, include_deleted=include_deleted)]

    # -- recycle bin -------------------------------------------------------------------
    def purge_expired(self) -> None:
        """Drop recycle-bin rows older than the retention (called before reads that see them)."""
        with self.lock:
            retention = timedelta(days=self.settings.recycle_bin_days)
            self.data.purge_expired(self.now(), retention)

    def empty_recycle_bin(self, sobject: str | None = None) -> int:
        """Physically delete everything in the recycle bin (of one type); returns the count."""
        with self.lock:
            names = [sobject] if sobject else [o.name for o in self.schema.objects()]
            return sum(self.data.purge(name, None) for name in names)

    def counts(self) -> dict[str, dict[str, int]]:
        with self.lock:
            return self.data.counts()

    # -- internals ---------------------------------------------------------------------
    def _create(self, sobject: str, values: Mapping[str, Any], *, by: str | None = None) -> str:
        with self.lock:
            return self.writer.create(sobject, values, by=by, user_write=True).id

    def _record(self, sobject: str, record_id: str) -> Record:
        key = normalize_id(record_id)
        record = self.data.find(key) if key else None
        if record is None or record.sobject.lower() != sobject.lower():
            raise KeyError(f"no live {sobject} with id {record_id}")
        return record

    def _relation(self, event_id: str, who: str) -> Record:
        event = self._record("Event", event_id)
        target = self.resolve_person(who)
        relation = self.data.relations.get(event.id, {}).get(target)
        if relation is None:
            raise KeyError(f"{who} is not related to event {event_id}")
        return relation

    def _user_id(self, key: str) -> str:
        user_id = self.find_user(key)
        if user_id is None:
            raise KeyError(f"no user {key!r} in the sandbox org")
        return user_id

    def _snapshot(self, record: Record) -> dict[str, Any]:
        schema = self.schema[record.sobject]
        return {d.name: self.data.read(record, d) for d in schema.fields.values()}


def _names(email: str, first: str | None, last: str | None) -> tuple[str | None, str]:
    """First and last name, guessed from `first.last@domain` when not given."""
    if last:
        return first, last
    local = email.split("@", 1)[0]
    parts = [p for p in local.replace("_", ".").split(".") if p]
    if len(parts) >= 2:
        return first or parts[0].title(), parts[-1].title()
    return first, (parts[0].title() if parts else "Unknown")
