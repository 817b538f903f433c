"""The event store: every mailbox's calendar, meetings fanned out, dedupe by transactionId.

Times are kept in UTC; the zone names a client sent are kept for rendering.
Stored events are only ever changed by assigning new values to their fields
(never in place), so the shallow copies the read methods return are stable
snapshots that callers can render without holding the store's lock.
"""

from __future__ import annotations

import copy
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from syncd.sandbox.microsoft.answers import Invite
from syncd.sandbox.microsoft.directory import DirectoryUser
from syncd.sandbox.microsoft.errors import GraphError, item_not_found
from syncd.sandbox.microsoft.ids import IdFactory
from syncd.sandbox.microsoft.recurrence import check_range_start, local_starts, rule_of
from syncd.sandbox.microsoft.timezones import resolve_zone

# Fields an organizer's change copies to every invitee's copy of the meeting.
SHARED_FIELDS = (
    "subject",
    "body_type",
    "body_content",
    "start",
    "end",
    "start_zone",
    "end_zone",
    "is_all_day",
    "location",
    "locations",
    "sensitivity",
    "importance",
    "is_online_meeting",
    "online_meeting_provider",
    "join_url",
    "response_requested",
    "allow_new_time_proposals",
    "hide_attendees",
    "reminder_minutes",
    "recurrence",
    "exceptions",
    "cancelled_occurrences",
)
# Fields an exception (one changed occurrence of a series) may override.
# https://learn.microsoft.com/en-us/graph/api/event-update on an occurrence id makes it
# an exception of the series (resources/event, type "exception").
INSTANCE_FIELDS = (
    "subject",
    "body_type",
    "body_content",
    "start",
    "end",
    "start_zone",
    "end_zone",
    "is_all_day",
    "location",
    "locations",
    "show_as",
    "sensitivity",
    "importance",
    "reminder_minutes",
)
#: Marks the original start inside an occurrence id (see `instance_id`).
_OCCURRENCE_MARK = "_OCC"
_STAMP = "%Y%m%dT%H%M%SZ"
_STAMP_LENGTH = 16


@dataclass
class Attendee:
    address: str
    name: str
    type: str
    invite: Invite


@dataclass
class StoredEvent:
    """One item in one mailbox's calendar (an organizer's meeting or an invitee's copy)."""

    id: str
    owner_id: str
    owner_email: str
    organizer_address: str
    organizer_name: str
    is_organizer: bool
    start: datetime
    end: datetime
    created: datetime
    modified: datetime
    change_key: str
    ical_uid: str
    meeting_key: str
    subject: str = ""
    body_type: str = "text"
    body_content: str = ""
    start_zone: str = "UTC"
    end_zone: str = "UTC"
    is_all_day: bool = False
    location: dict[str, Any] = field(default_factory=lambda: {"displayName": ""})
    locations: list[dict[str, Any]] = field(default_factory=list)
    attendees: list[Attendee] = field(default_factory=list)
    show_as: str = "busy"
    sensitivity: str = "normal"
    importance: str = "normal"
    categories: list[str] = field(default_factory=list)
    is_online_meeting: bool = False
    online_meeting_provider: str = "unknown"
    join_url: str | None = None
    transaction_id: str | None = None
    extended: dict[str, str] = field(default_factory=dict)
    reminder_minutes: int = 15
    is_reminder_on: bool = True
    response_requested: bool = True
    allow_new_time_proposals: bool = True
    hide_attendees: bool = False
    is_cancelled: bool = False
    # Organizer's meeting: invitee address (lower) -> id of their copy; round of invitations.
    copies: dict[str, str] = field(default_factory=dict)
    meeting_round: int = 0
    # Invitee's copy: the organizer's event id and this invitee's invitation.
    organizer_event_id: str | None = None
    my_invite: Invite | None = None
    # A series master: its patternedRecurrence, changed occurrences (original start
    # stamp -> overridden fields) and deleted/cancelled occurrences (original start stamps).
    recurrence: dict[str, Any] | None = None
    exceptions: dict[str, dict[str, Any]] = field(default_factory=dict)
    cancelled_occurrences: tuple[str, ...] = ()
    # An occurrence or exception rendered from a master (never stored as such).
    event_type: str = "singleInstance"
    series_master_id: str | None = None
    original_start: datetime | None = None


