"""End-to-end sync fixtures: both sandboxes over HTTPS on 127.0.0.1, a fresh ledger each test.

Every test gets its own sandbox (Microsoft 365 + the tenant's Salesforce org, about
0.1 s to start) and its own SQLite ledger copied from one migrated template, and
drives the real sync: simple-salesforce through `syncd.salesforce.SalesforceClient`,
msal + requests through `syncd.graph.GraphClient`. The runtime's clock is the
sandbox clock, so advancing it moves back-off, getDeleted windows and tokens alike.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlmodel import Session, select

from syncd.config import LoadedConfig, TenantConfig, load_config
from syncd.domain import Source
from syncd.ledger.db import upgrade
from syncd.ledger.models import MeetingRecord
from syncd.runtime import Runtime, build_runtime, connection_of
from syncd.salesforce import ClientCredentialsLogin, SalesforceClient, build_session
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
from syncd.sync.service import SalesforcePort, SyncService
from tests import store_routing as store_testing
from tests.store_routing import database_url_line
from tests.support import suite_clock

TENANT = "crm"
DOMAIN = "northwind.example"
USERS = 12
SEED = 5
#: Generated people of seed 5 / northwind.example (the same in both sandboxes).
ORGANIZER = f"christie.cline@{DOMAIN}"
COLLEAGUE = f"pradeep.gupta@{DOMAIN}"
OTHER_COLLEAGUE = f"lee.gu@{DOMAIN}"
#: The tenth generated user has no Exchange mailbox (directory.NO_MAILBOX_EVERY).
NO_MAILBOX = f"alex.wilber@{DOMAIN}"

EVENT_ROUTE = "/users/{user}/events/{event}"


def tenant_toml(extra: str = "") -> str:
    return (
        f'name = "{TENANT}"\nprovider = "sandbox"\nmail_domains = ["{DOMAIN}"]\n{extra}\n'
        f"[sandbox]\nseed = {SEED}\nusers = {USERS}\nsalesforce_events = 0\n"
    )


def write_config(directory: Path) -> Path:
    tenants = directory / "tenants"
    tenants.mkdir(parents=True, exist_ok=True)
    (tenants / f"{TENANT}.toml").write_text(tenant_toml())
    path = directory / "syncd.toml"
    path.write_text(
        database_url_line(directory / "state") + 'tenants_dir = "tenants"\nstate_dir = "state"\n'
    )
    return path


@pytest.fixture(scope="session")
def migrated_ledger(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One ledger migrated to head; each test starts from a copy of it."""
    loaded = load_config(write_config(tmp_path_factory.mktemp("template")))
    upgrade(loaded.database_url)
    return loaded.settings.state_dir / "syncd.db"


@dataclass
class World:
    """One test's sandboxes, runtime and ledger, with helpers to look at both sides."""

    sandbox: RunningSandbox
    endpoint: SalesforceOrgEndpoint
    runtime: Runtime
    config: LoadedConfig
    closers: list[Callable[[], None]] = field(default_factory=list)

    # -- the parts ---------------------------------------------------------------------
    @property
    def org(self) -> SalesforceOrg:
        return self.endpoint.org

    @property
    def sf_state(self) -> SalesforceState:
        return self.endpoint.state

    @property
    def tenant(self) -> TenantConfig:
        return self.config.tenants[TENANT]

    def now(self) -> datetime:
        return self.sandbox.clock.now()

    def advance(self, seconds: float) -> datetime:
        """Move the clock both sandboxes and the runtime read."""
        return self.sandbox.clock.advance(seconds)

    def service(self, salesforce: SalesforcePort | None = None) -> SyncService:
        """The tenant's sync; `salesforce` replaces the runtime's Salesforce client."""
        if salesforce is None:
            return self.runtime.sync_service(TENANT)
        return SyncService(
            self.tenant,
            self.runtime.scheduler(TENANT),
            salesforce,
            self.runtime.graphs[TENANT],
            self.runtime.engine,
            clock=self.runtime.clock,
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

    # -- Salesforce ----------------------------------------------------------------------
    def meeting_start(self, days: int = 1, hour: int = 15) -> datetime:
        """A whole hour `days` ahead of the sandbox clock (inside the sync window)."""
        day = self.now() + timedelta(days=days)
        return day.replace(hour=hour, minute=0, second=0, microsecond=0)

    def create_event(self, owner: str = ORGANIZER, **kwargs: Any) -> str:
        start = kwargs.pop("start", None) or self.meeting_start()
        end = kwargs.pop("end", None) or start + timedelta(minutes=45)
        kwargs.setdefault("subject", "Quarterly review")
        return self.org.create_event(owner, start=start, end=end, **kwargs)

    def relation_of(self, event_id: str, person_id: str) -> dict[str, Any]:
        return next(r for r in self.org.invitees(event_id) if r["RelationId"] == person_id)

    # -- Microsoft -----------------------------------------------------------------------
    def user(self, email: str) -> DirectoryUser:
        found = self.sandbox.directory.find_by_email(email)
        assert found is not None, f"{email} is not in the sandbox directory"
        return found

    def outlook_event(self, mailbox: str, graph_id: str) -> StoredEvent:
        return self.sandbox.calendars.get(self.user(mailbox).id, graph_id)

    def calendar(self, mailbox: str) -> list[StoredEvent]:
        return self.sandbox.calendars.events(self.user(mailbox).id)

    def graph_calls(self) -> int:
        """Graph requests that reached the sandbox: plain ones and those inside $batch."""
        counters = self.sandbox.counters
        return counters.graph_requests + counters.batch_inner_requests

    def graph_log(self, method: str | None = None, route: str | None = None) -> list[LoggedRequest]:
        return self.sandbox.counters.requests(method, route)

    # -- ledger --------------------------------------------------------------------------
    def record(self, event_id: str) -> MeetingRecord:
        with Session(self.runtime.engine, expire_on_commit=False) as session:
            found = session.exec(
                select(MeetingRecord).where(
                    MeetingRecord.tenant == TENANT,
                    MeetingRecord.source == Source.SALESFORCE.value,
                    MeetingRecord.external_id == event_id,
                )
            ).first()
        assert found is not None, f"no ledger row for Event {event_id}"
        return found


@pytest.fixture
def world(tmp_path: Path, migrated_ledger: Path) -> Iterator[World]:
    config_path = write_config(tmp_path / "config")
    loaded = load_config(config_path)
    state_dir = loaded.settings.state_dir
    state_dir.mkdir(parents=True)
    if store_testing.active():
        # The suite's PostgreSQL run: no file to copy, the store's own schema is migrated.
        upgrade(loaded.database_url)
    for suffix in ("", "-wal", "-shm"):
        source = migrated_ledger.with_name(migrated_ledger.name + suffix)
        if source.exists():
            shutil.copyfile(source, state_dir / source.name)
    spec = SandboxTenantSpec(TENANT, DOMAIN, users=USERS, seed=SEED, salesforce_events=0)
    with start_sandbox(
        state_dir=tmp_path / "sandbox", tenants=[spec], clock=suite_clock()
    ) as running:
        runtime = build_runtime(
            loaded, clock=running.clock.now, sandbox=connection_of(running, [TENANT])
        )
        built = World(running, running.org(TENANT), runtime, loaded)
        try:
            yield built
        finally:
            for close in reversed(built.closers):
                close()
            runtime.close()
