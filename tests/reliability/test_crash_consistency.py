"""Crash consistency: `syncd` killed with SIGKILL at random (seeded) moments, again and
again, while it syncs a few thousand Events that people keep editing and deleting;
restarted each time; then Outlook must match Salesforce exactly.

The kills land anywhere: between the ledger's intent and the Graph call, between the
Graph call and the ledger's completion, between a page's Graph writes and its
write-back to Salesforce, inside the response refresh. Nothing may come of it: no
duplicate meeting, no missing one, no field left behind, no write-back lost.
"""

from __future__ import annotations

import contextlib
import json
import random
import signal
import subprocess
import threading
import time
from collections.abc import Callable
from typing import IO

import requests
from sqlmodel import Session, select

from syncd.core.event_mapping import external_key
from syncd.domain import Source
from syncd.ledger.db import make_engine
from syncd.ledger.models import DeltaLink, MeetingRecord
from syncd.sandbox.microsoft.calendar import StoredEvent
from tests.reliability.checker import check
from tests.reliability.outlook_checks import WriteLogs, check_outlook_changes
from tests.reliability.outlook_editor import OutlookEditor
from tests.reliability.world import TENANT, Editor, World
from tests.support import free_port, wait_until

#: Events in the org when the first process starts.
EVENTS = 2000
#: Processes started and SIGKILLed (alternately `syncd reconcile` and `syncd run`).
KILLS = 10
SEED = 4


def test_sigkill_during_sync_loses_nothing(make_world: Callable[..., World]) -> None:
    world = make_world(EVENTS)
    rng = random.Random(SEED)
    editor = Editor(world.org, world.sandbox, seed=SEED)
    started = time.monotonic()
    killed, finished, intents_left = 0, 0, []
    for attempt in range(KILLS):
        args = ("reconcile",) if attempt % 2 == 0 else ("run",)
        editor.apply(rng.randrange(5, 20))
        # The kill lands 0.5-3 s after the run's first Graph write: among its writes,
        # whatever the machine's load did to its start-up.
        status = world.run_then_kill(
            args,
            rng.uniform(0.5, 3.0),
            name=f"{attempt:02d}-{args[0]}",
            meanwhile=lambda: editor.apply(rng.randrange(5, 20)),
            after_first_write=True,
        )
        if status is None:
            killed += 1
            intents_left.append(world.unfinished_intents())
        else:
            finished += 1
            assert status in (0, 1), world.logs[-1].read_text()[-3000:]

    world.let_a_minute_pass()
    settled = time.monotonic()
    last = world.syncd("reconcile")
    elapsed, final = time.monotonic() - started, time.monotonic() - settled
    # Exit 1: the Events of owners without a mailbox fail, by design (and say so).
    assert last.returncode in (0, 1), last.stderr[-3000:]
    assert "Traceback" not in last.stderr, last.stderr[-3000:]

    report = check(world.sandbox, TENANT)
    print(
        f"\ncrash consistency: {EVENTS} Events, edits {editor.done.counts} "
        f"({editor.done.total}), {killed} SIGKILLs ({finished} runs ended first), "
        f"unfinished Graph writes left by the kills {intents_left}, {elapsed:.0f} s "
        f"(last pass {final:.0f} s); "
        f"end state: {report.counts()} over {report.valid} valid Events, "
        f"{report.meetings} meetings"
    )
    assert report.ok, report.summary()
    assert report.valid > EVENTS * 0.8
    # A run that died of its own (not of the SIGKILL) would be a silent failure.
    crashed = [log.name for log in world.logs if "Traceback" in log.read_text()]
    assert crashed == [], crashed
    # The harness must have hit syncd mid-write, or it proved nothing.
    assert killed >= KILLS // 2, f"only {killed} of {KILLS} runs were killed"
    assert any(intents_left), f"no kill left an unfinished write: {intents_left}"


# ------------------------------------------------------- changes made in Outlook

#: Events in the org, meetings the organizers change in Outlook, processes killed.
OUTLOOK_EVENTS = 400
OUTLOOK_MEETINGS = 40
OUTLOOK_KILLS = 8


