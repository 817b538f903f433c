"""The world a reliability test runs in: both sandboxes in this process, a config and a
ledger on disk, `syncd` started as real processes (and killed), and a seeded stream of
the edits people make in Salesforce meanwhile."""

from __future__ import annotations

import os
import random
import shutil
import signal
import subprocess
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from datetime import time as dt_time
from pathlib import Path
from typing import IO, Any

from sqlalchemy import delete
from sqlmodel import Session, col, select

from syncd.config import LoadedConfig, load_config
from syncd.ledger.db import make_engine
from syncd.ledger.models import MeetingRecord, Tombstone, Watermark
from syncd.sandbox.salesforce import SalesforceOrg
from syncd.sandbox.salesforce.generator import add_events
from syncd.sandbox.salesforce.state import SalesforceState
from syncd.sandbox.server import (
    RunningSandbox,
    SandboxTenantSpec,
    start_sandbox,
    write_connection_file,
)
from tests import store_routing as testing
from tests.store_routing import database_url_line

REPO = Path(__file__).resolve().parents[2]
_SCRIPT = Path(sys.executable).with_name("syncd")
#: The installed console script (what systemd runs), else the module.
SYNCD = [str(_SCRIPT)] if _SCRIPT.exists() else [sys.executable, "-m", "syncd.cli"]
TENANT = "demo"
DOMAIN = "contoso.example"
USERS = 25
SANDBOX_SEED = 42


def write_config(
    root: Path,
    connection_file: Path,
    *,
    poll_seconds: int = 5,
    graph: str = "",
) -> Path:
    """syncd.toml plus tenants/demo.toml reaching the running sandbox; `graph` is extra
    `[graph]` settings (e.g. 'read_timeout_seconds = 2')."""
    tenants = root / "tenants"
    tenants.mkdir(parents=True, exist_ok=True)
    (tenants / f"{TENANT}.toml").write_text(
        f'name = "{TENANT}"\nprovider = "sandbox"\nmail_domains = ["{DOMAIN}"]\n\n'
        f"[sandbox]\nseed = {SANDBOX_SEED}\nusers = {USERS}\nsalesforce_events = 0\n"
        f'connection_file = "{connection_file}"\n\n'
        f"[salesforce.schedules]\npoll_seconds = {poll_seconds}\nresponses_seconds = 30\n"
        "availability_seconds = 3600\nretry_failed_seconds = 30\n\n"
        # The checker expects answers on EventRelation too (off by default).
        "[salesforce.fields]\nevent_relation_status = true\n"
    )
    path = root / "syncd.toml"
    text = database_url_line(root / "state")
    text += 'tenants_dir = "tenants"\nstate_dir = "state"\nlog_level = "INFO"\n'
    if graph:
        text += f"\n[graph]\n{graph}\n"
    path.write_text(text)
    return path


