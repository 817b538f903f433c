"""Fault storm: every fault knob of both sandboxes on at once while the daemon's jobs
sync a few hundred Events that people keep editing. The storm must end in the same
end state as a fault-free run of the same org and edits, within bounded retries, and
every wait the daemon made must be one it reported.

Graph: 429 with Retry-After (random ones and the mailbox concurrency limit), 503/504,
connections reset mid-response, responses slower than the read timeout, tokens that
expire and tokens revoked. Salesforce: 500/503, sessions that expire and sessions
revoked, the daily API budget exhausted for a while, records refused inside sObject
Collections (UNABLE_TO_LOCK_ROW).

The jobs run in this process, as the daemon runs them (syncd.daemon.tenant_jobs, one
after the other, a round at a time), on the sandbox clock: a wait of the clients
advances that clock rather than the test's time, so Retry-After, back-off and expiry
all play out in full while the test takes seconds.
"""

from __future__ import annotations

import logging
import re
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from syncd.config import GraphTuning
from syncd.core.scheduler import Scheduler
from syncd.daemon import JobSpec, tenant_jobs
from syncd.domain import SyncdError
from syncd.graph.auth import MsalTokenProvider
from syncd.graph.client import GraphClient
from syncd.graph.http import build_session
from syncd.ledger.db import make_engine
from syncd.runtime import GRAPH_SCOPES, connection_of
from syncd.salesforce import ClientCredentialsLogin, SalesforceClient
from syncd.salesforce import build_session as build_salesforce_session
from syncd.sync.service import SyncService
from tests.reliability.checker import check
from tests.reliability.world import TENANT, Editor, World

EVENTS = 250
SEED = 23
#: Rounds of the daemon's jobs with the storm on, then at most this many calm ones.
STORM_ROUNDS = 3
CALM_ROUNDS = 4
#: Sandbox time between two rounds (the daemon's job intervals, and then some).
ROUND_GAP_SECONDS = 600
#: Graph: shorter than the slow responses of the storm.
READ_TIMEOUT = 1.0
SLOW_SECONDS = 1.3

#: How the clients report a wait, by kind: (logger, what its line says).
WAIT_LINES = {
    "graph 429 (Retry-After)": ("syncd.graph", re.compile(r"HTTP 429; retry \d+ of \d+")),
    "graph 503": ("syncd.graph", re.compile(r"HTTP 503; retry \d+ of \d+")),
    "graph 504": ("syncd.graph", re.compile(r"HTTP 504; retry \d+ of \d+")),
    "graph read timeout": ("syncd.graph", re.compile(r"Timeout; retry \d+ of \d+")),
    "graph connection reset": (
        "syncd.graph",
        re.compile(r"(ChunkedEncodingError|ConnectionError); retry \d+ of \d+"),
    ),
    "graph $batch refused": ("syncd.graph", re.compile(r"refused for now; retry \d+ of \d+")),
    "salesforce 5xx": ("syncd.salesforce", re.compile(r"HTTP 5\d\d; retry \d+ of \d+")),
    "salesforce login refused (5xx)": (
        "syncd.salesforce",
        re.compile(r"login failed; retry \d+ of \d+"),
    ),
    "salesforce API budget": (
        "syncd.salesforce",
        re.compile(r"API request limit exceeded .*waiting"),
    ),
}
#: Faults met without a wait: a new token or session at once, a record refused.
OTHER_LINES = {
    "graph expired/revoked token (new token)": (
        "syncd.graph",
        re.compile(r"answered 401 .*new token"),
    ),
    "salesforce expired/revoked session (new login)": (
        "syncd.salesforce",
        re.compile(r"session no longer valid.*logging in again"),
    ),
    "salesforce records refused": ("syncd.sync", re.compile(r"write-back of \w+ \S+ refused")),
}


def tally(
    lines: list[tuple[str, str]], kinds: dict[str, tuple[str, re.Pattern[str]]]
) -> dict[str, int]:
    return {
        kind: sum(1 for name, text in lines if name.startswith(logger) and rx.search(text))
        for kind, (logger, rx) in kinds.items()
    }