def test_sigkill_while_organizers_change_meetings_in_outlook(
    make_world: Callable[..., World],
) -> None:
    """Organizers move, edit, delete and cancel synced meetings in Outlook before and
    during runs that are SIGKILLed, while people keep editing other Events in
    Salesforce. Under two_way each Outlook change reaches its Event once: the Event
    ends with Outlook's values (one write of its fields per change at most), Outlook
    keeps them (no echo PATCH), a removed meeting is marked and stays gone, the history
    holds each change once; and everything else still matches exactly."""
    world = make_world(OUTLOOK_EVENTS, outlook_changes="two_way")
    first = world.syncd("reconcile")
    assert first.returncode in (0, 1), first.stderr[-3000:]
    rng = random.Random(SEED)
    outlook = OutlookEditor(world, seed=SEED, meetings=OUTLOOK_MEETINGS)
    editor = Editor(world.org, world.sandbox, seed=SEED, spare=outlook.reserved)
    killed, finished = 0, 0
    with WriteLogs(world.sandbox, TENANT) as logs:
        try:
            outlook.apply(rng.randrange(4, 8))
            for attempt in range(OUTLOOK_KILLS):
                args = ("reconcile",) if attempt % 2 == 0 else ("run",)
                editor.apply(rng.randrange(3, 10))

                def meanwhile() -> None:
                    editor.apply(rng.randrange(3, 10))
                    outlook.apply(rng.randrange(2, 6))

                status = world.run_then_kill(
                    args,
                    rng.uniform(0.5, 3.0),
                    name=f"outlook-{attempt:02d}-{args[0]}",
                    meanwhile=meanwhile,
                    after_first_write=True,
                )
                if status is None:
                    killed += 1
                else:
                    finished += 1
                    assert status in (0, 1), world.logs[-1].read_text()[-3000:]
            world.let_a_minute_pass()
            # The last pass applies what is left; the one after it must find nothing to
            # do in Outlook, the Events the sweep wrote included (no echo).
            for name in ("last", "after"):
                done = world.syncd("reconcile")
                assert done.returncode in (0, 1), f"{name}: {done.stderr[-3000:]}"
                assert "Traceback" not in done.stderr, done.stderr[-3000:]
        finally:
            outlook.close()
        engine = make_engine(world.config().database_url)
        try:
            changed = check_outlook_changes(
                world.sandbox, TENANT, outlook.changes, outlook.targets, logs, engine
            )
        finally:
            engine.dispose()

    report = check(world.sandbox, TENANT, removed_in_outlook=outlook.removed)
    print(
        f"\ncrash consistency with Outlook changes: {OUTLOOK_EVENTS} Events, Salesforce "
        f"edits {editor.done.counts}, Outlook changes {outlook.counts()}, {killed} SIGKILLs "
        f"({finished} runs ended first); end state {report.counts()}, Outlook changes "
        f"{changed.counts()}; syncd's Graph writes {len(logs.graph)}, Salesforce record "
        f"writes {len(logs.salesforce)}"
    )
    # Every promise: no write Outlook did not need (`echoes`: a poll page read before the
    # sweep wrote an Event is not PATCHed back), a meeting deleted in Outlook keeps its
    # "Deleted in Outlook" status (`unmarked`), and the rest.
    assert report.ok and changed.ok, (
        f"{report.summary()}\n{changed.summary()}\n{_ledger_of(world, report.responses)}"
    )
    assert changed.changes >= OUTLOOK_KILLS, changed.summary()
    crashed = [log.name for log in world.logs if "Traceback" in log.read_text()]
    assert crashed == [], crashed
    assert killed >= OUTLOOK_KILLS // 2, f"only {killed} of {OUTLOOK_KILLS} runs were killed"


# ---------------------------------------------------------------- the API process

API = "/api/salesforce/scheduler"
CREATE_ROUTE = "/users/{user}/events"