@dataclass
class World:
    """A running sandbox and a config whose one tenant syncs with it."""

    sandbox: RunningSandbox
    config_path: Path
    root: Path
    logs: list[Path] = field(default_factory=list)

    @property
    def org(self) -> SalesforceOrg:
        return self.sandbox.org(TENANT).org

    @property
    def salesforce(self) -> SalesforceState:
        return self.sandbox.org(TENANT).state

    def config(self) -> LoadedConfig:
        return load_config(self.config_path)

    # ------------------------------------------------------------- processes

    def syncd(self, *args: str, timeout: float = 180) -> subprocess.CompletedProcess[str]:
        """Run `syncd --config ... ARGS` to completion (stdout and stderr captured)."""
        return subprocess.run(
            [*SYNCD, "--config", str(self.config_path), *args],
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
            cwd=REPO,
        )

    def start(self, *args: str, name: str) -> tuple[subprocess.Popen[bytes], IO[bytes]]:
        """Start `syncd --config ... ARGS` in the background, logging to root/NAME.log."""
        log_path = self.root / f"{name}.log"
        self.logs.append(log_path)
        log = log_path.open("wb")
        process = subprocess.Popen(
            [*SYNCD, "--config", str(self.config_path), *args],
            stdout=log,
            stderr=subprocess.STDOUT,
            cwd=REPO,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )
        return process, log

    def run_then_kill(
        self,
        args: tuple[str, ...],
        delay: float,
        *,
        name: str,
        meanwhile: Callable[[], None] | None = None,
    ) -> int | None:
        """Start syncd, call `meanwhile` half way, SIGKILL it after `delay` seconds.

        Returns the exit status when it finished before the kill, None when killed."""
        process, log = self.start(*args, name=name)
        try:
            try:
                return process.wait(timeout=delay / 2)
            except subprocess.TimeoutExpired:
                pass
            if meanwhile is not None:
                meanwhile()
            try:
                return process.wait(timeout=delay / 2)
            except subprocess.TimeoutExpired:
                process.send_signal(signal.SIGKILL)
                process.wait(timeout=30)
                return None
        finally:
            if process.poll() is None:
                process.kill()
                process.wait()
            log.close()

    def let_a_minute_pass(self) -> None:
        """Move the sandbox clock 2 x CLOCK_BEHIND on (see `open_world`): a minute boundary
        has then passed since every edit, on both syncd's clock and the org's. Once, just
        before the last pass: the org is then ahead of the wall clock."""
        self.sandbox.clock.advance(2 * CLOCK_BEHIND.total_seconds())

    # ----------------------------------------------------------------- ledger

    def lose_the_ledger(self) -> None:
        """Delete the state store, as a lost disk or a botched restore would, and point
        the config at a new, empty one (`syncd db upgrade` makes it). In the suite's
        PostgreSQL run the store is a schema, whose rows go instead of the file."""
        config = self.config()
        if testing.active():
            engine = make_engine(config.database_url)
            try:
                with engine.begin() as connection:
                    for table in (MeetingRecord, Watermark, Tombstone):
                        connection.execute(delete(table))
            finally:
                engine.dispose()
        shutil.rmtree(config.settings.state_dir)
        text = self.config_path.read_text()
        self.config_path.write_text(text.replace('"state"', '"state-after-loss"'))

    def ledger_rows(self) -> list[MeetingRecord]:
        engine = make_engine(self.config().database_url)
        try:
            with Session(engine) as session:
                return list(session.exec(select(MeetingRecord)))
        finally:
            engine.dispose()

    def unfinished_intents(self) -> int:
        """Ledger rows whose Graph write a killed process left unfinished."""
        engine = make_engine(self.config().database_url)
        try:
            with Session(engine) as session:
                rows = session.exec(
                    select(MeetingRecord.id).where(col(MeetingRecord.intent).is_not(None))
                )
                return len(list(rows))
        finally:
            engine.dispose()


#: How far the sandbox clock runs behind the wall clock `syncd` processes read (see
#: `open_world`), and how far `World.let_a_minute_pass` moves it on.
CLOCK_BEHIND = timedelta(seconds=61)


@contextmanager
def open_world(root: Path, *, events: int, seed: int = 7, **config: Any) -> Iterator[World]:
    """A sandbox whose org holds `events` generated Events, all ahead of today (inside
    the sync window whatever the hour), and a config reaching it.

    The sandbox clock runs CLOCK_BEHIND the wall clock. getDeleted only covers whole
    minutes before the org's "now" (resources_getdeleted.htm: latestDateCovered), so a
    deletion is seen by the first poll of a later minute; `World.let_a_minute_pass`
    then moves the sandbox on so that the next `syncd` pass sees every deletion made
    so far, as a pass a minute later would, without the test waiting for it.
    """
    spec = SandboxTenantSpec(TENANT, DOMAIN, users=USERS, seed=SANDBOX_SEED, salesforce_events=0)
    with start_sandbox(state_dir=root / "sandbox", tenants=[spec]) as sandbox:
        sandbox.clock.freeze(sandbox.clock.now() - CLOCK_BEHIND)
        sandbox.clock.resume()
        org = sandbox.org(TENANT).org
        if events:
            add_events(org, events, seed=seed, start=org.now().date() + timedelta(days=1))
        connection = write_connection_file(sandbox)
        yield World(sandbox, write_config(root / "config", connection, **config), root)


# ------------------------------------------------------------ Salesforce edits


@dataclass
class EditCounts:
    """What `Editor` did to the org, by kind."""

    counts: dict[str, int] = field(default_factory=dict)

    def add(self, kind: str) -> None:
        self.counts[kind] = self.counts.get(kind, 0) + 1

    @property
    def total(self) -> int:
        return sum(self.counts.values())