class Waits:
    """The clients' `sleep`: records the wait and moves the sandbox clock on to its end.

    Waits of several threads at once overlap, as they would in real time: each moves
    the clock to where its own wait ends, if the clock is not there already."""

    def __init__(self, world: World) -> None:
        self.world = world
        self.seconds: list[float] = []
        self._lock = threading.Lock()
        self.hooks: list[Callable[[], None]] = []

    def sleep(self, seconds: float) -> None:
        clock = self.world.sandbox.clock
        until = clock.time() + seconds
        with self._lock:
            self.seconds.append(seconds)
        time.sleep(min(seconds, 0.01))
        with self._lock:
            behind = until - clock.time()
            if behind > 0:
                clock.advance(behind)
        for hook in list(self.hooks):
            hook()


@dataclass
class Daemon:
    """One tenant's jobs as `syncd run` schedules them, on the world's sandbox."""

    world: World
    waits: Waits
    salesforce: SalesforceClient
    graph: GraphClient
    service: SyncService
    jobs: list[JobSpec]
    stopped: Counter[str] = field(default_factory=Counter)
    resumed: bool = False

    def round(self) -> None:
        """Every job once (resume only the first time), as the daemon's timers would."""
        for job in self.jobs:
            if job.once and self.resumed:
                continue
            try:
                job.run()
            except SyncdError as error:  # the daemon logs it and runs the job next time
                self.stopped[f"{job.name}: {error.code}"] += 1
        self.resumed = True
        self.world.sandbox.clock.advance(ROUND_GAP_SECONDS)


@contextmanager
def daemon_of(world: World) -> Iterator[Daemon]:
    running = world.sandbox
    config = world.config()
    tenant = config.tenants[TENANT]
    clock = running.clock.now
    waits = Waits(world)
    connection = connection_of(running, [TENANT])
    app = connection.apps[TENANT]
    session = build_session(connection.ca_file)
    tokens = MsalTokenProvider(
        authority=connection.authority(app["tenant_id"]),
        client_id=app["client_id"],
        credential=app["client_secret"],
        session=session,
        scopes=GRAPH_SCOPES,
        is_microsoft_cloud=False,
        sleep=waits.sleep,
    )
    graph = GraphClient(
        graph_url=connection.graph_url,
        tokens=tokens,
        session=session,
        tuning=GraphTuning(read_timeout_seconds=READ_TIMEOUT),
        sleep=waits.sleep,
    )
    org = connection.salesforce[TENANT]
    sf_session = build_salesforce_session(connection.ca_file)
    salesforce = SalesforceClient(
        login=ClientCredentialsLogin(
            login_url=org["login_url"],
            client_id=org["client_id"],
            client_secret=org["client_secret"],
            session=sf_session,
        ),
        session=sf_session,
        sleep=waits.sleep,
        clock=clock,
    )
    engine = make_engine(config.database_url)
    scheduler = Scheduler(tenant, engine, graph, clock=clock)
    service = SyncService(tenant, scheduler, salesforce, graph, engine, clock=clock)
    try:
        yield Daemon(world, waits, salesforce, graph, service, tenant_jobs(service))
    finally:
        salesforce.close()
        graph.close()
        engine.dispose()


