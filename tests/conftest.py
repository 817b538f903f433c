"""Shared fixtures: one sandbox Microsoft 365, a migrated ledger, a live API.

Everything runs over real HTTP(S) on 127.0.0.1 with the real client libraries.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from syncd.config import LoadedConfig, load_config
from syncd.ledger.db import upgrade
from syncd.runtime import Runtime, build_runtime, connection_of
from syncd.sandbox.server import RunningSandbox, SandboxTenantSpec, start_sandbox
from tests.support import SEED_MAILBOX, TENANTS, ThreadedServer, write_test_config

# Every secret minted during the run is recorded, and the session fails if any
# log line of any test holds one (see tests/security/log_scan.py).
# tests/scale_out/store_plugin.py: the SQLite and the PostgreSQL run of the suite.
# tests/graph_schema/plugin.py: every Graph body syncd sends and every event the sandbox
# returns is held to Microsoft's published v1.0 metadata.
pytest_plugins = [
    "tests.security.log_scan",
    "tests.scale_out.store_plugin",
    "tests.graph_schema.plugin",
]


@pytest.fixture(scope="session")
def sandbox(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningSandbox]:
    specs = [
        SandboxTenantSpec(name, domain, users, seed)
        for name, (domain, users, seed) in TENANTS.items()
    ]
    state_dir = tmp_path_factory.mktemp("sandbox")
    with start_sandbox(state_dir=state_dir, tenants=specs) as running:
        running.directory.add_user(running.tenant("seed").id, SEED_MAILBOX, "Seed Sample")
        yield running


@pytest.fixture(scope="session")
def config(tmp_path_factory: pytest.TempPathFactory) -> LoadedConfig:
    path = write_test_config(tmp_path_factory.mktemp("config"))
    loaded = load_config(path)
    upgrade(loaded.database_url)
    return loaded


@pytest.fixture(scope="session")
def runtime(config: LoadedConfig, sandbox: RunningSandbox) -> Iterator[Runtime]:
    built = build_runtime(config, sandbox=connection_of(sandbox, list(TENANTS)))
    yield built
    built.close()


@pytest.fixture
def fresh_sandbox(sandbox: RunningSandbox) -> Iterator[RunningSandbox]:
    """The shared sandbox with faults, counters and throttling back at defaults."""
    sandbox.reset()
    yield sandbox
    sandbox.reset()


@pytest.fixture(scope="session")
def api_url(runtime: Runtime) -> Iterator[str]:
    from syncd.api.app import create_app

    server = ThreadedServer(create_app(runtime))
    yield server.url
    server.stop()
