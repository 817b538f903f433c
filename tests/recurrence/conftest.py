"""Recurrence end-to-end fixtures: both sandboxes over HTTPS, a fresh ledger per test.

Same shape as the sync end-to-end suite (real simple-salesforce, msal and requests
against the sandboxes on 127.0.0.1), kept separate so the series tests own their setup.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from sqlmodel import Session, select

from syncd.config import LoadedConfig, load_config
from syncd.domain import Source
from syncd.ledger.db import upgrade
from syncd.ledger.models import MeetingRecord
from syncd.runtime import Runtime, build_runtime, connection_of
from syncd.sandbox.microsoft.calendar import StoredEvent
from syncd.sandbox.salesforce import SalesforceOrg
from syncd.sandbox.server import (
    RunningSandbox,
    SalesforceOrgEndpoint,
    SandboxTenantSpec,
    start_sandbox,
)
from syncd.sandbox.stats import LoggedRequest
from syncd.sync.service import SyncService
from tests import store_routing as store_testing
from tests.store_routing import database_url_line
from tests.support import suite_clock

TENANT = "crm"
DOMAIN = "northwind.example"
USERS = 12
SEED = 5
ORGANIZER = f"christie.cline@{DOMAIN}"
COLLEAGUE = f"pradeep.gupta@{DOMAIN}"
EVENTS_ROUTE = "/users/{user}/events"
EVENT_ROUTE = "/users/{user}/events/{event}"


def write_config(directory: Path) -> Path:
    tenants = directory / "tenants"
    tenants.mkdir(parents=True, exist_ok=True)
    (tenants / f"{TENANT}.toml").write_text(
        f'name = "{TENANT}"\nprovider = "sandbox"\nmail_domains = ["{DOMAIN}"]\n\n'
        f"[sandbox]\nseed = {SEED}\nusers = {USERS}\nsalesforce_events = 0\n"
    )
    path = directory / "syncd.toml"
    path.write_text(
        database_url_line(directory / "state") + 'tenants_dir = "tenants"\nstate_dir = "state"\n'
    )
    return path


@pytest.fixture(scope="session")
def migrated_ledger(tmp_path_factory: pytest.TempPathFactory) -> Path:
    loaded = load_config(write_config(tmp_path_factory.mktemp("template")))
    upgrade(loaded.database_url)
    return loaded.settings.state_dir / "syncd.db"


@dataclass
class World:
    sandbox: RunningSandbox
    endpoint: SalesforceOrgEndpoint
    runtime: Runtime
    config: LoadedConfig

    @property
    def org(self) -> SalesforceOrg:
        return self.endpoint.org

    def now(self) -> datetime:
        return self.sandbox.clock.now()

    def advance(self, seconds: float) -> datetime:
        return self.sandbox.clock.advance(seconds)

    def service(self) -> SyncService:
        return self.runtime.sync_service(TENANT)

    def user_id(self, email: str) -> str:
        found = self.sandbox.directory.find_by_email(email)
        assert found is not None
        return found.id

    def outlook_event(self, mailbox: str, graph_id: str) -> StoredEvent:
        return self.sandbox.calendars.get(self.user_id(mailbox), graph_id)

    def calendar(self, mailbox: str) -> list[StoredEvent]:
        return self.sandbox.calendars.events(self.user_id(mailbox))

    def view(self, mailbox: str, start: datetime, end: datetime) -> list[StoredEvent]:
        return self.sandbox.calendars.between(self.user_id(mailbox), start, end)

    def graph_log(self, method: str | None = None, route: str | None = None) -> list[LoggedRequest]:
        return self.sandbox.counters.requests(method, route)

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

    def sf(self, event_id: str) -> dict[str, Any]:
        return self.org.record(event_id)


@pytest.fixture
def world(tmp_path: Path, migrated_ledger: Path) -> Iterator[World]:
    loaded = load_config(write_config(tmp_path / "config"))
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
        try:
            yield World(running, running.org(TENANT), runtime, loaded)
        finally:
            runtime.close()