@contextmanager
def recorded_lines() -> Iterator[list[tuple[str, str]]]:
    """syncd's log lines (INFO and up) while inside: (logger, message)."""
    lines: list[tuple[str, str]] = []

    class Handler(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            lines.append((record.name, record.getMessage()))

    logger = logging.getLogger("syncd")
    handler, level = Handler(logging.INFO), logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    try:
        yield lines
    finally:
        logger.removeHandler(handler)
        logger.setLevel(level)


def end_state(world: World) -> dict[str, Any]:
    """What a person sees, per Event: the Outlook meeting (not its ids) and the
    Salesforce status, invitee answers included."""
    org, users = world.org, world.sandbox.tenant(TENANT).users
    outlook = {}
    for user in users:
        if not user.has_mailbox:
            continue
        for event in world.sandbox.calendars.events(
            user.id, lambda e: e.is_organizer and not e.is_cancelled
        ):
            key = next(iter(event.extended.values()), "")
            outlook[key.rsplit(":", 1)[-1]] = (
                event.owner_email,
                event.subject,
                event.body_content,
                event.start,
                event.end,
                event.location.get("displayName"),
                event.is_online_meeting,
                tuple(sorted(a.address.lower() for a in event.attendees)),
            )
    state = {}
    for event_id in org.ids_of("Event"):
        record = org.record(event_id)
        if record.get("IsChild"):
            continue
        relations = tuple(sorted((r["RelationId"], r["Status"]) for r in org.invitees(event_id)))
        state[event_id] = (outlook.get(event_id), record.get("Sync_Status__c"), relations)
    return state


def converge(daemon: Daemon, editor: Editor, *, storm: Callable[[int, Editor], None] | None) -> int:
    """Storm rounds (edits after the first), then calm rounds until Outlook matches
    Salesforce; returns the rounds it took."""
    # The generated Events are older than a poll's re-read overlap, as in a real org:
    # an Event nobody touches again is not read again by the incremental polls.
    daemon.world.sandbox.clock.advance(ROUND_GAP_SECONDS)
    for number in range(STORM_ROUNDS):
        if storm is not None:
            storm(number, editor)
        daemon.round()
        if number == 0:
            editor.apply(40)
    if storm is not None:
        storm(-1, editor)  # calm
    for number in range(CALM_ROUNDS):
        daemon.round()
        if check(daemon.world.sandbox, TENANT).ok and not daemon.world.unfinished_intents():
            return STORM_ROUNDS + number + 1
    return -1


def test_fault_storm_ends_as_a_calm_run(make_world: Callable[..., World]) -> None:
    calm_world, storm_world = make_world(EVENTS, seed=SEED), make_world(EVENTS, seed=SEED)

    with daemon_of(calm_world) as calm:
        calm_rounds = converge(calm, Editor(calm_world.org, calm_world.sandbox, SEED), storm=None)
    assert calm_rounds > 0, check(calm_world.sandbox, TENANT).summary()

    sandbox, salesforce, org = storm_world.sandbox, storm_world.salesforce, storm_world.org
    event_ids = sorted(org.ids_of("Event"))
    # Events without invitees: nothing else writes to them once synced, so a refused
    # write-back of theirs is retried by nothing but the protection under test.
    alone = [i for i in event_ids if not any(r["IsInvitee"] for r in org.invitees(i))][::4]
    mailboxes = {u.email.lower() for u in sandbox.tenant(TENANT).users if u.has_mailbox}
    started = time.monotonic()
    with daemon_of(storm_world) as stormy, recorded_lines() as lines:
        budget = {"exhausted": False}

        def release_budget() -> None:
            # The rolling 24-hour allowance frees up after a few waits.
            if budget["exhausted"] and stormy.salesforce.usage.snapshot()["limit_refusals"] >= 3:
                salesforce.budget.configure(used=0)
                budget["exhausted"] = False

        stormy.waits.hooks.append(release_budget)

        def storm(number: int, editor: Editor) -> None:
            if number < 0:
                sandbox.faults.reset()
                sandbox.throttle.reset()
                salesforce.faults.reset()
                salesforce.auth.session_timeout_seconds = 7200
                return
            sandbox.faults.configure(
                error_rate=0.06,
                error_statuses=[429, 503, 504],
                retry_after_seconds=2,
                reset_connection_rate=0.03,
                token_ttl_seconds=1800,
            )
            sandbox.throttle.configure(concurrent_requests=2)
            salesforce.faults.configure(error_rate=0.05, error_statuses=[500, 503])
            # The dice above decide most faults; these make sure each kind is met.
            sandbox.faults.fail_next(429, 503, 504)
            salesforce.faults.fail_next(500, 503)
            salesforce.auth.session_timeout_seconds = 300
            # Write-backs refused inside sObject Collections (allOrNone=false).
            salesforce.faults.fail_records(event_ids[number::25], times=1)
            if number == 0:
                salesforce.faults.fail_records(alone, times=1)
            if number == 1:
                # The organizer of a deleted Event is unreachable for this round: its
                # cancel fails for good in the pass that saw the deletion.
                owner = next(
                    str(org.record(org.record(i)["OwnerId"])["Email"]).lower()
                    for i in editor.deleted
                    if str(org.record(org.record(i)["OwnerId"])["Email"]).lower() in mailboxes
                )
                sandbox.faults.fail_next(*[503] * 200, mailbox=owner)
                sandbox.revoke_tokens()
                salesforce.revoke_sessions()
                salesforce.budget.configure(used=salesforce.budget.daily_limit)
                budget["exhausted"] = True
                slow_for_a_moment(sandbox, lines)

        rounds = converge(stormy, Editor(storm_world.org, sandbox, SEED), storm=storm)
        graph_calls = stormy.graph.counter.snapshot()
        stopped = dict(stormy.stopped)
        waited = list(stormy.waits.seconds)
    elapsed = time.monotonic() - started

    reported, others = tally(lines, WAIT_LINES), tally(lines, OTHER_LINES)
    print(
        f"\nfault storm: {EVENTS} Events, {rounds} rounds to converge (fault-free run: "
        f"{calm_rounds}), {elapsed:.0f} s; injected {injected(storm_world)}; "
        f"waits reported {reported}, other faults reported {others}; {len(waited)} waits, "
        f"{sum(waited):.0f} s of (sandbox) time; Graph calls {graph_calls['graph_requests']}, "
        f"retries {graph_calls['retries']}; jobs stopped and rerun {stopped}"
    )
    report = check(sandbox, TENANT)
    assert rounds > 0, report.summary()
    assert report.ok, report.summary()
    assert end_state(storm_world) == end_state(calm_world)
    # Every wait was reported, and every kind of fault was met (or the storm was no storm).
    unexplained = [
        text
        for name, text in lines
        if re.search(r"retry \d+ of|waiting|attempt \d+ of", text)
        and not any(name.startswith(lg) and rx.search(text) for lg, rx in WAIT_LINES.values())
    ]
    assert sum(reported.values()) == len(waited), (reported, len(waited), unexplained[:5])
    for kind in (
        "graph 429 (Retry-After)",
        "graph 503",
        "graph 504",
        "graph read timeout",
        "graph connection reset",
        "salesforce API budget",
    ):
        assert reported[kind] > 0, f"no {kind} in the storm: {reported}"
    assert reported["salesforce 5xx"] + reported["salesforce login refused (5xx)"] > 0
    assert all(others.values()), others


def injected(world: World) -> dict[str, int]:
    """What the sandboxes did to the daemon, as they counted it."""
    graph, salesforce = world.sandbox.counters, world.salesforce.counters
    return {
        "graph 429": graph.per_status[429],
        "graph 503": graph.per_status[503],
        "graph 504": graph.per_status[504],
        "graph 401 (token expired or revoked)": graph.per_status[401],
        "salesforce 5xx": salesforce.faults_injected,
        "salesforce expired sessions": salesforce.session_refusals,
        "salesforce over the API budget": salesforce.limit_refusals,
        "salesforce records refused": salesforce.records_failed,
    }


def slow_for_a_moment(sandbox: Any, lines: list[tuple[str, str]]) -> None:
    """Graph answers slower than the client's read timeout until a few requests have
    timed out (or a few seconds have passed)."""
    sandbox.faults.configure(latency_seconds=SLOW_SECONDS)
    timeouts = WAIT_LINES["graph read timeout"][1]

    def fast_again() -> None:
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            if sum(1 for _, text in list(lines) if timeouts.search(text)) >= 4:
                break
            time.sleep(0.05)
        sandbox.faults.configure(latency_seconds=0.0)

    threading.Thread(target=fast_again, daemon=True).start()
