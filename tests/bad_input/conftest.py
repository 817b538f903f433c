"""Fixtures of the bad-input tests: one sandbox (Microsoft 365 + a Salesforce org) and a runtime.

The tenant "crm" has an empty Salesforce org (no demo Events): every Event in it
is one a test made, so what the sync did can be read off exactly.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import httpx
import pytest

from syncd.api import create_app
from syncd.config import load_config
from syncd.ledger.db import upgrade
from syncd.runtime import Runtime, build_runtime, connection_of
from syncd.sandbox.salesforce.org import SalesforceOrg
from syncd.sandbox.server import RunningSandbox, SandboxTenantSpec, start_sandbox
from tests.api.live import bearer_client
from tests.harness import SandboxTenant, write_config
from tests.support import ThreadedServer

TENANT = "crm"
DOMAIN = "northwind.example"
USERS = 12
SEED = 5


@dataclass
class Crm:
    """The running sandbox and runtime of tenant "crm"."""

    sandbox: RunningSandbox
    runtime: Runtime

    @property
    def org(self) -> SalesforceOrg:
        return self.sandbox.org(TENANT).org

    def mailboxes(self) -> list[str]:
        """In-org addresses that have an Exchange mailbox, in directory order."""
        return [u.email for u in self.sandbox.tenant(TENANT).users if u.has_mailbox]

    def without_mailbox(self) -> list[str]:
        """In-org Entra users without a mailbox (licence missing)."""
        return [u.email for u in self.sandbox.tenant(TENANT).users if not u.has_mailbox]

    def directory_id(self, email: str) -> str:
        user = next(u for u in self.sandbox.tenant(TENANT).users if u.email == email)
        return user.id


@pytest.fixture(scope="session")
def crm(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Crm]:
    tenant = SandboxTenant(TENANT, DOMAIN, seed=SEED, users=USERS, salesforce_events=0)
    config = load_config(write_config(tmp_path_factory.mktemp("bad-input-config"), tenant))
    upgrade(config.database_url)
    spec = SandboxTenantSpec(TENANT, DOMAIN, USERS, SEED, salesforce_events=0)
    state_dir = tmp_path_factory.mktemp("bad-input-sandbox")
    with start_sandbox(state_dir=state_dir, tenants=[spec]) as running:
        runtime = build_runtime(config, sandbox=connection_of(running, [TENANT]))
        try:
            yield Crm(running, runtime)
        finally:
            runtime.close()


@pytest.fixture(scope="session")
def api_url(crm: Crm) -> Iterator[str]:
    """The Scheduler API over the crm runtime (real core, sandbox Microsoft 365)."""
    server = ThreadedServer(create_app(crm.runtime))
    yield server.url
    server.stop()


@pytest.fixture(scope="session")
def api(crm: Crm, api_url: str) -> Iterator[httpx.Client]:
    """An HTTP client of the API holding a bearer token of tenant crm."""
    with bearer_client(crm.runtime, api_url, TENANT) as client:
        yield client
