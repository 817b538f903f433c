"""One test harness: the config files of sandbox tenants, and the World a test drives.

`write_config` writes syncd.toml and one tenants/NAME.toml per `SandboxTenant`; the
state store is the SQLite file in state_dir, or in the suite's PostgreSQL run the
schema standing for it (tests/store_routing.py), written as `database_url`.

A `World` is a running sandbox (Microsoft 365 and the tenants' Salesforce orgs) and
a config reaching it. In-process worlds (`in_process_world`) also hold a `Runtime`
on the sandbox clock; the others start `syncd` as real processes (`syncd`,
`start`, `run_then_kill`), which reach the sandbox through its connection file.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from pathlib import Path
from typing import IO, Any

import pytest
from sqlalchemy import delete
from sqlmodel import Session, col, select

from syncd.config import LoadedConfig, TenantConfig, load_config
from syncd.domain import Source
from syncd.ledger.db import make_engine, upgrade
from syncd.ledger.models import MeetingRecord, Tombstone, Watermark
from syncd.runtime import Runtime, build_runtime, connection_of
from syncd.salesforce import ClientCredentialsLogin, SalesforceClient, build_session
from syncd.salesforce.port import SalesforcePort
from syncd.sandbox.microsoft.calendar import StoredEvent
from syncd.sandbox.microsoft.directory import DirectoryUser
from syncd.sandbox.salesforce import SalesforceOrg, SalesforceState
from syncd.sandbox.server import (
    RunningSandbox,
    SalesforceOrgEndpoint,
    SandboxTenantSpec,
    start_sandbox,
)
from syncd.sandbox.stats import LoggedRequest
from syncd.sync.service import SyncService
from tests import store_routing
from tests.support import suite_clock, wait_until

REPO = Path(__file__).resolve().parents[1]
_SCRIPT = Path(sys.executable).with_name("syncd")
#: The installed console script (what systemd runs), else the module.
SYNCD = [str(_SCRIPT)] if _SCRIPT.exists() else [sys.executable, "-m", "syncd.cli"]


# ------------------------------------------------------------------ config files


@dataclass(frozen=True)
class SandboxTenant:
    """One `provider = "sandbox"` tenant file; None leaves a key at syncd's default."""

    name: str
    domain: str
    seed: int | None = None
    users: int | None = None
    #: Demo Events in the tenant's Salesforce org (None: no org).
    salesforce_events: int | None = None
    #: A running sandbox's connection file (`syncd` subprocesses reach it through this).
    connection_file: Path | None = None
    #: `[salesforce.schedules]` keys, e.g. {"poll_seconds": 5}.
    schedules: Mapping[str, int] = field(default_factory=dict)
    #: TOML lines of the tenant table itself (e.g. address_aliases).
    extra: str = ""
    #: Further TOML tables, written last (e.g. "[salesforce.fields]\n...").
    tables: str = ""

    def spec(self) -> SandboxTenantSpec:
        """What the in-process sandbox is started with for this tenant."""
        assert self.seed is not None and self.users is not None
        return SandboxTenantSpec(
            self.name,
            self.domain,
            users=self.users,
            seed=self.seed,
            salesforce_events=self.salesforce_events,
        )

    def reaching(self, connection_file: Path) -> SandboxTenant:
        return replace(self, connection_file=connection_file)

    def toml(self) -> str:
        text = f'name = "{self.name}"\nprovider = "sandbox"\nmail_domains = ["{self.domain}"]\n'
        text += self.extra + "\n"
        connection = self.connection_file
        sandbox = {
            "seed": self.seed,
            "users": self.users,
            "salesforce_events": self.salesforce_events,
            "connection_file": None if connection is None else f'"{connection}"',
        }
        lines = "".join(f"{key} = {value}\n" for key, value in sandbox.items() if value is not None)
        if lines:
            text += f"[sandbox]\n{lines}\n"
        if self.schedules:
            keys = "".join(f"{key} = {value}\n" for key, value in self.schedules.items())
            text += f"[salesforce.schedules]\n{keys}\n"
        return text + self.tables


def write_config(
    root: Path, *tenants: SandboxTenant, settings: str = "", database_url: str | None = None
) -> Path:
    """root/syncd.toml (tenants_dir "tenants", state_dir "state", then `settings`: more
    keys and tables) and root/tenants/NAME.toml per tenant. The store is the state_dir's
    (see the module docstring) unless `database_url` names one."""
    directory = root / "tenants"
    directory.mkdir(parents=True, exist_ok=True)
    for tenant in tenants:
        (directory / f"{tenant.name}.toml").write_text(tenant.toml())
    if database_url is None:
        store = store_routing.database_url_line(root / "state")
    else:
        store = f'database_url = "{database_url}"\n'
    path = root / "syncd.toml"
    path.write_text(store + 'tenants_dir = "tenants"\nstate_dir = "state"\n' + settings)
    return path


