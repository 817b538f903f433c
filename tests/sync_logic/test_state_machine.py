"""A hypothesis state machine over the sync: random edits on both sides, crashes, passes.

Salesforce side: Events created, edited (subject, time, owner), invitees added and
removed, Events deleted. Outlook side: attendees answer; the organizer edits a synced
meeting's subject or deletes it. Crashes: the process dies (an exception no handler
catches) just before or just after a Graph write, and a new process resumes the open
intents. After every pass the promises syncd makes today are checked:

1. every live Event has exactly one live Outlook meeting, in its owner's calendar,
   carrying its key, with Salesforce's times and invitees, its Outlook id and "Synced"
   written back; an Event whose meeting the organizer deleted in Outlook has at most
   one (syncd does not watch Outlook yet, so it is not made again by itself);
2. a deleted Event has no live meeting;
3. every ledger row marked synced points at an event that exists (unless the organizer
   deleted it in Outlook);
4. no two events Graph made share a transactionId;
5. the subject is Salesforce's unless the organizer changed it in Outlook after
   Salesforce's last subject edit (Salesforce's next edit wins);
6. after a response refresh, the ledger holds Outlook's answers and the Event's
   responses summary says them (none is written while nobody has answered);
7. a second pass and refresh with no edits in between write nothing to Graph or
   Salesforce (a failed update, e.g. of a meeting the organizer deleted in Outlook,
   waits out its back-off).
"""

from __future__ import annotations

import contextlib
from collections import Counter
from dataclasses import dataclass
from datetime import timedelta

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import Bundle, RuleBasedStateMachine, invariant, rule

from syncd.core import event_mapping as em
from syncd.domain import MeetingStatus, Source
from syncd.sync.writeback import responses_summary
from tests.fakes import FakeWorld, build_world
from tests.fakes.world import (
    COLLEAGUE,
    GRAPH_WRITES,
    ORGANIZER,
    OTHER_COLLEAGUE,
    OTHER_ORGANIZER,
    TENANT,
)

INVITEES = (COLLEAGUE, OTHER_COLLEAGUE)
SUBJECTS = ("Pipeline review", "Renewal", "Kick-off", "QBR")


class Crash(BaseException):
    """The process dies here: no `except Exception` in syncd stops it."""


@dataclass
class Seen:
    """What the test knows of one Event beyond what Salesforce holds."""

    deleted: bool = False
    outlook_subject: bool = False  # the organizer changed the subject in Outlook since
    outlook_gone: bool = False  # the organizer deleted the meeting in Outlook