class Editor:
    """Seeded edits of the kinds people make: subject, time, place (Teams or not),
    invitees added and removed, a new owner, new Events and deletions."""

    KINDS = ("subject", "move", "location", "invite", "uninvite", "owner", "create", "delete")
    WEIGHTS = (5, 4, 3, 3, 2, 2, 2, 3)

    def __init__(self, org: SalesforceOrg, sandbox: RunningSandbox, seed: int) -> None:
        self.org = org
        self.rng = random.Random(seed)
        self.done = EditCounts()
        mailboxes = {u.email.lower() for u in sandbox.tenant(TENANT).users if u.has_mailbox}
        users = [org.record(i) for i in org.ids_of("User")]
        #: Active users with an Outlook mailbox: owners and in-org invitees.
        self.people = sorted(
            str(u["Email"]) for u in users if u["IsActive"] and str(u["Email"]).lower() in mailboxes
        )
        self.customers = sorted(
            str(org.record(i)["Email"]) for kind in ("Contact", "Lead") for i in org.ids_of(kind)
        )
        self._serial = 0
        #: Events deleted so far, in order.
        self.deleted: list[str] = []
        #: New Events start on whole hours counted from today (the same in two worlds
        #: made a few seconds apart, whatever their clocks did since).
        self.today = datetime.combine(org.now().date(), dt_time(0), tzinfo=UTC)

    def _events(self) -> list[str]:
        return sorted(i for i in self.org.ids_of("Event") if not self.org.record(i).get("IsChild"))

    def apply(self, count: int, *, kinds: tuple[str, ...] | None = None) -> None:
        """`count` edits of the given kinds (default: all), drawn by their weights."""
        allowed = [
            (k, w)
            for k, w in zip(self.KINDS, self.WEIGHTS, strict=True)
            if kinds is None or k in kinds
        ]
        events = self._events()
        for _ in range(count):
            kind = self.rng.choices([k for k, _ in allowed], [w for _, w in allowed])[0]
            if kind == "create" or not events:
                self._create()
                self.done.add("create")
                continue
            event_id = self.rng.choice(events)
            if self._edit(kind, event_id):
                self.done.add(kind)
                if kind == "delete":
                    events.remove(event_id)

    def _create(self) -> str:
        self._serial += 1
        start = self.today + timedelta(
            days=self.rng.randrange(2, 20), hours=self.rng.randrange(7, 17)
        )
        guests = self.rng.sample(self.people, 2) + self.rng.sample(self.customers, 1)
        owner = self.rng.choice(self.people)
        return self.org.create_event(
            owner,
            subject=f"Added during the sync #{self._serial}",
            start=start,
            end=start + timedelta(minutes=self.rng.choice((30, 60))),
            location=self.rng.choice(("MS Teams", "Board room", None)),
            invitees=[g for g in guests if g != owner],
        )

    def _edit(self, kind: str, event_id: str) -> bool:
        org, rng = self.org, self.rng
        record = org.record(event_id)
        if kind == "subject":
            org.update_event(event_id, Subject=f"{record['Subject'] or ''} (v{rng.randrange(99)})")
        elif kind == "move":
            if record["IsAllDayEvent"]:
                return False
            shift = timedelta(hours=rng.choice((-2, -1, 1, 3, 24)))
            org.update_event(
                event_id,
                StartDateTime=record["StartDateTime"] + shift,
                EndDateTime=record["EndDateTime"] + shift,
            )
        elif kind == "location":
            choices = [c for c in ("MS Teams", "Room 4.01", None) if c != record["Location"]]
            org.update_event(event_id, Location=rng.choice(choices))
        elif kind == "invite":
            invited = {r["RelationId"] for r in org.invitees(event_id)}
            pool = [p for p in self.people + self.customers if org.resolve_person(p) not in invited]
            if not pool:
                return False
            target = rng.choice(pool)
            if org.resolve_person(target) == record["OwnerId"]:
                return False
            org.invite(event_id, target)
        elif kind == "uninvite":
            invitees = [r["RelationId"] for r in org.invitees(event_id) if r["IsInvitee"]]
            if not invitees:
                return False
            org.uninvite(event_id, rng.choice(invitees))
        elif kind == "owner":
            invited = {r["RelationId"] for r in org.invitees(event_id)}
            owners = [
                p
                for p in self.people
                if org.resolve_person(p) not in invited
                and org.resolve_person(p) != record["OwnerId"]
            ]
            org.update_event(event_id, OwnerId=org.resolve_person(rng.choice(owners)))
        elif kind == "delete":
            org.delete_event(event_id)
            self.deleted.append(event_id)
        return True