def migrated_template(root: Path, tenant: SandboxTenant) -> Path:
    """A ledger migrated to head (its SQLite file), for `in_process_world` to copy."""
    loaded = load_config(write_config(root, tenant))
    upgrade(loaded.database_url)
    return loaded.settings.state_dir / "syncd.db"


# ------------------------------------------------------------------------ world


@dataclass
class World:
    """A running sandbox and a config whose tenant syncs with it (see the module)."""

    sandbox: RunningSandbox
    config_path: Path
    root: Path
    tenant_name: str
    #: In-process worlds: the runtime (on the sandbox clock) the test drives.
    runtime: Runtime | None = None
    #: The default owner of `create_event`.
    organizer: str = ""
    #: How far the sandbox clock runs behind the wall clock `syncd` processes read.
    clock_behind: timedelta = timedelta(0)
    closers: list[Callable[[], None]] = field(default_factory=list)
    logs: list[Path] = field(default_factory=list)

    # -- the parts --------------------------------------------------------------------
    @property
    def endpoint(self) -> SalesforceOrgEndpoint:
        return self.sandbox.org(self.tenant_name)

    @property
    def org(self) -> SalesforceOrg:
        return self.endpoint.org

    @property
    def salesforce(self) -> SalesforceState:
        return self.endpoint.state

    @property
    def sf_state(self) -> SalesforceState:
        return self.endpoint.state

    def config(self) -> LoadedConfig:
        """The configuration the world runs with: the runtime's (the same object, so a
        change to it reaches the sync services built next), else the file's as it is now."""
        if self.runtime is not None:
            return self.runtime.config
        return load_config(self.config_path)

    @property
    def tenant(self) -> TenantConfig:
        return self.config().tenants[self.tenant_name]

    def _runtime(self) -> Runtime:
        assert self.runtime is not None, "an in-process world (in_process_world) has a runtime"
        return self.runtime

    # -- the clock --------------------------------------------------------------------
    def now(self) -> datetime:
        return self.sandbox.clock.now()

    def advance(self, seconds: float) -> datetime:
        """Move the clock both sandboxes and the runtime read."""
        return self.sandbox.clock.advance(seconds)

    def let_a_minute_pass(self) -> None:
        """Move the sandbox clock 2 x clock_behind on (tests/reliability/world.py,
        `open_world`): a minute boundary has then passed since every edit, on both
        syncd's clock and the org's. Once, just before the last pass: the org is then
        ahead of the wall clock."""
        self.sandbox.clock.advance(2 * self.clock_behind.total_seconds())

    # -- in this process --------------------------------------------------------------
    def service(self, salesforce: SalesforcePort | None = None) -> SyncService:
        """The tenant's sync; `salesforce` replaces the runtime's Salesforce client."""
        runtime = self._runtime()
        if salesforce is None:
            return runtime.sync_service(self.tenant_name)
        return SyncService(
            self.tenant,
            runtime.scheduler(self.tenant_name),
            salesforce,
            runtime.graphs[self.tenant_name],
            runtime.engine,
            clock=runtime.clock,
        )

    def salesforce_client(self, sleep: Callable[[float], None]) -> SalesforceClient:
        """A SalesforceClient of our own (real login, real HTTPS) with an injected sleep."""
        session = build_session(Path(self.sandbox.ca_file))
        self.closers.append(session.close)
        login = ClientCredentialsLogin(
            login_url=self.endpoint.login_url,
            client_id=self.endpoint.client_id,
            client_secret=self.endpoint.client_secret,
            session=session,
        )
        return SalesforceClient(login=login, session=session, sleep=sleep, clock=self.now)

    # -- syncd as processes -----------------------------------------------------------
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
        after_first_write: bool = False,
    ) -> int | None:
        """Start syncd, call `meanwhile` half way, SIGKILL it after `delay` seconds.

        With `after_first_write` the delay counts from the run's first write to Graph
        (as the sandbox saw it), not from its start: how long a process takes to start
        depends on the machine's load, and a kill meant to land among the writes must
        not land before them. Returns the exit status when it finished before the kill,
        None when killed."""
        writes_before = self._graph_writes()
        process, log = self.start(*args, name=name)
        try:
            if after_first_write:
                wait_until(
                    lambda: process.poll() is not None or self._graph_writes() > writes_before,
                    "the run's first Graph write",
                    120,
                )
                if process.poll() is not None:
                    return process.returncode
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

    def _graph_writes(self) -> int:
        """Writes to Graph the sandbox has answered so far ($batch envelopes included)."""
        routes = self.sandbox.counters.snapshot()["per_route"]
        return sum(
            n for route, n in routes.items() if route.split()[0] in ("POST", "PATCH", "DELETE")
        )

    # -- Salesforce -------------------------------------------------------------------
    def meeting_start(self, days: int = 1, hour: int = 15) -> datetime:
        """A whole hour `days` ahead of the sandbox clock (inside the sync window)."""
        day = self.now() + timedelta(days=days)
        return day.replace(hour=hour, minute=0, second=0, microsecond=0)

    def create_event(self, owner: str | None = None, **kwargs: Any) -> str:
        start = kwargs.pop("start", None) or self.meeting_start()
        end = kwargs.pop("end", None) or start + timedelta(minutes=45)
        kwargs.setdefault("subject", "Quarterly review")
        return self.org.create_event(owner or self.organizer, start=start, end=end, **kwargs)

    def relation_of(self, event_id: str, person_id: str) -> dict[str, Any]:
        return next(r for r in self.org.invitees(event_id) if r["RelationId"] == person_id)

    def sf(self, event_id: str) -> dict[str, Any]:
        return self.org.record(event_id)

    # -- Microsoft --------------------------------------------------------------------
    def user(self, email: str) -> DirectoryUser:
        found = self.sandbox.directory.find_by_email(email)
        assert found is not None, f"{email} is not in the sandbox directory"
        return found

    def user_id(self, email: str) -> str:
        return self.user(email).id

    def outlook_event(self, mailbox: str, graph_id: str) -> StoredEvent:
        return self.sandbox.calendars.get(self.user(mailbox).id, graph_id)

    def calendar(self, mailbox: str) -> list[StoredEvent]:
        return self.sandbox.calendars.events(self.user(mailbox).id)

    def view(self, mailbox: str, start: datetime, end: datetime) -> list[StoredEvent]:
        return self.sandbox.calendars.between(self.user(mailbox).id, start, end)

    def graph_calls(self) -> int:
        """Graph requests that reached the sandbox: plain ones and those inside $batch."""
        counters = self.sandbox.counters
        return counters.graph_requests + counters.batch_inner_requests

    def graph_log(self, method: str | None = None, route: str | None = None) -> list[LoggedRequest]:
        return self.sandbox.counters.requests(method, route)

    # -- ledger -----------------------------------------------------------------------
    def record(self, event_id: str) -> MeetingRecord:
        """The runtime's ledger row of Salesforce Event `event_id`."""
        with Session(self._runtime().engine, expire_on_commit=False) as session:
            found = session.exec(
                select(MeetingRecord).where(
                    MeetingRecord.tenant == self.tenant_name,
                    MeetingRecord.source == Source.SALESFORCE.value,
                    MeetingRecord.external_id == event_id,
                )
            ).first()
        assert found is not None, f"no ledger row for Event {event_id}"
        return found

    def lose_the_ledger(self) -> None:
        """Delete the state store, as a lost disk or a botched restore would, and point
        the config at a new, empty one (`syncd db upgrade` makes it). In the suite's
        PostgreSQL run the store is a schema, whose rows go instead of the file."""
        config = self.config()
        if store_routing.active():
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


