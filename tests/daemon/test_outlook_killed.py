"""Outlook watched by a `syncd run` process that is killed: a change an organizer makes in
Outlook while the daemon is down (SIGKILL) is applied after the restart, from the delta
link the ledger kept, once; and a quiet system sweeps and polls without a write on
either side.

The sandbox runs in the test's process, `syncd run` as a real process reaching it
through its connection file; the organizers' changes go through Graph
(tests/outlook_organizer.py).
"""

from __future__ import annotations

import signal
import subprocess
from collections.abc import Callable, Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import IO, Any
from urllib.parse import parse_qs, urlsplit

import pytest

from syncd.config import load_config
from syncd.ledger.db import make_engine, upgrade
from syncd.ledger.delta_links import links_of
from syncd.sandbox.microsoft.calendar import StoredEvent
from syncd.sandbox.server import RunningSandbox, start_sandbox, write_connection_file
from tests.daemon.helpers import (
    DEMO,
    SETTINGS,
    TENANT,
    World,
    drop_events_without_mailbox,
    write_config,
)
from tests.outlook_organizer import Organizer, parse_graph_time
from tests.reliability.checker import check
from tests.reliability.outlook_checks import (
    OutlookReport,
    WriteLogs,
    check_outlook_changes,
    salesforce_id_of,
)
from tests.support import wait_until

#: A sweep of Outlook every 10 s and a poll of Salesforce every 5 s (the least allowed).
SCHEDULES = {
    "poll_seconds": 5,
    "responses_seconds": 30,
    "outlook_seconds": 10,
    "availability_seconds": 3600,
    "retry_failed_seconds": 30,
}
DELTA_ROUTE = "GET /users/{user}/calendarView/delta"
NOBODY_ANSWERS = {
    "accepted": 0.0,
    "tentatively_accepted": 0.0,
    "declined": 0.0,
    "not_responded": 1.0,
}


@pytest.fixture
def make_world(tmp_path: Path) -> Iterator[Callable[[str], World]]:
    """`make_world(policy)`: a sandbox with the demo org (Events of owners without a
    mailbox dropped), nobody answering, and a config with that Outlook policy."""
    with start_sandbox(state_dir=tmp_path / "sandbox", tenants=[DEMO.spec()]) as sandbox:
        sandbox.answers.configure(**NOBODY_ANSWERS)
        drop_events_without_mailbox(sandbox)

        def make(policy: str) -> World:
            tenant = replace(
                DEMO.reaching(write_connection_file(sandbox)),
                schedules=SCHEDULES,
                tables=f'[policy]\noutlook_changes = "{policy}"\n',
            )
            config_path = write_config(tmp_path / "config", tenant, settings=SETTINGS)
            upgrade(load_config(config_path).database_url)
            return World(sandbox, config_path, tmp_path, TENANT)

        yield make


# ----------------------------------------------------------------- what is seen


def organized(sandbox: RunningSandbox) -> list[StoredEvent]:
    """The live meetings syncd made in the organizers' calendars."""
    found = []
    for user in sandbox.tenant(TENANT).users:
        if user.has_mailbox:
            found += [
                e
                for e in sandbox.calendars.events(
                    user.id, lambda e: e.is_organizer and not e.is_cancelled
                )
                if salesforce_id_of(e, TENANT)
            ]
    return found


def delta_requests(sandbox: RunningSandbox) -> int:
    return int(sandbox.counters.snapshot()["per_route"].get(DELTA_ROUTE, 0))


def stored_links(world: World) -> dict[str, str]:
    """The delta link the ledger holds per organizer mailbox."""
    engine = make_engine(world.config().database_url)
    try:
        mailboxes = {e.owner_email.lower() for e in organized(world.sandbox)}
        return {m: s.link for m, s in links_of(engine, TENANT, mailboxes).items()}
    finally:
        engine.dispose()


