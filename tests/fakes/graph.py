"""MemoryGraph: the Graph calls syncd makes, answered from dictionaries.

Same signatures, return shapes (times in UTC, as with `Prefer: outlook.timezone="UTC"`)
and `SyncdError` codes as syncd.graph.GraphClient against Graph or the sandbox; the
contract suite (tests/contract) holds both to the same tests. What it keeps:

- one calendar per mailbox; an unknown address, or a user without a mailbox, answers
  MailboxNotFound; an unknown event MeetingNotFound;
- a POST repeating a transactionId answers the event it made (resources/event,
  transactionId); the single-value extended property is found by exact value;
- every write gives the event a new changeKey; PATCH changes only the given fields,
  attendees keep their answers unless the meeting moved; once online, always online;
- cancel (organizer only) and delete take the event out of the calendar;
- series masters expand into occurrences (see tests.fakes.recurrence for the patterns);
  PATCH on an occurrence id makes an exception, cancel/delete removes that occurrence;
- calendarView delta rounds with state tokens (tests.fakes.graph_delta).

Not modelled: invitees' own copies of a meeting (their free/busy does not show it),
paging, throttling and $batch envelopes. Test-side helpers (`respond`, `organizer_edit`,
`organizer_delete`, `organizer_cancel_occurrence`) play people acting in Outlook.
"""

from __future__ import annotations

import itertools
import threading
from collections.abc import Callable, Sequence
from datetime import UTC, date, datetime, timedelta
from typing import Any

from syncd.domain import ErrorCode, SyncdError, utc
from syncd.graph.batch import GraphResponse
from syncd.graph.delta import DeltaRequest, DeltaResult
from tests.fakes.faults import Faults, snapshot
from tests.fakes.graph_delta import DeltaLinks
from tests.fakes.graph_store import (
    INSTANCE_FIELDS,
    NULL_TIME,
    STAMP,
    Mailbox,
    Occurrence,
    StoredEvent,
    check_pattern,
    check_times,
    expand,
    graph_instant,
    missing_answer,
    narrow,
    no_schedule,
    parse_time,
    render,
    schedule_information,
    split_instance_id,
)