def stamp(instant: datetime) -> str:
    """The key of an occurrence: its original start in UTC."""
    return instant.astimezone(UTC).strftime(_STAMP)


def instance_id(master_id: str, original_start: datetime) -> str:
    """The id of one occurrence: the master's id with the original start folded in.

    Real occurrence ids are opaque; these are stable, so GET/PATCH/DELETE on them work.
    """
    core = master_id.removesuffix("AAA=")
    return f"{core}{_OCCURRENCE_MARK}{stamp(original_start)}AAA="


def split_instance_id(event_id: str) -> tuple[str, datetime] | None:
    """(master id, original start) of an occurrence id; None for any other id."""
    body = event_id.removesuffix("AAA=")
    mark = len(body) - _STAMP_LENGTH - len(_OCCURRENCE_MARK)
    if mark <= 0 or body[mark : mark + len(_OCCURRENCE_MARK)] != _OCCURRENCE_MARK:
        return None
    try:
        original = datetime.strptime(body[-_STAMP_LENGTH:], _STAMP).replace(tzinfo=UTC)
    except ValueError:
        return None
    return body[:mark] + "AAA=", original


def occurrences(
    master: StoredEvent, start: datetime, end: datetime, *, by_original: bool = False
) -> list[StoredEvent]:
    """The instances of a series master overlapping [start, end), exceptions applied.

    Occurrences are expanded in the master's start time zone (its wall-clock time of
    day is kept across daylight saving); cancelled occurrences are left out
    (https://learn.microsoft.com/en-us/graph/api/event-list-instances).
    """
    if master.recurrence is None:
        return []
    zone = resolve_zone(master.start_zone)
    first = master.start.astimezone(zone)
    duration = master.end - master.start
    # An exception may have moved away from its slot; look a little further for it.
    horizon = (end.astimezone(zone) + timedelta(days=1 if by_original else 32)).date()
    found = []
    for local in local_starts(first, rule_of(master.recurrence), horizon=horizon):
        original = local.astimezone(UTC)
        key = stamp(original)
        if key in master.cancelled_occurrences:
            continue
        if by_original and not start <= original < end:
            continue
        instance = copy.copy(master)
        instance.id = instance_id(master.id, original)
        instance.recurrence = None
        instance.exceptions = {}
        instance.cancelled_occurrences = ()
        instance.event_type = "occurrence"
        instance.series_master_id = master.id
        instance.original_start = original
        instance.start = original
        instance.end = original + duration
        overrides = master.exceptions.get(key)
        if overrides:
            instance.event_type = "exception"
            for name, value in overrides.items():
                setattr(instance, name, copy.deepcopy(value))
        if by_original:
            found.append(instance)
        elif instance.start == instance.end:
            if start <= instance.start < end:
                found.append(instance)
        elif instance.start < end and instance.end > start:
            found.append(instance)
    return found


MailboxResolver = Callable[[str], DirectoryUser | None]
# (meeting key, attendee address, round, now) -> the invitation with its future answer.
Inviter = Callable[[str, str, int, datetime], Invite]