@contextmanager
def in_process_world(
    root: Path, tenant: SandboxTenant, template: Path, *, organizer: str = ""
) -> Iterator[World]:
    """A fresh sandbox on the suite's clock, a ledger copied from `template`
    (`migrated_template`) and a runtime on the sandbox clock."""
    config_path = write_config(root / "config", tenant)
    loaded = load_config(config_path)
    state_dir = loaded.settings.state_dir
    state_dir.mkdir(parents=True)
    if store_routing.active():
        # The suite's PostgreSQL run: no file to copy, the store's own schema is migrated.
        upgrade(loaded.database_url)
    for suffix in ("", "-wal", "-shm"):
        source = template.with_name(template.name + suffix)
        if source.exists():
            shutil.copyfile(source, state_dir / source.name)
    with start_sandbox(
        state_dir=root / "sandbox", tenants=[tenant.spec()], clock=suite_clock()
    ) as running:
        runtime = build_runtime(
            loaded, clock=running.clock.now, sandbox=connection_of(running, [tenant.name])
        )
        built = World(running, config_path, root, tenant.name, runtime, organizer=organizer)
        try:
            yield built
        finally:
            for close in reversed(built.closers):
                close()
            runtime.close()


def session_template(factory: pytest.TempPathFactory, tenant: SandboxTenant) -> Path:
    """`migrated_template` in a session temp directory (the suites' migrated_ledger)."""
    return migrated_template(factory.mktemp("template"), tenant)