def synced(world: World) -> bool:
    """The first poll's meetings are all in Outlook and settled in the ledger (each
    Event's status written back), and every organizer mailbox has a delta link (a sweep
    has read it)."""
    rows = world.ledger_rows()
    meetings = organized(world.sandbox)
    if not rows or len(rows) != len(meetings) or any(r.intent for r in rows):
        return False
    if any(world.org.record(r.external_id).get("Sync_Status__c") != "Synced" for r in rows):
        return False
    return {e.owner_email.lower() for e in meetings} <= set(stored_links(world))


def sweeps_after(world: World, rounds: int) -> Callable[[], bool]:
    """True once `rounds` more sweeps (one delta request per organizer mailbox each) have
    reached the sandbox than when this was called."""
    mailboxes = len({e.owner_email.lower() for e in organized(world.sandbox)})
    start = delta_requests(world.sandbox)
    return lambda: delta_requests(world.sandbox) >= start + rounds * mailboxes


class TokensTaken:
    """The delta tokens the sandbox was handed (test instrumentation: the sandbox's token
    store is wrapped for the test's lifetime)."""

    def __init__(self, sandbox: RunningSandbox) -> None:
        self.tokens = sandbox.state.delta
        self.taken: list[str] = []
        original = self.tokens.take

        def take(token: str, owner_id: str, now: Any) -> Any:
            self.taken.append(token)
            return original(token, owner_id, now)

        self.tokens.take = take  # type: ignore[method-assign]

    def close(self) -> None:
        self.tokens.__dict__.pop("take", None)


def salesforce_queries(world: World) -> int:
    """SOQL queries the org answered so far (each poll makes some)."""
    return int(world.salesforce.counters.snapshot()["per_resource"].get("query", 0))


def utc(value: datetime) -> datetime:
    return value.astimezone(UTC) if value.tzinfo else value.replace(tzinfo=UTC)


def token_of(link: str) -> str:
    return parse_qs(urlsplit(link).query)["$deltatoken"][0]


def start_run(world: World, name: str) -> tuple[subprocess.Popen[bytes], IO[bytes]]:
    process, log = world.start("run", name=name)
    return process, log


def stop(process: subprocess.Popen[bytes], log: IO[bytes]) -> None:
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(timeout=60)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
        log.close()


def run_until_synced_then_kill(world: World) -> None:
    """`syncd run` until the meetings are synced and swept once, then SIGKILL."""

    def settle() -> None:
        wait_until(lambda: synced(world), "the first sync and sweep", timeout=120)

    status = world.run_then_kill(("run",), 2.0, name="run-killed", meanwhile=settle)
    assert status is None, f"syncd run ended by itself ({status}): {world.logs[-1].read_text()}"


# ------------------------------------------------------------------------ tests