class EventStore:
    """All calendars of the sandbox, guarded by one lock."""

    def __init__(self, ids: IdFactory, resolve_mailbox: MailboxResolver, invite: Inviter) -> None:
        self._ids = ids
        self._resolve = resolve_mailbox
        self._invite = invite
        self._lock = threading.RLock()
        self._events: dict[str, StoredEvent] = {}
        self._by_owner: dict[str, list[str]] = {}
        self._by_transaction: dict[tuple[str, str], str] = {}

    # -- reading -----------------------------------------------------------------
    def get(self, owner_id: str, event_id: str) -> StoredEvent:
        with self._lock:
            if split_instance_id(event_id) is not None:
                return self._instance(owner_id, event_id)[1]
            return copy.copy(self._owned(owner_id, event_id))

    def instances(
        self, owner_id: str, event_id: str, start: datetime, end: datetime
    ) -> list[StoredEvent]:
        """Occurrences and exceptions of a series master within [start, end)."""
        with self._lock:
            master = self._owned(owner_id, event_id)
            return occurrences(master, start, end)

    def events(
        self, owner_id: str, where: Callable[[StoredEvent], bool] | None = None
    ) -> list[StoredEvent]:
        """The mailbox's calendar items in creation order, optionally filtered."""
        with self._lock:
            items = (self._events[i] for i in self._by_owner.get(owner_id, []))
            return [copy.copy(ev) for ev in items if where is None or where(ev)]

    def between(self, owner_id: str, start: datetime, end: datetime) -> list[StoredEvent]:
        """Items overlapping [start, end), ordered by start (calendarView semantics)."""

        def overlaps(ev: StoredEvent) -> bool:
            if ev.recurrence is not None:
                return True  # expanded below
            if ev.start == ev.end:
                return start <= ev.start < end
            return ev.start < end and ev.end > start

        items = []
        for event in self.events(owner_id, overlaps):
            if event.recurrence is not None:
                items.extend(occurrences(event, start, end))
            else:
                items.append(event)
        return sorted(items, key=lambda ev: (ev.start, ev.end, ev.created))

    def find_by_transaction(self, owner_id: str, transaction_id: str) -> StoredEvent | None:
        with self._lock:
            event_id = self._by_transaction.get((owner_id, transaction_id))
            event = self._events.get(event_id) if event_id else None
            return copy.copy(event) if event else None

    def forget_transactions(self) -> int:
        """Stop deduplicating the transactionIds seen so far; returns how many.

        Graph drops a repeated POST with a transactionId it has seen (resources/event,
        transactionId) but documents no time for which it remembers one; this store
        remembers them for ever unless told to forget, as a test of what happens after
        Graph has forgotten (e.g. a create retried long after a lost ledger) needs.
        """
        with self._lock:
            forgotten = len(self._by_transaction)
            self._by_transaction.clear()
            return forgotten

    def clear(self) -> None:
        with self._lock:
            self._events.clear()
            self._by_owner.clear()
            self._by_transaction.clear()

    def _owned(self, owner_id: str, event_id: str) -> StoredEvent:
        event = self._events.get(event_id)
        if event is None or event.owner_id != owner_id:
            raise item_not_found()
        return event

    def _instance(self, owner_id: str, event_id: str) -> tuple[StoredEvent, StoredEvent]:
        """(stored master, rendered instance) of an occurrence id; 404 when there is none."""
        parsed = split_instance_id(event_id)
        if parsed is None:
            raise item_not_found()
        master = self._owned(owner_id, parsed[0])
        original = parsed[1]
        window_end = original + timedelta(seconds=1)
        for instance in occurrences(master, original, window_end, by_original=True):
            if instance.original_start == original:
                return master, instance
        raise item_not_found()

    # -- writing -----------------------------------------------------------------
    def create(
        self, owner: DirectoryUser, fields: dict[str, Any], now: datetime
    ) -> tuple[StoredEvent, bool]:
        """Store a new event (and invitee copies); (event, False) when transactionId dedupes."""
        transaction_id = fields.get("transaction_id")
        with self._lock:
            if transaction_id:
                existing = self._by_transaction.get((owner.id, transaction_id))
                if existing in self._events:
                    return copy.copy(self._events[existing]), False
            event_id = self._ids.event_id()
            event = StoredEvent(
                id=event_id,
                owner_id=owner.id,
                owner_email=owner.email,
                organizer_address=owner.email,
                organizer_name=owner.display_name,
                is_organizer=True,
                start=fields["start"],
                end=fields["end"],
                created=now,
                modified=now,
                change_key=self._ids.change_key(),
                ical_uid=self._ids.ical_uid(),
                meeting_key=transaction_id or event_id,
            )
            self._apply(event, {k: v for k, v in fields.items() if k != "attendees"})
            self._sync_locations(event, fields)
            event.attendees = [
                Attendee(address, name, kind, self._invite(event.meeting_key, address, 0, now))
                for address, name, kind in fields.get("attendees", [])
            ]
            self._refresh_join_url(event, owner)
            self._insert(event)
            for attendee in event.attendees:
                self._deliver(event, attendee, now)
            return copy.copy(event), True

    def update(
        self, owner: DirectoryUser, event_id: str, fields: dict[str, Any], now: datetime
    ) -> StoredEvent:
        """PATCH semantics: only given fields change; attendees replace the list."""
        with self._lock:
            if split_instance_id(event_id) is not None:
                return self._update_instance(owner, event_id, fields, now)
            event = self._owned(owner.id, event_id)
            new_txn = fields.pop("transaction_id", event.transaction_id)
            if new_txn != event.transaction_id:
                raise GraphError(
                    400,
                    "ErrorInvalidRequest",
                    "The transactionId of an event can't be changed after it is created.",
                )
            moved = any(
                key in fields and fields[key] != getattr(event, key) for key in ("start", "end")
            )
            if fields.get("end", event.end) < fields.get("start", event.start):
                raise GraphError(
                    400, "BadRequest", "The end of the event must not be before its start."
                )
            if "start" in fields or "recurrence" in fields:
                check_range_start(
                    fields.get("recurrence", event.recurrence),
                    fields.get("start", event.start),
                    fields.get("start_zone", event.start_zone),
                )
            extended = fields.pop("extended", None)
            attendees = fields.pop("attendees", None)
            if event.is_online_meeting:
                # Once online, always online: "After you set isOnlineMeeting to true,
                # Microsoft Graph initializes onlineMeeting. Subsequently Outlook ignores
                # any further changes to isOnlineMeeting, and the meeting remains available
                # online"; onlineMeetingProvider cannot change again either. The PATCH
                # still succeeds (ignored, not refused).
                # https://learn.microsoft.com/graph/api/resources/event#properties
                fields.pop("is_online_meeting", None)
                fields.pop("online_meeting_provider", None)
            self._apply(event, fields)
            self._sync_locations(event, fields)
            if extended:
                event.extended = {**event.extended, **extended}
            if event.is_organizer:
                self._replan_meeting(event, owner, attendees, moved, now)
            elif attendees is not None:
                event.attendees = [
                    Attendee(a, n, t, self._invite(event.meeting_key, a, 0, now))
                    for a, n, t in attendees
                ]
            self._touch(event, now)
            return copy.copy(event)

    def cancel(self, owner: DirectoryUser, event_id: str, now: datetime) -> None:
        """The organizer cancels: their item goes, invitees' copies are marked cancelled.

        https://learn.microsoft.com/en-us/graph/api/event-cancel
        """
        with self._lock:
            if split_instance_id(event_id) is not None:
                master, _ = self._instance(owner.id, event_id)
                if not master.is_organizer:
                    raise GraphError(
                        400,
                        "ErrorAccessDenied",
                        "Your request can't be completed. You need to be an organizer to "
                        "cancel a meeting.",
                    )
                self._cancel_occurrence(owner, event_id, now)
                return
            event = self._owned(owner.id, event_id)
            if not event.is_organizer:
                # Status and message from the cancel page; the code is not documented there.
                raise GraphError(
                    400,
                    "ErrorAccessDenied",
                    "Your request can't be completed. You need to be an organizer to cancel a "
                    "meeting.",
                )
            self._remove_meeting(event, now)

    def delete(self, owner: DirectoryUser, event_id: str, now: datetime) -> None:
        """Delete from one calendar; an organizer's delete also cancels the invitees' copies.

        https://learn.microsoft.com/en-us/graph/api/event-delete ("If the event is a
        meeting, deleting the event on the organizer's calendar sends a cancellation").
        """
        with self._lock:
            if split_instance_id(event_id) is not None:
                # Deleting one occurrence removes it from the series (it joins the
                # master's cancelledOccurrences); an organizer's delete cancels it for
                # the invitees too.
                self._cancel_occurrence(owner, event_id, now)
                return
            event = self._owned(owner.id, event_id)
            if event.is_organizer:
                self._remove_meeting(event, now)
            else:
                self._drop(event)

    # -- occurrences (call with the lock held) ---------------------------------------------
    def _series_family(self, master: StoredEvent) -> list[StoredEvent]:
        """The organizer's master and the invitees' copies of it."""
        family = [master]
        if master.is_organizer:
            family.extend(self._events[c] for c in master.copies.values() if c in self._events)
        return family

    def _update_instance(
        self, owner: DirectoryUser, event_id: str, fields: dict[str, Any], now: datetime
    ) -> StoredEvent:
        master, instance = self._instance(owner.id, event_id)
        assert instance.original_start is not None
        changes = {k: copy.deepcopy(v) for k, v in fields.items() if k in INSTANCE_FIELDS}
        start = changes.get("start", instance.start)
        if changes.get("end", instance.end) < start:
            raise GraphError(
                400, "BadRequest", "The end of the event must not be before its start."
            )
        if "location" in changes and "locations" not in changes:
            named = bool(changes["location"].get("displayName"))
            changes["locations"] = [copy.deepcopy(changes["location"])] if named else []
        key = stamp(instance.original_start)
        for member in self._series_family(master):
            member.exceptions = {
                **member.exceptions,
                key: {**member.exceptions.get(key, {}), **changes},
            }
            self._touch(member, now)
        return self._instance(owner.id, event_id)[1]

    def _cancel_occurrence(self, owner: DirectoryUser, event_id: str, now: datetime) -> None:
        master, instance = self._instance(owner.id, event_id)
        assert instance.original_start is not None
        key = stamp(instance.original_start)
        members = self._series_family(master) if master.is_organizer else [master]
        for member in members:
            if key not in member.cancelled_occurrences:
                member.cancelled_occurrences = (*member.cancelled_occurrences, key)
            member.exceptions = {k: v for k, v in member.exceptions.items() if k != key}
            self._touch(member, now)

    # -- internals (call with the lock held) -----------------------------------------
    def _apply(self, event: StoredEvent, fields: dict[str, Any]) -> None:
        for key, value in fields.items():
            if key not in ("attendees", "locations") and hasattr(event, key):
                setattr(event, key, copy.deepcopy(value))

    @staticmethod
    def _sync_locations(event: StoredEvent, fields: dict[str, Any]) -> None:
        """`location` and `locations` always correspond (resources/event, locations)."""
        if "locations" in fields:
            event.locations = copy.deepcopy(fields["locations"])
            if "location" not in fields:
                names = [loc["displayName"] for loc in event.locations if loc["displayName"]]
                event.location = {"displayName": "; ".join(names)}
        elif "location" in fields:
            named = bool(event.location["displayName"])
            event.locations = [copy.deepcopy(event.location)] if named else []

    def _refresh_join_url(self, event: StoredEvent, owner: DirectoryUser) -> None:
        teams = event.is_online_meeting and event.online_meeting_provider == "teamsForBusiness"
        if teams and event.join_url is None:
            event.join_url = self._ids.teams_join_url(event.meeting_key, owner.tenant_id, owner.id)
        elif not event.is_online_meeting:
            event.join_url = None

    def _insert(self, event: StoredEvent) -> None:
        self._events[event.id] = event
        self._by_owner.setdefault(event.owner_id, []).append(event.id)
        if event.transaction_id:
            self._by_transaction[(event.owner_id, event.transaction_id)] = event.id

    def _drop(self, event: StoredEvent) -> None:
        self._events.pop(event.id, None)
        ids = self._by_owner.get(event.owner_id, [])
        if event.id in ids:
            ids.remove(event.id)

    def _touch(self, event: StoredEvent, now: datetime) -> None:
        event.modified = now
        event.change_key = self._ids.change_key()

    def _deliver(self, meeting: StoredEvent, attendee: Attendee, now: datetime) -> None:
        """Put a copy in the invitee's calendar when the address is a sandbox mailbox."""
        user = self._resolve(attendee.address)
        if user is None or not user.has_mailbox or user.id == meeting.owner_id:
            return
        existing = meeting.copies.get(attendee.address.lower())
        if existing in self._events:
            return
        invitee_copy = StoredEvent(
            id=self._ids.event_id(),
            owner_id=user.id,
            owner_email=user.email,
            organizer_address=meeting.organizer_address,
            organizer_name=meeting.organizer_name,
            is_organizer=False,
            start=meeting.start,
            end=meeting.end,
            created=now,
            modified=now,
            change_key=self._ids.change_key(),
            ical_uid=meeting.ical_uid,
            meeting_key=meeting.meeting_key,
            show_as=meeting.show_as,
            categories=[],
            attendees=copy.deepcopy(meeting.attendees),
            organizer_event_id=meeting.id,
            my_invite=attendee.invite,
        )
        for name in SHARED_FIELDS:
            setattr(invitee_copy, name, copy.deepcopy(getattr(meeting, name)))
        self._insert(invitee_copy)
        meeting.copies = {**meeting.copies, attendee.address.lower(): invitee_copy.id}

    def _replan_meeting(
        self,
        event: StoredEvent,
        owner: DirectoryUser,
        attendees: list[tuple[str, str, str]] | None,
        moved: bool,
        now: datetime,
    ) -> None:
        """Apply attendee and time changes: a move re-invites everyone (answers reset).

        An update sends meeting updates to attendees
        (https://learn.microsoft.com/en-us/graph/api/event-update, "attendees property
        and meeting updates"); when the time changes every invitee must answer again.
        """
        if moved:
            event.meeting_round += 1
            event.attendees = [
                Attendee(
                    a.address,
                    a.name,
                    a.type,
                    self._invite(event.meeting_key, a.address, event.meeting_round, now),
                )
                for a in event.attendees
            ]
        if attendees is not None:
            current = {a.address.lower(): a.invite for a in event.attendees}
            event.attendees = [
                Attendee(
                    address,
                    name,
                    kind,
                    current.get(address.lower())
                    or self._invite(event.meeting_key, address, event.meeting_round, now),
                )
                for address, name, kind in attendees
            ]
            kept = {a.address.lower() for a in event.attendees}
            for address, copy_id in event.copies.items():
                if address not in kept:
                    self._cancel_copy(copy_id, now)
            event.copies = {a: c for a, c in event.copies.items() if a in kept}
        self._refresh_join_url(event, owner)
        for attendee in event.attendees:
            self._deliver(event, attendee, now)
        self._propagate(event, now)

    def _propagate(self, meeting: StoredEvent, now: datetime) -> None:
        invites = {a.address.lower(): a.invite for a in meeting.attendees}
        for address, copy_id in meeting.copies.items():
            invitee_copy = self._events.get(copy_id)
            if invitee_copy is None:
                continue
            for name in (*SHARED_FIELDS, "show_as"):
                setattr(invitee_copy, name, copy.deepcopy(getattr(meeting, name)))
            invitee_copy.attendees = copy.deepcopy(meeting.attendees)
            invitee_copy.my_invite = invites.get(address, invitee_copy.my_invite)
            self._touch(invitee_copy, now)

    def _cancel_copy(self, copy_id: str, now: datetime) -> None:
        invitee_copy = self._events.get(copy_id)
        if invitee_copy is None or invitee_copy.is_cancelled:
            return
        invitee_copy.is_cancelled = True
        # Outlook prefixes a cancelled meeting's subject in the attendee's calendar.
        invitee_copy.subject = f"Canceled: {invitee_copy.subject}"
        invitee_copy.show_as = "free"
        self._touch(invitee_copy, now)

    def _remove_meeting(self, event: StoredEvent, now: datetime) -> None:
        for copy_id in event.copies.values():
            self._cancel_copy(copy_id, now)
        self._drop(event)