class SyncMachine(RuleBasedStateMachine):
    events = Bundle("events")

    def __init__(self) -> None:
        super().__init__()
        # One worker: a crash stops the pass at one exact write, as a dying process does.
        self.world: FakeWorld = build_world(workers=1)
        self.seen: dict[str, Seen] = {}
        #: Outlook ids of meetings the organizer deleted in Outlook
        self.gone_in_outlook: set[str] = set()

    # ------------------------------------------------------------ Salesforce
    @rule(
        target=events,
        days=st.integers(1, 20),
        hour=st.integers(8, 17),
        invitees=st.sets(st.sampled_from(INVITEES), max_size=2),
    )
    def create_event(self, days: int, hour: int, invitees: set[str]) -> str:
        start = self.world.meeting_start(days=days, hour=hour)
        event_id = self.world.create_event(start=start, invitees=sorted(invitees))
        self.seen[event_id] = Seen()
        self.world.advance(1)
        return event_id

    @rule(event=events, subject=st.sampled_from(SUBJECTS))
    def edit_subject(self, event: str, subject: str) -> None:
        if self._live(event):
            self.world.org.update_event(event, Subject=subject)
            self.seen[event].outlook_subject = False
            self.world.advance(1)

    @rule(event=events, hours=st.integers(1, 72))
    def move(self, event: str, hours: int) -> None:
        if self._live(event):
            start = self.world.org.record(event)["StartDateTime"] + timedelta(hours=hours)
            self.world.org.update_event(
                event, StartDateTime=start, EndDateTime=start + timedelta(minutes=45)
            )
            self.world.advance(1)

    @rule(event=events, person=st.sampled_from(INVITEES))
    def toggle_invitee(self, event: str, person: str) -> None:
        if not self._live(event):
            return
        invited = {r["RelationId"] for r in self.world.org.invitees(event)}
        if self.world.user_ids[person] in invited:
            self.world.org.uninvite(event, person)
        else:
            self.world.org.invite(event, person)
        self.world.advance(1)

    @rule(event=events)
    def change_owner(self, event: str) -> None:
        if not self._live(event):
            return
        owner = self._owner(event)
        new = OTHER_ORGANIZER if owner == ORGANIZER else ORGANIZER
        self.world.org.update_event(event, OwnerId=self.world.user_ids[new])
        # The meeting is made afresh in the new owner's calendar, with Salesforce's subject.
        self.seen[event].outlook_subject = False
        self.world.advance(1)

    @rule(event=events)
    def delete_event(self, event: str) -> None:
        if self._live(event):
            self.world.org.delete_event(event)
            self.seen[event].deleted = True
            self.world.advance(1)

    # --------------------------------------------------------------- Outlook
    @rule(event=events)
    def organizer_edits_in_outlook(self, event: str) -> None:
        found = self._meeting(event)
        if found is not None and self._live(event):
            self.world.graph.organizer_edit(found["mailbox"], found["id"], {"subject": "Mine now"})
            self.seen[event].outlook_subject = True

    @rule(
        event=events,
        person=st.sampled_from(INVITEES),
        answer=st.sampled_from(["accepted", "declined", "tentativelyAccepted"]),
    )
    def attendee_answers(self, event: str, person: str, answer: str) -> None:
        found = self._meeting(event)
        invited = {a["emailAddress"]["address"] for a in (found or {}).get("attendees", [])}
        if found is not None and person in invited:
            self.world.graph.respond(found["mailbox"], found["id"], person, answer)

    @rule(event=events)
    def organizer_deletes_in_outlook(self, event: str) -> None:
        found = self._meeting(event)
        if found is not None and self._live(event):
            self.world.graph.organizer_delete(found["mailbox"], found["id"])
            self.seen[event].outlook_gone = True
            self.gone_in_outlook.add(found["id"])

    # ---------------------------------------------------------------- passes
    @rule(method=st.sampled_from(GRAPH_WRITES), after=st.booleans())
    def crash_then_resume(self, method: str, after: bool) -> None:
        faults = self.world.graph.faults
        (faults.fail_after if after else faults.fail_before)(method, Crash(method))
        self.world.advance(61)
        with contextlib.suppress(Crash):
            self.world.service.poll()
        faults.clear()
        self.world.restart()

    @rule()
    def sync(self) -> None:
        self.world.advance(61)  # getDeleted covers whole minutes
        self.world.service.poll()
        self.world.service.refresh_responses()
        self.check_promises()
        graph_mark = len(self.world.graph.faults.calls)
        salesforce_mark = len(self.world.salesforce.faults.calls)

        self.world.service.poll()
        self.world.service.refresh_responses()

        graph_writes = [
            c for c in self.world.graph.faults.calls[graph_mark:] if c.method in GRAPH_WRITES
        ]
        assert graph_writes == [], "an idle pass wrote to Graph"
        salesforce_writes = [
            record
            for c in self.world.salesforce.faults.calls[salesforce_mark:]
            if c.method == "update_records"
            for record in c.sent
        ]
        assert salesforce_writes == [], "an idle pass wrote to Salesforce"

    # ------------------------------------------------------------ promises
    @invariant()
    def no_transaction_id_twice(self) -> None:
        made = [txn for _, _, txn in self.world.graph.made]
        assert all(made), "a create without a transactionId"
        assert [t for t, n in Counter(made).items() if n > 1] == []

    def check_promises(self) -> None:
        meetings: dict[str, list[dict]] = {}
        for event in self.world.graph.all_events():
            for prop in event.get("singleValueExtendedProperties") or []:
                external = prop["value"].rsplit(":", 1)[-1]
                meetings.setdefault(external, []).append(event)
        for event_id, seen in self.seen.items():
            live = meetings.get(event_id, [])
            if seen.deleted:
                assert live == [], f"deleted Event {event_id} still has {len(live)} meeting(s)"
            elif seen.outlook_gone:
                assert len(live) <= 1, f"Event {event_id} has {len(live)} meetings"
            else:
                assert len(live) == 1, f"Event {event_id} has {len(live)} meetings"
                self._matches(event_id, live[0], seen)
        for row in self.world.records():
            assert row.tenant == TENANT and row.source == Source.SALESFORCE.value
            seen = self.seen[row.external_id]
            if row.status == MeetingStatus.SYNCED and not seen.outlook_gone:
                found = [e for e in meetings.get(row.external_id, []) if not seen.deleted]
                assert [e["id"] for e in found] == [row.graph_event_id]

    def _matches(self, event_id: str, meeting: dict, seen: Seen) -> None:
        salesforce = self.world.org.record(event_id)
        assert meeting["mailbox"] == self._owner(event_id)
        assert em.parse_graph_time(meeting["start"]) == salesforce["StartDateTime"]
        assert em.parse_graph_time(meeting["end"]) == salesforce["EndDateTime"]
        invited = {
            self.world.org.record(r["RelationId"])["Email"]
            for r in self.world.org.invitees(event_id)
            if r["IsInvitee"]
        }
        assert {a["emailAddress"]["address"] for a in meeting["attendees"]} == invited
        if not seen.outlook_subject:
            assert meeting["subject"] == salesforce["Subject"]
        assert salesforce["Outlook_Event_Id__c"] == meeting["id"]
        assert salesforce["Sync_Status__c"] == "Synced"
        answers = em.attendee_responses(meeting)
        record = self.world.record(event_id)
        assert record is not None and record.responses == answers
        # Written once answers change: a meeting nobody answered yet may have none.
        summary = salesforce["Responses_Summary__c"]
        unanswered = all(a["response"] == "NoResponseReceived" for a in answers.values())
        assert summary == responses_summary(answers) or (summary is None and unanswered)

    # --------------------------------------------------------------- helpers
    def _live(self, event: str) -> bool:
        return not self.seen[event].deleted

    def _owner(self, event: str) -> str:
        owner_id = self.world.org.record(event)["OwnerId"]
        return str(self.world.org.record(owner_id)["Email"])

    def _meeting(self, event: str) -> dict | None:
        record = self.world.record(event)
        if record is None or record.status != MeetingStatus.SYNCED:
            return None
        mailbox = record.organizer_email.lower()
        return next(
            (e for e in self.world.graph.all_events() if e["id"] == record.graph_event_id
             and e["mailbox"] == mailbox),
            None,
        )  # fmt: skip


SyncMachine.TestCase.settings = settings(
    derandomize=True,
    max_examples=8,
    stateful_step_count=15,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
TestSyncStateMachine = SyncMachine.TestCase