@pytest.mark.parametrize("policy", ["two_way", "salesforce_wins"])
def test_a_change_made_while_the_daemon_is_killed_is_applied_once_after_restart(
    make_world: Callable[[str], World], policy: str
) -> None:
    world = make_world(policy)
    run_until_synced_then_kill(world)
    links_before = stored_links(world)

    # While syncd is down: one organizer (the one with the most meetings) moves one
    # meeting and edits another; someone else deletes one.
    meetings = organized(world.sandbox)
    by_owner: dict[str, list[StoredEvent]] = {}
    for meeting in sorted(meetings, key=lambda e: e.id):
        if not meeting.is_all_day and meeting.recurrence is None:
            by_owner.setdefault(meeting.owner_email.lower(), []).append(meeting)
    owner = max(sorted(by_owner), key=lambda o: len(by_owner[o]))
    assert len(by_owner[owner]) >= 2, by_owner
    moved, edited = by_owner[owner][:2]
    deleted = next(m for o, ms in sorted(by_owner.items()) if o != owner for m in ms)
    targets = {m.id: str(salesforce_id_of(m, TENANT)) for m in (moved, edited, deleted)}
    moved_event, edited_event, deleted_event = (targets[m.id] for m in (moved, edited, deleted))
    before = {e: world.org.record(e) for e in targets.values()}

    taken = TokensTaken(world.sandbox)
    with Organizer(world.sandbox, TENANT) as organizer, WriteLogs(world.sandbox, TENANT) as logs:
        new_start = organizer.move(moved.owner_email, moved.id, timedelta(hours=2))["start"]
        organizer.edit(edited.owner_email, edited.id, subject="Renamed in Outlook", location="Hall")
        organizer.delete(deleted.owner_email, deleted.id)
        changes = list(organizer.changes)

        process, log = start_run(world, "run-restarted")
        try:
            if policy == "two_way":

                def applied() -> bool:
                    start = utc(world.org.record(moved_event)["StartDateTime"])
                    return (
                        start == parse_graph_time(new_start)
                        and world.org.record(edited_event)["Subject"] == "Renamed in Outlook"
                        and world.org.record(deleted_event)["Sync_Status__c"]
                        == "Deleted in Outlook"
                    )

            else:

                def applied() -> bool:
                    put_back = world.outlook_event(moved.owner_email, moved.id)
                    renamed = world.outlook_event(edited.owner_email, edited.id)
                    return (
                        put_back.start == moved.start
                        and renamed.subject == edited.subject
                        and world.org.record(deleted_event)["Sync_Status__c"]
                        == "Deleted in Outlook"
                    )

            wait_until(applied, f"the Outlook changes applied ({policy})", timeout=120)
            # Applied once: the next sweep, and the polls meanwhile, change nothing more.
            wait_until(sweeps_after(world, 1), "the next sweep", timeout=90)
        finally:
            stop(process, log)
            taken.close()

    engine = make_engine(world.config().database_url)
    try:
        outcome = check_outlook_changes(
            world.sandbox, TENANT, changes, targets, logs, engine, policy=policy
        )
    finally:
        engine.dispose()
    _report(policy, outcome, logs)
    assert outcome.ok, outcome.summary()
    # Not lost: the round after the restart started from the link the ledger kept.
    assert token_of(links_before[owner]) in taken.taken, (links_before[owner], taken.taken)
    end = check(world.sandbox, TENANT, removed_in_outlook={deleted_event}, responses=False)
    assert end.ok, end.summary()
    if policy == "salesforce_wins":
        # Salesforce's values stand: the Events' fields were not touched.
        for event_id in (moved_event, edited_event):
            record = world.org.record(event_id)
            for name in ("Subject", "Location", "StartDateTime", "EndDateTime"):
                assert record[name] == before[event_id][name], (event_id, name)
    log_text = "".join(p.read_text() for p in world.logs)
    assert "Traceback" not in log_text, log_text[-3000:]


def test_a_quiet_system_sweeps_and_polls_without_writing(
    make_world: Callable[[str], World],
) -> None:
    world = make_world("two_way")
    process, log = start_run(world, "run-quiet")
    try:
        wait_until(lambda: synced(world), "the first sync and sweep", timeout=120)
        with WriteLogs(world.sandbox, TENANT) as logs:
            queries = salesforce_queries(world)
            wait_until(sweeps_after(world, 2), "two more sweeps", timeout=150)
            wait_until(lambda: salesforce_queries(world) > queries, "a poll meanwhile", timeout=30)
    finally:
        stop(process, log)
    assert logs.graph == [], logs.graph
    # Meetings only: the availability snapshot job writes Users' busy time (not a sync
    # of meetings; it runs at start and hourly, and may still be at it here).
    meeting_writes = [w for w in logs.salesforce if w.sobject in ("Event", "EventRelation")]
    assert meeting_writes == [], meeting_writes
    assert "Traceback" not in (world.root / "run-quiet.log").read_text()
    print(
        f"\nquiet system: 2 sweeps and the polls meanwhile, {len(organized(world.sandbox))} "
        "meetings, 0 writes either side"
    )


def _report(policy: str, outcome: OutlookReport, logs: WriteLogs) -> None:
    print(
        f"\nkilled daemon ({policy}): {outcome.changes} Outlook changes, checks "
        f"{outcome.counts()}, syncd's Graph writes after them {len(logs.graph)}, "
        f"Salesforce record writes {len(logs.salesforce)}"
    )