class MemoryGraph:
    """An in-memory Microsoft 365 tenant with the GraphClient methods syncd calls."""

    def __init__(self, clock: Callable[[], datetime], *, faults: Faults | None = None) -> None:
        """`clock`: () -> aware datetime, for createdDateTime and answers' times."""
        self.clock = clock
        self.faults = faults or Faults()
        self.users: dict[str, Mailbox] = {}
        self.cancellations: list[tuple[str, str, str]] = []  # (mailbox, event id, comment)
        #: every event a POST made (not the repeats it answered): (mailbox, id, transactionId)
        self.made: list[tuple[str, str, str | None]] = []
        self._events: dict[str, StoredEvent] = {}
        self._by_transaction: dict[tuple[str, str], str] = {}
        self._ids = itertools.count(1)
        self._lock = threading.RLock()
        #: calendarView delta state tokens; `delta.expire(mailbox)` plays Graph dropping them
        self.delta = DeltaLinks()

    # ----------------------------------------------------------- test side
    def add_user(
        self, address: str, *, time_zone: str = "Pacific Standard Time", has_mailbox: bool = True
    ) -> None:
        self.users[address.lower()] = Mailbox(address, time_zone, has_mailbox)

    def events(self, mailbox: str) -> list[dict[str, Any]]:
        """Every item of a calendar (series masters unexpanded), rendered, oldest first."""
        with self._lock:
            key = mailbox.lower()
            return [self._render(e) for e in self._events.values() if e.mailbox == key]

    def all_events(self) -> list[dict[str, Any]]:
        """Every item of every calendar with its mailbox and extended properties."""
        with self._lock:
            return [
                {**self._render(e, extended=True), "mailbox": e.mailbox}
                for e in self._events.values()
            ]

    def respond(self, mailbox: str, event_id: str, attendee: str, response: str) -> None:
        """An attendee answers (accepted, declined, tentativelyAccepted) at the clock's time."""
        with self._lock:
            event = self._event(mailbox, event_id, "answer")
            for item in event.attendees:
                if item["emailAddress"]["address"].lower() == attendee.lower():
                    item["status"] = {"response": response, "time": graph_instant(self.clock())}
                    return self._touch(event)
            raise KeyError(f"{attendee} is not invited to {event_id}")

    def organizer_edit(self, mailbox: str, event_id: str, changes: dict[str, Any]) -> None:
        """The organizer edits the meeting in Outlook (not through syncd: nothing recorded)."""
        with self._lock:
            self._patch(mailbox, event_id, snapshot(changes))

    def organizer_delete(self, mailbox: str, event_id: str) -> None:
        """The organizer deletes the meeting in Outlook (nothing recorded)."""
        with self._lock:
            self._event(mailbox, event_id, "delete")
            del self._events[event_id]

    def organizer_cancel_occurrence(self, mailbox: str, occurrence_id: str) -> None:
        """The organizer cancels (or deletes) one occurrence of a series in Outlook."""
        with self._lock:
            if split_instance_id(occurrence_id)[1] is None:
                raise KeyError(f"{occurrence_id} is not an occurrence id")
            self._remove(mailbox, occurrence_id, "cancel an occurrence")

    # --------------------------------------------------------- the port
    def create_event(
        self, mailbox: str, payload: dict, *, correlation_id: str | None = None
    ) -> dict:
        return self.faults.run(
            "create_event", mailbox, lambda: self._create(mailbox, payload), sent=payload
        )

    def find_event_by_property(
        self, mailbox: str, property_id: str, value: str, *, correlation_id: str | None = None
    ) -> dict | None:
        def find() -> dict | None:
            with self._lock:
                self._mailbox(mailbox, "find an event by its syncd key")
                found = [
                    e
                    for e in self._events.values()
                    if e.mailbox == mailbox.lower()
                    and e.extended.get(property_id.lower(), ("", None))[1] == value
                ]
                first = min(found, key=lambda e: e.created, default=None)
                return None if first is None else self._render(first, extended=True)

        return self.faults.run("find_event_by_property", mailbox, find)

    def get_event(
        self,
        mailbox: str,
        event_id: str,
        *,
        select: Sequence[str] | None = None,
        correlation_id: str | None = None,
    ) -> dict:
        def get() -> dict:
            with self._lock:
                return narrow(self._read(mailbox, event_id, f"read event {event_id}"), select)

        return self.faults.run("get_event", mailbox, get)

    def update_event(
        self, mailbox: str, event_id: str, changes: dict, *, correlation_id: str | None = None
    ) -> dict:
        def update() -> dict:
            with self._lock:
                return self._patch(mailbox, event_id, snapshot(changes))

        return self.faults.run(
            "update_event", mailbox, update, sent={"id": event_id, "body": changes}
        )

    def cancel_event(
        self, mailbox: str, event_id: str, comment: str, *, correlation_id: str | None = None
    ) -> None:
        def cancel() -> None:
            with self._lock:
                self._remove(mailbox, event_id, f"cancel event {event_id}")
                self.cancellations.append((mailbox.lower(), event_id, comment))

        self.faults.run("cancel_event", mailbox, cancel, sent={"id": event_id})

    def delete_event(
        self, mailbox: str, event_id: str, *, correlation_id: str | None = None
    ) -> None:
        def delete() -> None:
            with self._lock:
                self._remove(mailbox, event_id, f"delete event {event_id}")

        self.faults.run("delete_event", mailbox, delete, sent={"id": event_id})

    def calendar_view(
        self,
        mailbox: str,
        start: datetime,
        end: datetime,
        *,
        select: Sequence[str] | None = None,
        correlation_id: str | None = None,
    ) -> list[dict]:
        if utc(end) <= utc(start):
            raise SyncdError(
                ErrorCode.INVALID_REQUEST, f"calendar view ends before it starts: {start} .. {end}"
            )

        def view() -> list[dict]:
            with self._lock:
                self._mailbox(mailbox, f"read the calendar of {mailbox}")
                return [narrow(e, select) for e in self._between(mailbox, start, end)]

        return self.faults.run("calendar_view", mailbox, view)

    def list_instances(
        self,
        mailbox: str,
        event_id: str,
        start: datetime,
        end: datetime,
        *,
        select: Sequence[str] | None = None,
        correlation_id: str | None = None,
    ) -> list[dict]:
        def instances() -> list[dict]:
            with self._lock:
                master = self._event(mailbox, event_id, f"list instances of {event_id}")
                found = self._occurrences(master, utc(start), utc(end))
                return [narrow(e, select) for e in found]

        return self.faults.run("list_instances", mailbox, instances)

    def mailbox_time_zone(self, mailbox: str, *, correlation_id: str | None = None) -> str:
        def zone() -> str:
            with self._lock:
                return self._mailbox(mailbox, f"read the mailbox settings of {mailbox}").time_zone

        return self.faults.run("mailbox_time_zone", mailbox, zone)

    def get_events_batch(
        self,
        items: Sequence[tuple[str, str]],
        *,
        select: Sequence[str] | None = None,
        correlation_id: str | None = None,
    ) -> list[GraphResponse]:
        def batch() -> list[GraphResponse]:
            answers = []
            for mailbox, event_id in items:
                try:
                    with self._lock:
                        body = narrow(self._read(mailbox, event_id, "read an event"), select)
                except SyncdError as error:
                    answers.append(missing_answer(error))
                    continue
                answers.append(GraphResponse(200, body, {}))
            return answers

        target = items[0][0] if items else ""
        return self.faults.run("get_events_batch", target, batch)

    def calendar_view_delta(
        self, rounds: Sequence[DeltaRequest], *, correlation_id: str | None = None
    ) -> list[DeltaResult]:
        """One round per mailbox (see tests.fakes.graph_delta); a mailbox's failure is its
        result's `error`, the other rounds go on."""
        results = []
        for request in rounds:

            def one(request: DeltaRequest = request) -> DeltaResult:
                with self._lock:
                    self._mailbox(request.mailbox, f"read the changes of {request.mailbox}")
                    return self.delta.round(request, self._between, self._singles)

            try:
                results.append(self.faults.run("calendar_view_delta", request.mailbox, one))
            except SyncdError as error:
                results.append(DeltaResult(request.mailbox, error=error, requests=1))
        return results

    def get_schedule(
        self,
        mailbox: str,
        schedules: Sequence[str],
        start: datetime,
        end: datetime,
        *,
        interval_minutes: int = 30,
        correlation_id: str | None = None,
    ) -> list[dict]:
        if not 5 <= interval_minutes <= 1440:
            raise SyncdError(ErrorCode.INVALID_REQUEST, "interval_minutes must be within 5..1440")
        start, end = utc(start), utc(end)
        if end <= start:
            raise SyncdError(
                ErrorCode.INVALID_REQUEST,
                f"free/busy period ends before it starts: {start} .. {end}",
            )
        if not schedules:
            return []

        def schedule() -> list[dict]:
            with self._lock:
                self._mailbox(mailbox, "read free/busy")
                return [self._schedule(a, start, end, interval_minutes) for a in schedules]

        return self.faults.run("get_schedule", mailbox, schedule)

    # --------------------------------------------------------- internals
    def _mailbox(self, address: str, action: str) -> Mailbox:
        found = self.users.get(address.lower())
        if found is None or not found.has_mailbox:
            raise SyncdError(
                ErrorCode.MAILBOX_NOT_FOUND,
                f"Microsoft 365 has no mailbox {address} (while trying to {action}). "
                "Check the address and that the user has an Exchange Online licence.",
            )
        return found

    def _event(self, mailbox: str, event_id: str, action: str) -> StoredEvent:
        self._mailbox(mailbox, action)
        event = self._events.get(event_id)
        if event is None or event.mailbox != mailbox.lower():
            raise SyncdError(
                ErrorCode.MEETING_NOT_FOUND,
                f"The event is not in Outlook in mailbox {mailbox} (while trying to {action}). "
                "It may have been deleted in Outlook.",
            )
        return event

    def _touch(self, event: StoredEvent) -> None:
        event.modified = self.clock()
        event.change_key = f"CK{next(self._ids):06d}"

    def _create(self, mailbox: str, payload: dict) -> dict:
        with self._lock:
            owner = self._mailbox(mailbox, "create an event")
            body = snapshot(payload)
            transaction = body.pop("transactionId", None)
            known = self._by_transaction.get((owner.address.lower(), transaction or ""))
            if transaction and known in self._events:
                return self._render(self._events[known])  # the POST repeated: the same event
            start, zone = parse_time(body.pop("start", None), "start")
            end, _ = parse_time(body.pop("end", None), "end")
            check_times(start, end)
            if body.get("recurrence"):
                check_pattern(body["recurrence"])
            now = self.clock()
            event = StoredEvent(
                id=f"AAMkAD{next(self._ids):08d}AAA=",
                mailbox=owner.address.lower(),
                start=start,
                end=end,
                zone=zone,
                created=now,
                modified=now,
                change_key=f"CK{next(self._ids):06d}",
                fields={},
                transaction_id=transaction,
            )
            self._apply(event, body)
            self._events[event.id] = event
            self.made.append((event.mailbox, event.id, transaction))
            if transaction:
                self._by_transaction[(event.mailbox, transaction)] = event.id
            return self._render(event)

    def _apply(self, event: StoredEvent, body: dict[str, Any]) -> None:
        for prop in body.pop("singleValueExtendedProperties", None) or []:
            event.extended[str(prop["id"]).lower()] = (str(prop["id"]), str(prop["value"]))
        if "attendees" in body:
            answers = {a["emailAddress"]["address"].lower(): a["status"] for a in event.attendees}
            event.attendees = [
                {
                    "type": a.get("type", "required"),
                    "status": answers.get(
                        a["emailAddress"]["address"].lower(),
                        {"response": "none", "time": NULL_TIME},
                    ),
                    "emailAddress": {
                        "name": a["emailAddress"].get("name") or a["emailAddress"]["address"],
                        "address": a["emailAddress"]["address"],
                    },
                }
                for a in body.pop("attendees") or []
            ]
        if event.fields.get("isOnlineMeeting"):
            # "Subsequently, you can't change the isOnlineMeeting property, and the meeting
            # remains available online" (https://learn.microsoft.com/graph/api/resources/event).
            body.pop("isOnlineMeeting", None)
            body.pop("onlineMeetingProvider", None)
        event.fields.update(body)

    def _patch(self, mailbox: str, event_id: str, changes: dict[str, Any]) -> dict:
        master_id, stamp = split_instance_id(event_id)
        if stamp is not None:
            return self._patch_occurrence(mailbox, master_id, stamp, changes)
        event = self._event(mailbox, event_id, f"update event {event_id}")
        if "transactionId" in changes and changes.pop("transactionId") != event.transaction_id:
            raise SyncdError(ErrorCode.INVALID_REQUEST, "a transactionId cannot be changed")
        start, zone = (
            parse_time(changes.pop("start"), "start")
            if "start" in changes
            else (event.start, event.zone)
        )
        end = parse_time(changes.pop("end"), "end")[0] if "end" in changes else event.end
        check_times(start, end)
        if changes.get("recurrence"):
            check_pattern(changes["recurrence"])
        if (start, end) != (event.start, event.end):
            # A moved meeting asks every attendee again (event-update, meeting updates).
            for item in event.attendees:
                item["status"] = {"response": "none", "time": NULL_TIME}
        event.start, event.end, event.zone = start, end, zone
        self._apply(event, changes)
        self._touch(event)
        return self._render(event)

    def _patch_occurrence(self, mailbox: str, master_id: str, stamp: str, changes: dict) -> dict:
        master, instance = self._instance(mailbox, master_id, stamp, "update an occurrence")
        overrides = dict(master.exceptions.get(stamp, {}))
        for name in INSTANCE_FIELDS:
            if name in changes:
                value = changes[name]
                overrides[name] = parse_time(value, name)[0] if name in ("start", "end") else value
        if overrides.get("end", instance.end) < overrides.get("start", instance.start):
            raise SyncdError(ErrorCode.INVALID_REQUEST, "the end must not be before the start")
        master.exceptions[stamp] = overrides
        self._touch(master)
        return self._instance(mailbox, master_id, stamp, "read an occurrence")[1].rendered

    def _remove(self, mailbox: str, event_id: str, action: str) -> None:
        master_id, stamp = split_instance_id(event_id)
        if stamp is not None:
            master, _ = self._instance(mailbox, master_id, stamp, action)
            master.cancelled.add(stamp)
            master.exceptions.pop(stamp, None)
            self._touch(master)
            return
        self._event(mailbox, event_id, action)
        del self._events[event_id]

    def _read(self, mailbox: str, event_id: str, action: str) -> dict:
        master_id, stamp = split_instance_id(event_id)
        if stamp is not None:
            return self._instance(mailbox, master_id, stamp, action)[1].rendered
        return self._render(self._event(mailbox, event_id, action))

    def _instance(
        self, mailbox: str, master_id: str, stamp: str, action: str
    ) -> tuple[StoredEvent, Occurrence]:
        master = self._event(mailbox, master_id, action)
        original = datetime.strptime(stamp, STAMP).replace(tzinfo=UTC)
        for item in self._expand(master, original.date() + timedelta(days=1)):
            if item.original == original:
                return master, item
        raise SyncdError(
            ErrorCode.MEETING_NOT_FOUND,
            f"The event is not in Outlook in mailbox {mailbox} (while trying to {action}). "
            "It may have been deleted in Outlook.",
        )

    def _expand(self, master: StoredEvent, horizon: date) -> list[Occurrence]:
        """Every occurrence up to `horizon` (original dates), exceptions applied."""
        return expand(master, horizon, self._render(master))

    def _occurrences(self, master: StoredEvent, start: datetime, end: datetime) -> list[dict]:
        # An exception may have moved away from its slot: look a month further for it.
        items = self._expand(master, (end + timedelta(days=32)).date())
        return [i.rendered for i in items if i.start < end and i.end > start]

    def _between(self, mailbox: str, start: datetime, end: datetime) -> list[dict]:
        start, end = utc(start), utc(end)
        found: list[tuple[datetime, dict]] = []
        for event in list(self._events.values()):
            if event.mailbox != mailbox.lower():
                continue
            if event.fields.get("recurrence"):
                found.extend(
                    (parse_time(i["start"], "start")[0], i)
                    for i in self._occurrences(event, start, end)
                )
            elif event.start < end and event.end > start:
                found.append((event.start, self._render(event)))
        return [item for _, item in sorted(found, key=lambda pair: pair[0])]

    def _singles(self, mailbox: str) -> dict[str, str]:
        mine = (e for e in self._events.values() if e.mailbox == mailbox.lower())
        return {e.id: e.change_key for e in mine if not e.fields.get("recurrence")}

    def _schedule(self, address: str, start: datetime, end: datetime, interval: int) -> dict:
        user = self.users.get(address.lower())
        if user is None or not user.has_mailbox:
            return no_schedule(address, user is not None)
        events = self._between(user.address, start, end)
        return schedule_information(address, events, start, end, interval)

    def _render(self, event: StoredEvent, *, extended: bool = False) -> dict[str, Any]:
        return render(event, self.users[event.mailbox].address, extended=extended)
