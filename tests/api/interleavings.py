"""POST, PATCH, DELETE and GET of one meeting sent overlapping, and the check of the outcome.

Each scenario sends the four requests for one meeting id in a given order, each started
while the one before is still in flight (Graph is slowed down by the sandbox's latency).
The answers are then checked for linearizability against a model of one meeting: some
order of the four operations must exist that (a) respects real time (a request answered
before another was sent comes first), (b) gives each request the answer it got, and
(c) leaves the meeting as Outlook (the sandbox calendars, read directly) and the ledger
hold it. A GET that brought a cancelled meeting back, or a create that landed after the
DELETE that was answered, has no such order.

Besides, no attendee may hold more invitations than creates took effect (one POST: one).
"""

from __future__ import annotations

import itertools
import json
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import httpx
from sqlalchemy import Engine
from sqlmodel import Session, select

from syncd.core import event_mapping as em
from syncd.ledger.models import MeetingRecord
from syncd.sandbox.server import RunningSandbox

MEETING = "/api/salesforce/scheduler/meeting"
OPERATIONS = ("POST", "PATCH", "DELETE", "GET")
ORDERS: list[tuple[str, ...]] = list(itertools.permutations(OPERATIONS))
TENANT = "demo"

#: Model states: absent (never made), live (with its subject), cancelled.
State = tuple[str, str | None]
ABSENT: State = ("absent", None)


@dataclass
class Answer:
    """One request of a scenario as the client saw it (monotonic times of this process)."""

    operation: str
    sent_at: float
    answered_at: float
    status: int
    body: dict[str, Any]


@dataclass
class Scenario:
    """One meeting id and the order its four requests are sent in."""

    order: tuple[str, ...]
    organizer: str
    attendee: str
    meeting_id: str = field(default_factory=lambda: f"race-{uuid.uuid4()}")
    answers: list[Answer] = field(default_factory=list)

    @property
    def subject(self) -> str:
        return f"Race {self.meeting_id}"

    @property
    def moved_subject(self) -> str:
        return f"{self.subject} (moved)"

    def body_of(self, operation: str) -> dict[str, Any]:
        ref = {"id": self.meeting_id, "organizerEmail": self.organizer}
        if operation == "POST":
            return {
                **ref,
                "subject": self.subject,
                "body": "agenda",
                "location": "Room 1",
                "startTime": "2031-09-01T09:00:00Z",
                "endTime": "2031-09-01T10:00:00Z",
                "attendees": [{"email": self.attendee, "isRequired": "true"}],
            }
        if operation == "PATCH":
            return {**ref, "subject": self.moved_subject}
        return ref


Sender = Callable[[int, str, dict[str, Any]], httpx.Response]


def http_sender(clients: Sequence[httpx.Client]) -> Sender:
    """Send request number i of a scenario through clients[i % len(clients)] (one API
    process each, so consecutive requests of a scenario reach different processes)."""

    def send(index: int, operation: str, body: dict[str, Any]) -> httpx.Response:
        client = clients[index % len(clients)]
        if operation == "GET":
            return client.get(MEETING, params=body)
        return client.request(operation, MEETING, content=json.dumps(body).encode())

    return send


def run(scenario: Scenario, send: Sender, stagger: float) -> None:
    """Send the scenario's requests, each `stagger` seconds after the one before
    (while it is still in flight), and wait for all answers."""
    lock = threading.Lock()

    def one(index: int, operation: str) -> None:
        sent_at = time.monotonic()
        response = send(index, operation, scenario.body_of(operation))
        answered_at = time.monotonic()
        try:
            body = response.json()
        except ValueError:
            body = {"raw": response.text}
        with lock:
            scenario.answers.append(
                Answer(operation, sent_at, answered_at, response.status_code, body)
            )

    threads = []
    for index, operation in enumerate(scenario.order):
        if index:
            time.sleep(stagger)
        thread = threading.Thread(target=one, args=(index, operation), daemon=True)
        thread.start()
        threads.append(thread)
    for thread in threads:
        thread.join(120)
        assert not thread.is_alive(), f"{scenario.order}: a request did not finish"


def run_all(scenarios: Sequence[Scenario], send: Sender, stagger: float) -> None:
    """All scenarios side by side (each has its own meeting and organizer)."""
    with ThreadPoolExecutor(len(scenarios), thread_name_prefix="race") as pool:
        for done in [pool.submit(run, s, send, stagger) for s in scenarios]:
            done.result()


# ------------------------------------------------------------------- the model


def _apply(scenario: Scenario, state: State, operation: str) -> tuple[State, int, str | None]:
    """(next state, expected status, expected GET subject) of `operation` on `state`."""
    kind, subject = state
    live = kind == "live"
    if operation == "POST":
        if not live:
            return ("live", scenario.subject), 200, None
        return state, (200 if subject == scenario.subject else 409), None
    if operation == "PATCH":
        return (("live", scenario.moved_subject), 200, None) if live else (state, 404, None)
    if operation == "DELETE":
        return (("cancelled", None), 200, None) if live else (state, 404, None)
    return state, (200 if live else 404), subject


