"""The world a reliability test runs in: both sandboxes in this process, a config and a
ledger on disk, `syncd` started as real processes (and killed), and a seeded stream of
the edits people make in Salesforce meanwhile."""

from __future__ import annotations

import random
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from datetime import time as dt_time
from pathlib import Path
from typing import Any

from syncd.sandbox.salesforce import SalesforceOrg
from syncd.sandbox.salesforce.generator import add_events
from syncd.sandbox.server import (
    RunningSandbox,
    start_sandbox,
    write_connection_file,
)
from tests.harness import REPO, SYNCD, SandboxTenant, World, write_config

__all__ = ["REPO", "SYNCD", "World"]

TENANT = "demo"
DOMAIN = "contoso.example"
USERS = 25
SANDBOX_SEED = 42
#: The one tenant of these tests (its org starts empty: `open_world` adds the Events).
DEMO = SandboxTenant(
    TENANT,
    DOMAIN,
    seed=SANDBOX_SEED,
    users=USERS,
    salesforce_events=0,
    # The checker expects answers on EventRelation too (off by default).
    tables="[salesforce.fields]\nevent_relation_status = true\n",
)


def demo_config(
    root: Path,
    connection_file: Path,
    *,
    poll_seconds: int = 5,
    graph: str = "",
    responses_seconds: int = 30,
    outlook_changes: str | None = None,
) -> Path:
    """syncd.toml plus tenants/demo.toml reaching the running sandbox; `graph` is extra
    `[graph]` settings (e.g. 'read_timeout_seconds = 2'); `responses_seconds` the
    interval of the sweep of Outlook; `outlook_changes` the tenant's policy for changes
    made in Outlook (None: the default)."""
    schedules = {
        "poll_seconds": poll_seconds,
        "responses_seconds": responses_seconds,
        "availability_seconds": 3600,
        "retry_failed_seconds": 30,
    }
    tables = DEMO.tables
    if outlook_changes is not None:
        tables += f'\n[policy]\noutlook_changes = "{outlook_changes}"\n'
    tenant = replace(DEMO, connection_file=connection_file, schedules=schedules, tables=tables)
    settings = 'log_level = "INFO"\n' + (f"\n[graph]\n{graph}\n" if graph else "")
    return write_config(root, tenant, settings=settings)


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
    with start_sandbox(state_dir=root / "sandbox", tenants=[DEMO.spec()]) as sandbox:
        sandbox.clock.freeze(sandbox.clock.now() - CLOCK_BEHIND)
        sandbox.clock.resume()
        org = sandbox.org(TENANT).org
        if events:
            add_events(org, events, seed=seed, start=org.now().date() + timedelta(days=1))
        connection = write_connection_file(sandbox)
        config_path = demo_config(root / "config", connection, **config)
        yield World(sandbox, config_path, root, TENANT, clock_behind=CLOCK_BEHIND)


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

    def __init__(
        self,
        org: SalesforceOrg,
        sandbox: RunningSandbox,
        seed: int,
        *,
        spare: frozenset[str] = frozenset(),
    ) -> None:
        """`spare`: Events this editor leaves alone (e.g. those changed in Outlook)."""
        self.org = org
        self.spare = spare
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
        return sorted(
            i
            for i in self.org.ids_of("Event")
            if i not in self.spare and not self.org.record(i).get("IsChild")
        )

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