def test_api_killed_during_the_graph_post_makes_one_meeting(
    make_world: Callable[..., World],
) -> None:
    """SIGKILL `syncd serve` while its POST to Graph is in flight (Graph is slow), so
    the event is created with nobody left to hear about it; restart; the client
    retries with the same id, after Graph has stopped deduplicating that POST's
    transactionId: still exactly one meeting in Outlook, and the API reports it."""
    world = make_world(0)
    minted = world.syncd("clients", "create", "--tenant", TENANT, "--json")
    assert minted.returncode == 0, minted.stderr
    client = json.loads(minted.stdout)
    organizer, colleague = mailbox_users(world)[:2]
    meeting = {
        "id": "opp-7-kickoff",
        "organizerEmail": organizer,
        "subject": "Kick-off",
        "body": "Scope and dates.",
        "location": "MS Teams",
        "startTime": "2031-03-04T09:00:00Z",
        "endTime": "2031-03-04T10:00:00Z",
        "attendees": [{"email": colleague, "isRequired": "true"}],
    }

    url, process, log = serve(world, "api-1")
    session = authorized(url, client)
    world.sandbox.faults.configure(latency_seconds=2.0)
    posted = threading.Thread(
        target=lambda: _swallow(
            lambda: session.post(f"{url}{API}/meeting", json=meeting, timeout=30)
        ),
        daemon=True,
    )
    posted.start()
    wait_until(
        lambda: world.sandbox.counters.requests("POST", CREATE_ROUTE),
        "the API's POST to reach Graph",
    )
    process.send_signal(signal.SIGKILL)
    process.wait(timeout=30)
    log.close()
    posted.join(timeout=30)
    # The sandbox finishes the POST the dead process sent: Outlook has the meeting,
    # the ledger only the intent.
    wait_until(lambda: stamped(world, organizer, meeting["id"]), "the orphaned create to land")
    world.sandbox.faults.configure(latency_seconds=0.0)
    forgotten = world.sandbox.calendars.forget_transactions()

    url, process, log = serve(world, "api-2")
    try:
        session = authorized(url, client)
        again = session.post(f"{url}{API}/meeting", json=meeting, timeout=30)
        assert again.status_code == 200, again.text
        assert again.json()["errorCode"] == "NoError", again.text
        read = session.get(
            f"{url}{API}/meeting",
            params={"id": meeting["id"], "organizerEmail": organizer},
            timeout=30,
        )
        assert read.status_code == 200 and read.json()["subject"] == "Kick-off", read.text
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=30)
        log.close()
    events = stamped(world, organizer, meeting["id"])
    assert len(events) == 1, f"{len(events)} meetings for one id: {[e.id for e in events]}"
    assert events[0].join_url and events[0].subject == "Kick-off"
    assert [r.intent for r in world.ledger_rows()] == [None]
    print(f"\nAPI crash: 1 SIGKILL during the Graph POST, {forgotten} transactionId forgotten")


def _swallow(call: Callable[[], object]) -> None:
    """The request of a killed server fails; that is the point."""
    with contextlib.suppress(requests.RequestException):
        call()


def mailbox_users(world: World) -> list[str]:
    return sorted(u.email for u in world.sandbox.tenant(TENANT).users if u.has_mailbox)


def stamped(world: World, organizer: str, external_id: str) -> list[StoredEvent]:
    """The live events in the organizer's calendar stamped with the API meeting's key."""
    key = external_key(TENANT, Source.API, external_id)
    owner = world.sandbox.directory.find_by_email(organizer)
    assert owner is not None
    return world.sandbox.calendars.events(
        owner.id,
        lambda e: not e.is_cancelled and any(v == key for v in e.extended.values()),
    )


def serve(world: World, name: str) -> tuple[str, subprocess.Popen[bytes], IO[bytes]]:
    """Start `syncd serve` on a free port; wait until it answers."""
    port = free_port()
    process, log = world.start("serve", "--port", str(port), name=name)
    url = f"http://127.0.0.1:{port}"

    def healthy() -> bool:
        assert process.poll() is None, (world.root / f"{name}.log").read_text()
        try:
            return requests.get(f"{url}/healthz", timeout=2).status_code == 200
        except requests.ConnectionError:
            return False

    wait_until(healthy, "syncd serve to answer", timeout=60)
    return url, process, log


def authorized(url: str, client: dict[str, str]) -> requests.Session:
    token = requests.post(
        f"{url}/oauth/token",
        data={
            "grant_type": "refresh_token",
            "client_id": client["client_id"],
            "refresh_token": client["refresh_token"],
        },
        timeout=30,
    )
    assert token.status_code == 200, token.text
    client["refresh_token"] = token.json()["refresh_token"]  # rotated on every use
    session = requests.Session()
    session.headers["Authorization"] = f"Bearer {token.json()['access_token']}"
    return session


def _ledger_of(world: World, problems: list[str]) -> str:
    """What the ledger holds of the Events named in `problems` (row, history, the
    organizer's delta link): a failure says where an answer stopped."""
    event_ids = sorted({p.split()[1].rstrip(":") for p in problems if p.startswith("Event ")})
    if not event_ids:
        return ""
    lines = []
    engine = make_engine(world.config().database_url)
    try:
        with Session(engine) as session:
            for event_id in event_ids[:3]:
                row = session.exec(
                    select(MeetingRecord).where(MeetingRecord.external_id == event_id)
                ).first()
                if row is None:
                    lines.append(f"{event_id}: no ledger row")
                    continue
                link = session.get(DeltaLink, (TENANT, (row.organizer_email or "").lower()))
                lines += [
                    f"{event_id}: status={row.status} intent={row.intent} "
                    f"event={row.graph_event_id} organizer={row.organizer_email} "
                    f"updated={row.updated_at} responses={row.responses}",
                    f"  link pending={link.pending if link else None} "
                    f"saved={link.updated_at if link else None}",
                    world.syncd("history", "--tenant", TENANT, event_id).stdout[-4000:],
                ]
    finally:
        engine.dispose()
    return "\n".join(lines)
