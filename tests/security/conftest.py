"""Fixtures of the security tests: apps over a fake core and a real ledger, and a secret log.

Auth needs the ledger, the configuration and a clock, not Graph, so most tests
serve the app over the stand-in scheduler of tests/api/fakes.py (its calls show
whether, and in which tenant, a request reached the core). Two apps may share
one ledger, as two API processes or replicas do.

Every test of this directory runs with the root logger at DEBUG and a
SecretLog recording each secret minted and each log line
(test_zz_no_secret_in_logs.py checks them last).
"""

from __future__ import annotations

import itertools
import logging
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import Engine

from syncd.api import create_app
from syncd.auth.throttle import BruteForcePolicy
from syncd.config import TenantConfig, load_config
from syncd.ledger.db import upgrade
from syncd.runtime import Runtime, build_runtime, connection_of
from syncd.sandbox.salesforce.org import SalesforceOrg
from syncd.sandbox.server import RunningSandbox, SandboxTenantSpec, start_sandbox
from tests.api.fakes import (
    FakeRuntime,
    MutableClock,
    fake_runtime,
    migrate_template,
    migrated_copy,
    serve,
    tenant,
)

from .log_scan import SecretLog, active_for_session, session_log

MEETING = "/api/salesforce/scheduler/meeting"
AVAILABILITY = "/api/salesforce/scheduler/availability"
WINDOW = "from=2030-10-15T00:00:00Z&to=2030-10-16T00:00:00Z"


@dataclass
class Served:
    runtime: FakeRuntime
    clock: MutableClock
    url: str

    @property
    def engine(self) -> Engine:
        return self.runtime.engine

    def client(self) -> httpx.Client:
        return httpx.Client(base_url=self.url, timeout=10)


def two_tenants() -> tuple[TenantConfig, ...]:
    return (tenant("demo", "contoso.example"), tenant("acme", "fabrikam.example"))


@pytest.fixture(scope="session")
def security_ledger(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return migrate_template(tmp_path_factory.mktemp("security-ledger") / "template.db")


@pytest.fixture
def serve_app(security_ledger: Path, tmp_path: Path) -> Iterator[Callable[..., Served]]:
    """serve_app(*tenants, like=None, policy=None) -> Served.

    `like=served` serves a second app over the same ledger and clock (another process).
    """
    numbers = itertools.count()
    with ExitStack() as stack:

        def start(
            *tenants: TenantConfig,
            like: Served | None = None,
            policy: BruteForcePolicy | None = None,
        ) -> Served:
            if like is None:
                engine = migrated_copy(security_ledger, tmp_path / f"ledger-{next(numbers)}.db")
                stack.callback(engine.dispose)
                clock = MutableClock()
            else:
                engine, clock = like.engine, like.clock
            runtime = fake_runtime(engine, *(tenants or two_tenants()), clock=clock)
            url = stack.enter_context(serve(create_app(runtime, brute_force=policy)))
            return Served(runtime=runtime, clock=clock, url=url)

        yield start


@pytest.fixture
def served(serve_app: Callable[..., Served]) -> Served:
    return serve_app()


@pytest.fixture(scope="package", autouse=True)
def secret_log(request: pytest.FixtureRequest) -> Iterator[SecretLog]:
    """Secrets minted and log lines written while this directory's tests run (at DEBUG)."""
    if active_for_session(request.config):
        # The root conftest loaded log_scan as a plugin: it records the whole run.
        recorder = session_log()
        root = logging.getLogger()
        previous = root.level
        root.setLevel(logging.DEBUG)
        yield recorder
        root.setLevel(previous)
        return
    recorder = SecretLog()
    with recorder.recording(level=logging.DEBUG):
        yield recorder


def bearer(served: Served, tenant_name: str = "demo") -> str:
    """A fresh access token of an OAuth client of `tenant_name`."""
    from syncd.auth import create_client

    created = create_client(
        served.engine, tenant=tenant_name, method="oauth", master_key=b"", clock=served.clock
    )
    form = {
        "grant_type": "client_credentials",
        "client_id": created["client_id"],
        "client_secret": created["client_secret"],
    }
    answer = httpx.post(f"{served.url}/oauth/token", data=form, timeout=10)
    assert answer.status_code == 200, answer.text
    return str(answer.json()["access_token"])


def core_calls(served: Served) -> dict[str, list[Any]]:
    """Which tenant's core was called with what (name, argument, correlation id)."""
    return {name: list(s.calls) for name, s in served.runtime.schedulers.items()}


@dataclass
class Vault:
    """A sandbox (Microsoft 365 + Salesforce org) and a runtime for tenant "vault"."""

    sandbox: RunningSandbox
    runtime: Runtime

    @property
    def org(self) -> SalesforceOrg:
        return self.sandbox.org(VAULT).org

    def mailboxes(self) -> list[str]:
        return [u.email for u in self.sandbox.tenant(VAULT).users if u.has_mailbox]


VAULT = "vault"
VAULT_DOMAIN = "vault.example"


@pytest.fixture(scope="package")
def vault(tmp_path_factory: pytest.TempPathFactory, secret_log: SecretLog) -> Iterator[Vault]:
    directory = tmp_path_factory.mktemp("security-config")
    tenants = directory / "tenants"
    tenants.mkdir()
    (tenants / f"{VAULT}.toml").write_text(
        f'name = "{VAULT}"\nprovider = "sandbox"\nmail_domains = ["{VAULT_DOMAIN}"]\n'
        "[sandbox]\nseed = 11\nusers = 6\nsalesforce_events = 0\n"
    )
    (directory / "syncd.toml").write_text('tenants_dir = "tenants"\nstate_dir = "state"\n')
    config = load_config(directory / "syncd.toml")
    upgrade(config.database_url)
    spec = SandboxTenantSpec(VAULT, VAULT_DOMAIN, 6, 11, salesforce_events=0)
    with start_sandbox(state_dir=directory / "sandbox", tenants=[spec]) as running:
        runtime = build_runtime(config, sandbox=connection_of(running, [VAULT]))
        try:
            yield Vault(running, runtime)
        finally:
            runtime.close()