def linearizations(scenario: Scenario) -> list[tuple[tuple[str, ...], State, int]]:
    """Every order of the answered requests consistent with real time and with each
    answer: (order, final state, creates that took effect)."""
    answers = {a.operation: a for a in scenario.answers}
    found = []
    for order in itertools.permutations(answers):
        position = {op: i for i, op in enumerate(order)}
        if any(
            answers[a].answered_at < answers[b].sent_at and position[a] > position[b]
            for a in answers
            for b in answers
        ):
            continue
        state, creates, consistent = ABSENT, 0, True
        for operation in order:
            before = state
            state, status, subject = _apply(scenario, state, operation)
            answer = answers[operation]
            if answer.status != status or (
                operation == "GET" and status == 200 and answer.body.get("subject") != subject
            ):
                consistent = False
                break
            if operation == "POST" and before[0] != "live":
                creates += 1
        if consistent:
            found.append((order, state, creates))
    return found


# --------------------------------------------------------------- what is true


def outlook_state(sandbox: RunningSandbox, scenario: Scenario) -> tuple[State, int]:
    """(the meeting as the organizer's calendar holds it, invitations the attendee holds)."""
    directory = sandbox.directory
    organizer = directory.find_by_email(scenario.organizer)
    attendee = directory.find_by_email(scenario.attendee)
    key = em.external_key(TENANT, "api", scenario.meeting_id)
    live = sandbox.calendars.events(
        organizer.id, lambda e: e.is_organizer and key in e.extended.values()
    )
    # Invitee copies carry the meeting key of the create (its transactionId).
    creates = {em.transaction_id(TENANT, "api", scenario.meeting_id, g) for g in range(4)}
    copies = sandbox.calendars.events(attendee.id, lambda e: e.meeting_key in creates)
    live_copies = [c for c in copies if not c.is_cancelled]
    assert len(live) <= 1, f"{len(live)} meetings in Outlook for {scenario.meeting_id}"
    assert len(live_copies) == len(live), (
        f"the attendee holds {len(live_copies)} live invitations for {len(live)} meetings"
    )
    state: State = ("live", live[0].subject) if live else ("gone", None)
    return state, len(copies)


def ledger_state(engine: Engine, scenario: Scenario) -> State:
    with Session(engine) as session:
        record = session.exec(
            select(MeetingRecord).where(
                MeetingRecord.tenant == TENANT,
                MeetingRecord.source == "api",
                MeetingRecord.external_id == scenario.meeting_id,
            )
        ).first()
    if record is None:
        return ("gone", None)
    if record.status == "cancelled":
        return ("gone", None)
    assert record.intent is None and record.status == "synced", (
        f"ledger row of {scenario.meeting_id}: status {record.status}, intent {record.intent}"
    )
    return ("live", record.request.get("subject"))


def _visible(state: State) -> State:
    """What Outlook can show of a model state: absent and cancelled both look gone."""
    return state if state[0] == "live" else ("gone", None)


def check(scenario: Scenario, sandbox: RunningSandbox, engine: Engine) -> str:
    """Fail unless the scenario's answers, Outlook and the ledger agree; returns the
    order found (for the failure message of the caller, and for figures)."""
    story = ", ".join(
        f"{a.operation} {a.status}" for a in sorted(scenario.answers, key=lambda a: a.answered_at)
    )
    unexpected = [a for a in scenario.answers if a.status not in (200, 404, 409)]
    assert not unexpected, f"{scenario.order}: unexpected answers {story}: {unexpected}"
    outlook, invitations = outlook_state(sandbox, scenario)
    ledger = ledger_state(engine, scenario)
    orders = linearizations(scenario)
    assert orders, f"sent {scenario.order}, answered (in answer order) {story}: no order fits"
    fitting = [
        (order, creates) for order, final, creates in orders if _visible(final) == outlook == ledger
    ]
    assert fitting, (
        f"sent {scenario.order}, answered {story}; Outlook holds {outlook}, the ledger "
        f"{ledger}; the answers allow only {sorted({_visible(f) for _, f, _ in orders})}"
    )
    assert invitations <= max(creates for _, creates in fitting), (
        f"sent {scenario.order}, answered {story}: the attendee got {invitations} invitations"
    )
    return " ".join(fitting[0][0])


def scenarios_for(users: Sequence[str], orders: Iterable[tuple[str, ...]]) -> list[Scenario]:
    """One scenario per order, the organizers taken in turn (Outlook allows 4 requests in
    flight per mailbox: one organizer for all would queue the scenarios behind each other);
    the last user is everyone's attendee."""
    organizers, attendee = list(users[:-1]), users[-1]
    return [
        Scenario(order, organizer=organizers[i % len(organizers)], attendee=attendee)
        for i, order in enumerate(orders)
    ]
